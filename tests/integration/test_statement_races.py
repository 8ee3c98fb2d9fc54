"""A student withdrawing a statement at the moment the dean's office decides it: one of the
two wins whole. The withdrawal waited for nothing and overwrote an approval whose effects
(the roll marked, the student and the teacher told) had already happened."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.config import Settings
from bot.db.engine import create_sessionmaker
from bot.db.models import Discipline, Exam, Group, Statement, Student
from bot.domain.statements import Decision, StatementStatus
from bot.middlewares.unit_of_work import UNCLAIMED
from bot.services.imports import import_roster, import_schedule
from bot.services.outbox import Outbox
from bot.services.statements import DecideOutcome, decide, withdraw

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
SETTINGS = Settings(bot_token=None)
NOW = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)


async def filed_absence(session: AsyncSession) -> tuple[Statement, Student, int]:
    await import_roster(session, "roster.csv", (SAMPLES / "roster.csv").read_bytes())
    await import_schedule(
        session, "schedule.csv", (SAMPLES / "schedule.csv").read_bytes(), tz=SETTINGS.tz
    )
    exam = await session.scalar(
        select(Exam).join(Discipline).where(Discipline.name == "Латинский язык")
    )
    who = await session.scalar(select(Student).where(Student.full_name.startswith("Каримов")))
    assert exam is not None and who is not None
    statement = Statement(
        student_id=who.id,
        exam_id=exam.id,
        kind="absence",
        reason="illness",
        text="болезнь & «справка» <позже>",
        submitted_at=NOW,
    )
    session.add(statement)
    faculty = await session.scalar(select(Group.faculty_id).where(Group.id == exam.group_id))
    assert faculty is not None
    await session.commit()
    return statement, who, faculty


async def test_a_withdrawal_waits_for_a_decision_in_progress_and_loses_to_it(
    engine: AsyncEngine,
) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as setup:
        statement, who, faculty = await filed_absence(setup)
    async with sessions() as dean, sessions() as student:
        # Each is an update's session, as the unit of work opens it: on SQLite, which has
        # no row locks, a locking read takes the database's write lock (by writing the
        # update's row first).
        dean.info[UNCLAIMED], student.info[UNCLAIMED] = 1, 2
        outcome, _decided = await decide(
            dean,
            frozenset({faculty}),
            99,
            statement_id=statement.id,
            action=Decision.APPROVE,
            comment=None,
            now=NOW,
            outbox=Outbox(),
        )
        assert outcome is DecideOutcome.OK

        async def withdrawing() -> Statement | None:
            mine = await student.get(Student, who.id)
            withdrawn = await withdraw(student, mine, statement.id, now=NOW)
            await student.commit()
            return withdrawn

        racing = asyncio.create_task(withdrawing())
        await asyncio.sleep(0.3)  # the withdrawal has reached the database by now
        await dean.commit()
        assert await asyncio.wait_for(racing, 10) is None  # "already decided"
    async with sessions() as check:
        final = await check.get(Statement, statement.id)
        assert final is not None and final.status == StatementStatus.APPROVED
