"""Written work: the start, the reminders of time left, and the sheets handed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.db.models import (
    Exam,
    ExamWork,
    Notice,
    NoticeStatus,
    RollEntry,
    Student,
    Teacher,
)
from bot.domain.reminders import NoticeKind, Planned, notice_key
from bot.domain.roll import (
    Mark,
    effective_mark,
    time_left_reminders,
    written_window,
)
from bot.services.outbox import Outbox
from bot.services.reminders import queue
from bot.services.roll.console import (
    ALBUM_GATHER,
    KEEP,
    Outcome,
    RollRules,
    _student_chat,
    _to,
    load_roll,
    own_exam,
)
from bot.services.schedule import last_end


async def start_written(
    session: AsyncSession,
    teacher: Teacher | None,
    exam_id: int,
    *,
    minutes: int,
    now: datetime,
    rules: RollRules,
    outbox: Outbox,
) -> Outcome:
    """Starts the written work's clock: headings and deadline to every present student,
    time-left reminders, and the teacher's list of missing works at the deadline."""
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED
    if exam.written_started_at is not None:
        return Outcome.ALREADY
    if not 5 <= minutes <= 600:
        return Outcome.INVALID
    view = await load_roll(session, exam, now, rules=rules)
    present = [x for x in view.lines if x.mark is Mark.PRESENT]
    if not present:
        return Outcome.NOBODY
    exam.written_started_at = now
    exam.written_minutes = minutes
    _, accepted_until = written_window(now, timedelta(minutes=minutes), rules.written_grace)
    items: list[tuple[Planned, int, int | None, int | None]] = []
    for line in present:
        if line.student.user_id is None:
            continue
        items += [
            (planned, *_to(line))
            for planned in _student_notices(exam, line.student.id, now=now, rules=rules)
        ]
    teacher_chat = teacher.user_id if teacher is not None else None
    if teacher_chat is not None:
        items.append(
            (
                Planned(
                    NoticeKind.WRITTEN_MISSING,
                    notice_key(NoticeKind.WRITTEN_MISSING, exam.id),
                    accepted_until,
                    accepted_until + KEEP,
                    {"until": accepted_until.isoformat()},
                ),
                teacher_chat,
                teacher_chat,
                None,
            )
        )
    await queue(session, items, exam.id, outbox=outbox)
    await session.flush()
    return Outcome.OK


def _student_notices(
    exam: Exam, student_id: int, *, now: datetime, rules: RollRules
) -> list[Planned]:
    """A present student's notices of the written work running since
    `exam.written_started_at`: the headings and deadline (at once), then the reminders of
    time left still ahead of `now`."""
    assert exam.written_started_at is not None and exam.written_minutes
    started = exam.written_started_at
    duration = timedelta(minutes=exam.written_minutes)
    ends, accepted_until = written_window(started, duration, rules.written_grace)
    base = (exam.id, student_id)
    notices = [
        Planned(
            NoticeKind.WRITTEN_START,
            notice_key(NoticeKind.WRITTEN_START, *base),
            now,
            ends,
            {"ends": ends.isoformat(), "until": accepted_until.isoformat()},
        )
    ]
    for left, at in time_left_reminders(started, duration, rules.written_reminders):
        if at > now:
            notices.append(
                Planned(
                    NoticeKind.WRITTEN_LEFT,
                    notice_key(NoticeKind.WRITTEN_LEFT, *base, left),
                    at,
                    ends,
                    {"left": left, "ends": ends.isoformat()},
                )
            )
    return notices


async def late_written(
    session: AsyncSession,
    exam: Exam,
    entry: RollEntry,
    *,
    now: datetime,
    rules: RollRules,
    outbox: Outbox,
) -> None:
    """A student marked present once the written work's clock runs (late, or back from an
    outage) gets the headings, the deadline and the reminders still ahead, as the others
    did at the start; one already told is not told again (the notices' keys)."""
    if exam.written_started_at is None or not exam.written_minutes:
        return
    if now >= exam.written_started_at + timedelta(minutes=exam.written_minutes):
        return  # the time is up: nothing left to write
    chat = await _student_chat(session, entry.student_id)
    if chat is None:
        return
    notices = _student_notices(exam, entry.student_id, now=now, rules=rules)
    await queue(
        session, [(p, chat, chat, entry.student_id) for p in notices], exam.id, outbox=outbox
    )


class WorkOutcome(StrEnum):
    ACCEPTED = "accepted"
    TOO_LATE = "too_late"
    NOT_PRESENT = "not_present"
    NONE = "none"  # no exam of the student's is taking works now


@dataclass
class WorkResult:
    outcome: WorkOutcome
    exam: Exam | None = None
    due: datetime | None = None  # when works were due (too late)
    first: bool = True  # the first file of an album (the others are acknowledged with it)


