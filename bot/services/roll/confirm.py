"""Confirming the roll (it locks), unlocking it (an admin), and the exam for export."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.db.models import (
    MAX_ID,
    Exam,
    Group,
    Teacher,
)
from bot.domain.reminders import NoticeKind, Planned, notice_key, stamp
from bot.domain.roll import (
    Mark,
)
from bot.services.outbox import Outbox
from bot.services.reminders import deanery_recipients, queue
from bot.services.roll.console import KEEP, Outcome, RollRules, RollView, load_roll, own_exam


async def confirm_roll(
    session: AsyncSession,
    teacher: Teacher | None,
    by_user: int,
    *,
    exam_id: int,
    now: datetime,
    rules: RollRules,
    outbox: Outbox,
) -> tuple[Outcome, RollView | None]:
    """Locks the roll; the dean's office gets the no-shows without a valid reason."""
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS, None
    view = await load_roll(session, exam, now, rules=rules)
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED, view
    if view.counts.unmarked:
        return Outcome.UNMARKED, view
    if view.counts.outage:
        return Outcome.OUTAGE_RUNNING, view
    exam.roll_confirmed_at = now
    exam.roll_confirmed_by = by_user
    for line in view.lines:
        if line.mark is Mark.FAILURE and line.entry.mark != Mark.FAILURE:
            line.entry.mark = Mark.FAILURE.value  # the clock ran out: record it for good
    items: list[tuple[Planned, int, int | None, int | None]] = []
    for chat, user in await deanery_recipients(session, exam.group.faculty_id):
        planned = Planned(
            NoticeKind.NO_SHOWS,
            notice_key(NoticeKind.NO_SHOWS, exam.id, chat, stamp(now)),
            now,
            now + KEEP,
            {},
        )
        items.append((planned, chat, user, None))
    await queue(session, items, exam.id, outbox=outbox)
    await session.flush()
    return Outcome.OK, view


async def unlock_roll(session: AsyncSession, exam_id: int) -> bool:
    if not 0 < exam_id <= MAX_ID:  # typed by hand: no exam has it
        return False
    exam = await session.get(Exam, exam_id, with_for_update=True)
    if exam is None or exam.roll_confirmed_at is None:
        return False
    exam.roll_confirmed_at = None
    exam.roll_confirmed_by = None
    await session.flush()
    return True


async def exam_for_export(session: AsyncSession, exam_id: int) -> Exam | None:
    return (
        (
            await session.scalars(
                select(Exam)
                .where(Exam.id == exam_id)
                .options(
                    joinedload(Exam.discipline),
                    joinedload(Exam.group).joinedload(Group.faculty),
                    joinedload(Exam.teacher),
                    selectinload(Exam.subgroups),
                )
            )
        )
        .unique()
        .one_or_none()
    )
