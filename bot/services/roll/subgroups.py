"""Subgroups (§2.5): the roll split alphabetically, each with its own start."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import (
    Exam,
    Notice,
    NoticeStatus,
    Student,
    Subgroup,
    SubgroupMember,
    Teacher,
)
from bot.domain.reminders import NoticeKind, Planned, notice_key, stamp
from bot.domain.roll import (
    split_alphabetical,
    subgroup_starts,
)
from bot.services.outbox import Outbox
from bot.services.reminders import plan_exam, queue
from bot.services.roll.console import Outcome, own_exam


async def split(
    session: AsyncSession,
    teacher: Teacher | None,
    exam_id: int,
    *,
    parts: int,
    gap: timedelta,
    now: datetime,
    settings: Settings,
    order: list[int] | None = None,
    outbox: Outbox,
) -> tuple[Outcome, list[list[int]]]:
    """Splits the group (alphabetically, or in the order given) into `parts` subgroups
    starting `gap` apart within the exam's slot; students on an individual sitting keep it."""
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS, []
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED, []
    if exam.starts_at <= now:
        return Outcome.STARTED, []
    individual = {s.id for s in exam.subgroups if s.individual}
    on_their_own = set(
        await session.scalars(
            select(SubgroupMember.student_id).where(
                SubgroupMember.exam_id == exam.id, SubgroupMember.subgroup_id.in_(individual)
            )
        )
    )
    students = [
        (sid, name)
        for sid, name in await session.execute(
            select(Student.id, Student.full_name).where(Student.group_id == exam.group_id)
        )
        if sid not in on_their_own
    ]
    try:
        starts = subgroup_starts(
            exam.starts_at, timedelta(minutes=exam.duration_min), parts, gap=gap
        )
        if order is not None:
            known = {sid for sid, _ in students}
            ordered = [sid for sid in order if sid in known]
            ordered += [sid for sid, _ in students if sid not in set(ordered)]
            chunks = split_alphabetical([(sid, f"{i:06d}") for i, sid in enumerate(ordered)], parts)
        else:
            chunks = split_alphabetical(students, parts)
    except ValueError:
        return Outcome.INVALID, []
    for subgroup in [s for s in exam.subgroups if not s.individual]:
        await session.delete(subgroup)
    await session.flush()
    taken = {s.number for s in exam.subgroups if s.individual}
    number = 0
    created: list[tuple[Subgroup, list[int]]] = []
    for start, chunk in zip(starts, chunks, strict=True):
        number += 1
        while number in taken:
            number += 1
        subgroup = Subgroup(exam_id=exam.id, number=number, starts_at=start)
        session.add(subgroup)
        created.append((subgroup, chunk))
    await session.flush()
    for subgroup, chunk in created:
        session.add_all(
            SubgroupMember(exam_id=exam.id, subgroup_id=subgroup.id, student_id=s) for s in chunk
        )
    await session.flush()
    await plan_exam(session, exam.id, now, settings=settings, outbox=outbox)
    await _tell_subgroups(session, exam, created, now=now, outbox=outbox)
    await session.refresh(exam, ["subgroups"])
    return Outcome.OK, chunks


async def _tell_subgroups(
    session: AsyncSession,
    exam: Exam,
    created: Iterable[tuple[Subgroup, list[int]]],
    *,
    now: datetime,
    outbox: Outbox,
) -> None:
    chats: dict[int, int | None] = {
        sid: chat
        for sid, chat in await session.execute(
            select(Student.id, Student.user_id).where(Student.group_id == exam.group_id)
        )
    }
    # Whoever re-planning already told of the new time (a card had gone out) is not told twice.
    told = set(
        await session.scalars(
            select(Notice.student_id).where(
                Notice.exam_id == exam.id,
                Notice.kind == NoticeKind.TIME_CHANGED,
                Notice.created_at >= now - timedelta(seconds=1),
                Notice.status == NoticeStatus.PENDING,
            )
        )
    )
    items: list[tuple[Planned, int, int | None, int | None]] = []
    for subgroup, chunk in created:
        for student_id in chunk:
            chat = chats.get(student_id)
            if chat is None or student_id in told:
                continue
            planned = Planned(
                NoticeKind.SUBGROUP,
                notice_key(
                    NoticeKind.SUBGROUP,
                    exam.id,
                    student_id,
                    subgroup.number,
                    stamp(subgroup.starts_at),
                ),
                now,
                subgroup.starts_at,
                {"number": subgroup.number, "start": subgroup.starts_at.isoformat()},
            )
            items.append((planned, chat, chat, student_id))
    await queue(session, items, exam.id, outbox=outbox)
