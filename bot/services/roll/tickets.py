"""Tickets (§2.6): handed out by the last digit of the record book, at random, or as listed."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Exam,
    RollEntry,
    Student,
    Teacher,
)
from bot.domain.reminders import NoticeKind, Planned, notice_key
from bot.domain.roll import (
    MAX_TICKETS,
    Mark,
    TicketMethod,
    tickets_by_last_digit,
    tickets_random,
)
from bot.services.outbox import Outbox
from bot.services.reminders import queue
from bot.services.roll.console import Outcome, RollRules, _student_chat, _to, load_roll, own_exam


async def hand_out_tickets(
    session: AsyncSession,
    teacher: Teacher | None,
    exam_id: int,
    *,
    method: TicketMethod,
    tickets: int,
    now: datetime,
    rules: RollRules,
    listed: Mapping[int, int] | None = None,
    outbox: Outbox,
) -> tuple[Outcome, dict[int, int]]:
    """Each present student gets a ticket number in chat; only once per exam."""
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS, {}
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED, {}
    if exam.tickets_handed_at is not None:
        return Outcome.ALREADY, {}
    if not 1 <= tickets <= MAX_TICKETS:
        return Outcome.INVALID, {}
    view = await load_roll(session, exam, now, rules=rules)
    present = [x for x in view.lines if x.mark is Mark.PRESENT]
    if not present:
        return Outcome.NOBODY, {}
    seed = None
    if method is TicketMethod.LAST_DIGIT:
        try:
            assigned = tickets_by_last_digit(
                {x.student.id: x.student.record_book for x in present}, tickets
            )
        except ValueError:
            return Outcome.INVALID, {}
    elif method is TicketMethod.RANDOM:
        seed = secrets.randbelow(2**31)
        assigned = tickets_random([x.student.id for x in present], tickets, seed)
    else:
        assigned = {s: n for s, n in (listed or {}).items() if view.line(s) is not None}
        if not assigned:
            return Outcome.NOBODY, {}
    exam.ticket_method = method.value
    exam.ticket_count = tickets
    exam.ticket_seed = seed
    exam.tickets_handed_at = now
    items: list[tuple[Planned, int, int | None, int | None]] = []
    for line in view.lines:
        number = assigned.get(line.student.id)
        if number is None:
            continue
        line.entry.ticket = number
        if line.student.user_id is not None:
            items.append((_ticket_notice(exam.id, line.student.id, number, now=now), *_to(line)))
    await queue(session, items, exam.id, outbox=outbox)
    await session.flush()
    return Outcome.OK, assigned


def _ticket_notice(exam_id: int, student_id: int, number: int, *, now: datetime) -> Planned:
    return Planned(
        NoticeKind.TICKET,
        notice_key(NoticeKind.TICKET, exam_id, student_id, number),
        now,
        now + timedelta(hours=12),
        {"ticket": number, "student_id": student_id},
    )


async def _late_ticket(
    session: AsyncSession, exam: Exam, entry: RollEntry, *, now: datetime, outbox: Outbox
) -> None:
    """A student marked present after the hand-out: the last digit still decides; for a
    random draw the student gets the first ticket nobody holds (the same from the seed)."""
    tickets = exam.ticket_count or 0
    if exam.ticket_method == TicketMethod.LAST_DIGIT:
        book = await session.scalar(
            select(Student.record_book).where(Student.id == entry.student_id)
        )
        try:
            number = tickets_by_last_digit({entry.student_id: book or ""}, tickets)[
                entry.student_id
            ]
        except ValueError:
            return
    elif exam.ticket_method == TicketMethod.RANDOM:
        held = set(
            await session.scalars(
                select(RollEntry.ticket).where(
                    RollEntry.exam_id == exam.id, RollEntry.ticket.is_not(None)
                )
            )
        )
        free = [n for n in range(1, tickets + 1) if n not in held] or list(range(1, tickets + 1))
        number = free[(exam.ticket_seed or 0) % len(free)]
    else:
        return  # a list: the teacher hands this one out by voice
    entry.ticket = number
    chat = await _student_chat(session, entry.student_id)
    if chat is not None:
        await queue(
            session,
            [
                (
                    _ticket_notice(exam.id, entry.student_id, number, now=now),
                    chat,
                    chat,
                    entry.student_id,
                )
            ],
            exam.id,
            outbox=outbox,
        )
