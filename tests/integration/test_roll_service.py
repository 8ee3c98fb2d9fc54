"""Roll rules that need the database: an absence decision marks the roll; the roll's
own rules (double taps, grades only for the present, locking) hold on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Discipline, Exam, RollEntry, Statement, Student, Teacher
from bot.domain.roll import Grade, Mark
from bot.domain.statements import Decision
from bot.services.imports import import_roster, import_schedule
from bot.services.outbox import Outbox
from bot.services.roll import (
    MarkAction,
    Outcome,
    RollRules,
    RollView,
    additional_session,
    confirm_roll,
    load_roll,
    set_grade,
    set_mark,
)
from bot.services.statements import decide

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
SETTINGS = Settings(bot_token=None)
LATIN_START = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)


@pytest.fixture
async def latin(session: AsyncSession) -> Exam:
    await import_roster(session, "roster.csv", (SAMPLES / "roster.csv").read_bytes())
    await import_schedule(
        session, "schedule.csv", (SAMPLES / "schedule.csv").read_bytes(), tz=SETTINGS.tz
    )
    exam = await session.scalar(
        select(Exam).join(Discipline).where(Discipline.name == "Латинский язык")
    )
    assert exam is not None
    await session.commit()
    return exam


async def student(session: AsyncSession, surname: str) -> Student:
    found = await session.scalar(select(Student).where(Student.full_name.startswith(surname)))
    assert found is not None
    return found


async def mark_of(session: AsyncSession, exam: Exam, who: Student) -> RollEntry:
    entry = await session.scalar(
        select(RollEntry).where(RollEntry.exam_id == exam.id, RollEntry.student_id == who.id)
    )
    assert entry is not None
    return entry


async def test_absence_decisions_mark_the_roll(session: AsyncSession, latin: Exam) -> None:
    teacher = await session.scalar(select(Teacher).where(Teacher.id == latin.teacher_id))
    ivanova, karimov, sokolova = [
        await student(session, s) for s in ("Иванова", "Каримов", "Соколова")
    ]
    statements = [
        Statement(
            student_id=who.id,
            exam_id=latin.id,
            kind="absence",
            reason="illness",
            text="болезнь",
            submitted_at=LATIN_START - timedelta(days=1),
        )
        for who in (ivanova, karimov, sokolova)
    ]
    session.add_all(statements)
    await session.flush()
    now = LATIN_START + timedelta(hours=1)
    # Соколова attended after all: a rejected statement must not undo that.
    assert (
        await set_mark(
            session,
            teacher,
            1,
            exam_id=latin.id,
            student_id=sokolova.id,
            action=MarkAction.PRESENT,
            now=now,
            rules=RollRules.of(SETTINGS),
            outbox=Outbox(),
        )
        is Outcome.OK
    )
    faculties = frozenset({latin.group.faculty_id})
    await decide(
        session,
        faculties,
        99,
        statement_id=statements[0].id,
        action=Decision.APPROVE,
        comment=None,
        now=now,
        outbox=Outbox(),
    )
    await decide(
        session,
        faculties,
        99,
        statement_id=statements[1].id,
        action=Decision.REJECT,
        comment="нет справки",
        now=now,
        outbox=Outbox(),
    )
    await decide(
        session,
        faculties,
        99,
        statement_id=statements[2].id,
        action=Decision.REJECT,
        comment=None,
        now=now,
        outbox=Outbox(),
    )
    assert (await mark_of(session, latin, ivanova)).mark == Mark.EXCUSED
    assert (await mark_of(session, latin, karimov)).mark == Mark.ABSENT
    assert (await mark_of(session, latin, sokolova)).mark == Mark.PRESENT


async def test_grades_only_for_the_present_and_a_confirmed_roll_is_locked(
    session: AsyncSession, latin: Exam
) -> None:
    teacher = await session.scalar(select(Teacher).where(Teacher.id == latin.teacher_id))
    ivanova, karimov, sokolova = [
        await student(session, s) for s in ("Иванова", "Каримов", "Соколова")
    ]
    now = LATIN_START + timedelta(minutes=10)

    async def mark(who: Student, action: MarkAction) -> Outcome:
        return await set_mark(
            session,
            teacher,
            7,
            exam_id=latin.id,
            student_id=who.id,
            action=action,
            now=now,
            rules=RollRules.of(SETTINGS),
            outbox=Outbox(),
        )

    async def confirm(at: datetime) -> tuple[Outcome, RollView | None]:
        return await confirm_roll(
            session,
            teacher,
            7,
            exam_id=latin.id,
            now=at,
            rules=RollRules.of(SETTINGS),
            outbox=Outbox(),
        )

    assert await mark(ivanova, MarkAction.PRESENT) is Outcome.OK
    assert await mark(ivanova, MarkAction.PRESENT) is Outcome.ALREADY  # a double tap
    assert await mark(karimov, MarkAction.ABSENT) is Outcome.OK
    grade = await set_grade(
        session,
        teacher,
        7,
        exam_id=latin.id,
        student_id=karimov.id,
        grade=Grade.GOOD,
        now=now,
        rules=RollRules.of(SETTINGS),
        outbox=Outbox(),
    )
    assert grade is Outcome.NOT_PRESENT
    grade = await set_grade(
        session,
        teacher,
        7,
        exam_id=latin.id,
        student_id=ivanova.id,
        grade=Grade.PASSED,
        now=now,
        rules=RollRules.of(SETTINGS),
        outbox=Outbox(),
    )
    assert grade is Outcome.NOT_YOURS  # a pass/fail grade on a graded exam: forged
    grade = await set_grade(
        session,
        teacher,
        7,
        exam_id=latin.id,
        student_id=ivanova.id,
        grade=Grade.GOOD,
        now=now,
        rules=RollRules.of(SETTINGS),
        outbox=Outbox(),
    )
    assert grade is Outcome.OK
    outcome, _view = await confirm(now)
    assert outcome is Outcome.UNMARKED  # Соколова
    assert await mark(sokolova, MarkAction.OUTAGE) is Outcome.OK
    outcome, _view = await confirm(now)
    assert outcome is Outcome.OUTAGE_RUNNING
    later = now + SETTINGS.outage_wait
    outcome, view = await confirm(later)
    assert outcome is Outcome.OK and view is not None
    assert {x.student.id: x.mark for x in view.lines}[sokolova.id] is Mark.FAILURE
    assert (await mark_of(session, latin, sokolova)).mark == Mark.FAILURE  # stored for good
    assert await mark(karimov, MarkAction.PRESENT) is Outcome.LOCKED
    other = Teacher(full_name="Чужой Преподаватель")
    session.add(other)
    await session.flush()
    view = await load_roll(session, latin, later, rules=RollRules.of(SETTINGS))
    assert view.counts.present == 1 and view.counts.absent == 1 and view.counts.excused == 1
    assert (
        await set_mark(
            session,
            other,
            8,
            exam_id=latin.id,
            student_id=karimov.id,
            action=MarkAction.PRESENT,
            now=later,
            rules=RollRules.of(SETTINGS),
            outbox=Outbox(),
        )
        is Outcome.NOT_YOURS
    )


async def test_an_absence_approved_after_the_roll_is_confirmed_still_excuses(
    session: AsyncSession, latin: Exam
) -> None:
    # Documents may come days after the exam, long after the teacher confirmed the roll:
    # the dean's approval must still make it "absent, valid reason" (the additional session).
    teacher = await session.scalar(select(Teacher).where(Teacher.id == latin.teacher_id))
    who = [await student(session, s) for s in ("Иванова", "Каримов", "Соколова")]
    now = LATIN_START + timedelta(minutes=10)
    rules = RollRules.of(SETTINGS)
    for one, action in zip(
        who, (MarkAction.PRESENT, MarkAction.ABSENT, MarkAction.ABSENT), strict=True
    ):
        assert (
            await set_mark(
                session,
                teacher,
                7,
                exam_id=latin.id,
                student_id=one.id,
                action=action,
                now=now,
                rules=rules,
                outbox=Outbox(),
            )
            is Outcome.OK
        )
    outcome, _view = await confirm_roll(
        session, teacher, 7, exam_id=latin.id, now=now, rules=rules, outbox=Outbox()
    )
    assert outcome is Outcome.OK
    statements = [
        Statement(
            student_id=one.id,
            exam_id=latin.id,
            kind="absence",
            reason="illness",
            text="болезнь",
            submitted_at=now,
        )
        for one in who[1:]
    ]
    session.add_all(statements)
    await session.flush()
    later = now + timedelta(days=2)
    for statement, decision in zip(statements, (Decision.APPROVE, Decision.REJECT), strict=True):
        await decide(
            session,
            frozenset({latin.group.faculty_id}),
            99,
            statement_id=statement.id,
            action=decision,
            comment=None,
            now=later,
            outbox=Outbox(),
        )
    assert (await mark_of(session, latin, who[1])).mark == Mark.EXCUSED
    assert (await mark_of(session, latin, who[2])).mark == Mark.ABSENT
    listed = await additional_session(session, None, later, rules=rules)
    assert [(x.student, x.mark) for x in listed] == [(who[1].full_name, Mark.EXCUSED)]