async def accept_work(
    session: AsyncSession,
    student: Student,
    kind: str,
    *,
    file_id: str,
    file_unique_id: str,
    mime_type: str | None,
    size: int | None,
    media_group_id: str | None,
    now: datetime,
    rules: RollRules,
    outbox: Outbox,
) -> WorkResult:
    """A photo or PDF from a student outside any dialogue: written work while its clock
    runs (plus the grace), or an oral exam's preparation sheets on the exam day."""
    exams = list(
        await session.scalars(
            select(Exam)
            .where(
                Exam.group_id == student.group_id,
                Exam.cancelled_at.is_(None),
                Exam.kind == "exam",
                Exam.starts_at <= now,
                Exam.starts_at > now - timedelta(days=1),
            )
            .options(
                joinedload(Exam.discipline),
                joinedload(Exam.teacher),
                selectinload(Exam.subgroups),
            )
            .order_by(Exam.starts_at.desc())
        )
    )
    late: WorkResult | None = None
    absent: WorkResult | None = None
    for exam in exams:
        entry = await session.scalar(
            select(RollEntry).where(
                RollEntry.exam_id == exam.id, RollEntry.student_id == student.id
            )
        )
        mark = (
            effective_mark(Mark(entry.mark), entry.outage_since, now, wait=rules.outage_wait)
            if entry is not None
            else Mark.UNMARKED
        )
        if exam.written_started_at is not None and exam.written_minutes:
            _, until = written_window(
                exam.written_started_at,
                timedelta(minutes=exam.written_minutes),
                rules.written_grace,
            )
            purpose = "written"
        elif exam.form in ("oral", "combined"):
            until = last_end(exam) + rules.written_grace
            purpose = "preparation"
        else:
            continue
        if now > until:
            late = late or WorkResult(WorkOutcome.TOO_LATE, exam, until)
            continue
        if mark is not Mark.PRESENT:
            absent = absent or WorkResult(WorkOutcome.NOT_PRESENT, exam)
            continue
        return await _store_work(
            session,
            exam,
            student,
            purpose=purpose,
            kind=kind,
            file_id=file_id,
            file_unique_id=file_unique_id,
            mime_type=mime_type,
            size=size,
            media_group_id=media_group_id,
            now=now,
            outbox=outbox,
        )
    return late or absent or WorkResult(WorkOutcome.NONE)


async def _store_work(
    session: AsyncSession,
    exam: Exam,
    student: Student,
    *,
    purpose: str,
    kind: str,
    file_id: str,
    file_unique_id: str,
    mime_type: str | None,
    size: int | None,
    media_group_id: str | None,
    now: datetime,
    outbox: Outbox,
) -> WorkResult:
    first = True
    if media_group_id is not None:
        first = (
            await session.scalar(
                select(ExamWork.id)
                .where(
                    ExamWork.exam_id == exam.id,
                    ExamWork.student_id == student.id,
                    ExamWork.media_group_id == media_group_id,
                )
                .limit(1)
            )
            is None
        )
    work = ExamWork(
        exam_id=exam.id,
        student_id=student.id,
        purpose=purpose,
        kind=kind,
        file_id=file_id,
        file_unique_id=file_unique_id,
        mime_type=mime_type,
        size=size,
        media_group_id=media_group_id,
        received_at=now,
    )
    session.add(work)
    await session.flush()
    teacher_chat = exam.teacher.user_id if exam.teacher is not None else None
    if teacher_chat is not None:
        await _forward_to_teacher(
            session, exam, student, work=work, chat=teacher_chat, now=now, outbox=outbox
        )
    return WorkResult(WorkOutcome.ACCEPTED, exam, first=first)


async def _forward_to_teacher(
    session: AsyncSession,
    exam: Exam,
    student: Student,
    *,
    work: ExamWork,
    chat: int,
    now: datetime,
    outbox: Outbox,
) -> None:
    """An album's photos gather into one pending notice for a few seconds, so the teacher
    gets one labelled album, not a message per photo."""
    group = work.media_group_id or f"w{work.id}"
    key = notice_key(NoticeKind.WORK_RECEIVED, exam.id, student.id, group)
    pending = await session.scalar(select(Notice).where(Notice.key == key).with_for_update())
    if pending is not None and pending.status == NoticeStatus.PENDING:
        pending.payload = {
            **pending.payload,
            "works": [*pending.payload.get("works", []), work.id],
        }
        return
    if pending is not None:  # already on its way: a late photo of the album goes alone
        key = notice_key(NoticeKind.WORK_RECEIVED, exam.id, student.id, group, work.id)
    planned = Planned(
        NoticeKind.WORK_RECEIVED,
        key,
        now + ALBUM_GATHER if work.media_group_id else now,
        now + KEEP,
        {"works": [work.id], "student_id": student.id, "purpose": work.purpose},
    )
    await queue(session, [(planned, chat, chat, None)], exam.id, outbox=outbox)


async def handed_in(session: AsyncSession, exam_id: int) -> set[int]:
    return set(
        await session.scalars(
            select(ExamWork.student_id).where(
                ExamWork.exam_id == exam_id, ExamWork.purpose == "written"
            )
        )
    )
