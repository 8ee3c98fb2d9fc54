"""Announcements: a dean (own faculty) or an admin (any) writes to a group, a faculty or
the students of one exam. Checked on the server (a forged target fails), sent through the
outbox (rate limits, once per student), with progress counted from the outbox."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.db.models import Announcement, Exam, Faculty, Group, Notice, NoticeStatus, Student, User
from bot.domain.announcements import Target as Target  # re-exported: the audience's kinds
from bot.domain.reminders import NoticeKind, Planned, notice_key, notice_key_prefix
from bot.services.outbox import Outbox
from bot.services.reminders import queue

MAX_TEXT = 3500  # a message, with the header, stays one Telegram message
KEEP = timedelta(days=3)  # an announcement not delivered in three days is stale


class AnnounceOutcome(StrEnum):
    OK = "ok"
    EMPTY = "empty"  # no text and no file
    TOO_LONG = "too_long"
    FORBIDDEN = "forbidden"  # not the author's faculty, or no such target
    NOBODY = "nobody"  # nobody there has linked their account


@dataclass(frozen=True)
class Audience:
    label: str
    users: list[tuple[int, int]]  # (student id, telegram user id)


async def audience(
    session: AsyncSession, target: Target, target_id: int, *, faculty_ids: frozenset[int] | None
) -> Audience | None:
    """Who would get it; None if the target does not exist or is not the author's."""
    students = (
        select(Student.id, Student.user_id)
        .join(User, User.id == Student.user_id)
        .where(User.is_active.is_(True))
    )
    if target is Target.FACULTY:
        faculty = await session.get(Faculty, target_id)
        if faculty is None or (faculty_ids is not None and faculty.id not in faculty_ids):
            return None
        label = faculty.name
        groups = select(Group.id).where(Group.faculty_id == faculty.id)
        students = students.where(Student.group_id.in_(groups))
    elif target is Target.GROUP:
        group = await session.get(Group, target_id, options=[joinedload(Group.faculty)])
        if group is None or (faculty_ids is not None and group.faculty_id not in faculty_ids):
            return None
        label = f"{group.name} ({group.faculty.name})"
        students = students.where(Student.group_id == group.id)
    else:
        exam = await session.get(
            Exam, target_id, options=[joinedload(Exam.group), joinedload(Exam.discipline)]
        )
        if exam is None or (faculty_ids is not None and exam.group.faculty_id not in faculty_ids):
            return None
        label = f"{exam.discipline.name}, {exam.group.name}"
        students = students.where(Student.group_id == exam.group_id)
    rows = await session.execute(students.order_by(Student.id))
    return Audience(label, [(sid, uid) for sid, uid in rows if uid is not None])


async def announce(
    session: AsyncSession,
    author_id: int,
    faculty_ids: frozenset[int] | None,
    *,
    target: Target,
    target_id: int,
    text: str,
    file_kind: str | None,
    file_id: str | None,
    now: datetime,
    outbox: Outbox,
) -> tuple[AnnounceOutcome, Announcement | None]:
    text = text.strip()
    if not text and not file_id:
        return AnnounceOutcome.EMPTY, None
    if len(text) > MAX_TEXT:
        return AnnounceOutcome.TOO_LONG, None
    who = await audience(session, target, target_id, faculty_ids=faculty_ids)
    if who is None:
        return AnnounceOutcome.FORBIDDEN, None
    if not who.users:
        return AnnounceOutcome.NOBODY, None
    announcement = Announcement(
        author_id=author_id,
        target=target.value,
        target_id=target_id,
        text=text,
        file_kind=file_kind,
        file_id=file_id,
        recipients=len(who.users),
        created_at=now,
    )
    session.add(announcement)
    await session.flush()
    items = [
        (
            Planned(
                NoticeKind.ANNOUNCEMENT,
                notice_key(NoticeKind.ANNOUNCEMENT, announcement.id, user_id),
                now,
                now + KEEP,
                {"announcement": announcement.id},
            ),
            user_id,
            user_id,
            student_id,
        )
        for student_id, user_id in who.users
    ]
    await queue(session, items, None, outbox=outbox)
    return AnnounceOutcome.OK, announcement


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    pending: int
    blocked: int  # the student blocked the bot (or it failed for good)
    dropped: int

    @property
    def done(self) -> bool:
        return self.pending == 0


async def progress(session: AsyncSession, announcement: Announcement) -> Progress:
    rows = await session.execute(
        select(Notice.status, func.count())
        .where(
            Notice.kind == NoticeKind.ANNOUNCEMENT,
            Notice.key.startswith(notice_key_prefix(NoticeKind.ANNOUNCEMENT, announcement.id)),
        )
        .group_by(Notice.status)
    )
    counts: Counter[str] = Counter({status: n for status, n in rows})
    return Progress(
        total=announcement.recipients,
        sent=counts[NoticeStatus.SENT],
        pending=counts[NoticeStatus.PENDING] + counts[NoticeStatus.CLAIMED],
        blocked=counts[NoticeStatus.FAILED],
        dropped=counts[NoticeStatus.DROPPED] + counts[NoticeStatus.CANCELLED],
    )


async def show_progress_in(
    session: AsyncSession, announcement_id: int, chat_id: int, *, message_id: int
) -> None:
    """The message that shows the announcement's progress (edited as it goes out)."""
    await session.execute(
        update(Announcement)
        .where(Announcement.id == announcement_id)
        .values(progress_chat_id=chat_id, progress_message_id=message_id)
    )


async def unfinished(session: AsyncSession) -> list[Announcement]:
    return list(
        await session.scalars(
            select(Announcement).where(
                Announcement.finished_at.is_(None), Announcement.progress_message_id.is_not(None)
            )
        )
    )


async def targets(
    session: AsyncSession, faculty_ids: frozenset[int] | None, now: datetime
) -> tuple[list[Faculty], list[Group], list[Exam]]:
    """What the author may address: faculties, their groups, and exams of the next two
    weeks (or of the past day)."""
    faculties = select(Faculty).order_by(Faculty.name)
    groups = select(Group).options(joinedload(Group.faculty)).order_by(Group.name)
    exams = (
        select(Exam)
        .join(Group, Group.id == Exam.group_id)
        .options(joinedload(Exam.group), joinedload(Exam.discipline))
        .where(
            Exam.cancelled_at.is_(None),
            Exam.kind == "exam",
            Exam.starts_at > now - timedelta(days=1),
            Exam.starts_at < now + timedelta(days=14),
        )
        .order_by(Exam.starts_at)
    )
    if faculty_ids is not None:
        faculties = faculties.where(Faculty.id.in_(faculty_ids))
        groups = groups.where(Group.faculty_id.in_(faculty_ids))
        exams = exams.where(Group.faculty_id.in_(faculty_ids))
    return (
        list(await session.scalars(faculties)),
        list((await session.scalars(groups)).unique()),
        list((await session.scalars(exams)).unique()),
    )
