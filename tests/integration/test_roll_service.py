"""Roll rules that need the database: an absence decision marks the roll; the roll's
own rules (double taps, grades only for the present, locking) hold on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Discipline, Exam, Group, RollEntry, Statement, Student, Teacher
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
from bot.services.statements import DecideOutcome, decide

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


async def tap_mark(
    session: AsyncSession,
    teacher: Teacher | None,
    exam: Exam,
    who: Student,
    action: MarkAction,
    *,
    now: datetime,
    by: int = 7,
) -> Outcome:
    """The teacher (Telegram user `by`) taps a mark on the exam's roll."""
    return await set_mark(
        session,
        teacher,
        by,
        exam_id=exam.id,
        student_id=who.id,
        action=action,
        now=now,
        rules=RollRules.of(SETTINGS),
        outbox=Outbox(),
    )


async def absences(
    session: AsyncSession, exam: Exam, *whos: Student, at: datetime, text: str = "болезнь"
) -> list[Statement]:
    """Each one's statement of absence from the exam (illness), submitted at `at`."""
    statements = [
        Statement(
            student_id=who.id,
            exam_id=exam.id,
            kind="absence",
            reason="illness",
            text=text,
            submitted_at=at,
        )
        for who in whos
    ]
    session.add_all(statements)
    await session.flush()
    return statements


async def dean_decides(
    session: AsyncSession,
    faculties: frozenset[int],
    statement: Statement,
    action: Decision,
    *,
    now: datetime,
    comment: str | None = None,
) -> DecideOutcome:
    """A dean of these faculties decides on the statement."""
    outcome, _decided = await decide(
        session,
        faculties,
        99,
        statement_id=statement.id,
        action=action,
        comment=comment,
        now=now,
        outbox=Outbox(),
    )
    return outcome


async def test_absence_decisions_mark_the_roll(session: AsyncSession, latin: Exam) -> None:
    teacher = await session.scalar(select(Teacher).where(Teacher.id == latin.teacher_id))
    ivanova, karimov, sokolova = [
        await student(session, s) for s in ("Иванова", "Каримов", "Соколова")
    ]
    statements = await absences(
        session, latin, ivanova, karimov, sokolova, at=LATIN_START - timedelta(days=1)
    )
    now = LATIN_START + timedelta(hours=1)
    # Соколова attended after all: a rejected statement must not undo that.
    assert (
        await tap_mark(session, teacher, latin, sokolova, MarkAction.PRESENT, now=now, by=1)
        is Outcome.OK
    )
    faculties = frozenset({latin.group.faculty_id})
    await dean_decides(session, faculties, statements[0], Decision.APPROVE, now=now)
    await dean_decides(
        session, faculties, statements[1], Decision.REJECT, now=now, comment="нет справки"
    )
    await dean_decides(session, faculties, statements[2], Decision.REJECT, now=now)
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
        return await tap_mark(session, teacher, latin, who, action, now=now)

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
        await tap_mark(session, other, latin, karimov, MarkAction.PRESENT, now=later, by=8)
        is Outcome.NOT_YOURS
    )


async def test_an_absence_approved_after_the_roll_is_confirmed_still_excuses(
    session: AsyncSession, latin: Exam
) -> None:
    """Documents may follow the exam by days: the teacher confirms the roll with Каримов
    absent, the dean approves his absence the next day; he is "absent, valid reason" and
    on the additional session's list. A rejected one leaves Соколова's "absent" as it is."""
    teacher = await session.scalar(select(Teacher).where(Teacher.id == latin.teacher_id))
    ivanova, karimov, sokolova = [
        await student(session, s) for s in ("Иванова", "Каримов", "Соколова")
    ]
    now = LATIN_START + timedelta(minutes=10)
    rules = RollRules.of(SETTINGS)
    for who, action in (
        (ivanova, MarkAction.PRESENT),
        (karimov, MarkAction.ABSENT),
        (sokolova, MarkAction.ABSENT),
    ):
        await tap_mark(session, teacher, latin, who, action, now=now)
    outcome, _view = await confirm_roll(
        session, teacher, 7, exam_id=latin.id, now=now, rules=rules, outbox=Outbox()
    )
    assert outcome is Outcome.OK
    next_day = LATIN_START + timedelta(days=1)
    statements = await absences(
        session, latin, karimov, sokolova, at=next_day, text="болезнь, справка"
    )
    faculties = frozenset({latin.group.faculty_id})
    for statement, decision in zip(statements, (Decision.APPROVE, Decision.REJECT), strict=True):
        result = await dean_decides(session, faculties, statement, decision, now=next_day)
        assert result is DecideOutcome.OK
    assert (await mark_of(session, latin, karimov)).mark == Mark.EXCUSED
    assert (await mark_of(session, latin, sokolova)).mark == Mark.ABSENT
    assert (await mark_of(session, latin, ivanova)).mark == Mark.PRESENT
    listed = await additional_session(session, faculties, next_day, rules=rules)
    assert [(s.student, s.mark) for s in listed] == [("Каримов Булат Айратович", Mark.EXCUSED)]


async def test_an_absence_from_a_consultation_is_no_additional_sitting(
    session: AsyncSession, latin: Exam
) -> None:
    """The additional session is for exams: Белов's approved absence from the anatomy
    consultation put him on its list, beside the exams missed for a valid reason."""
    belov = await student(session, "Белов")
    consultation = await session.scalar(
        select(Exam)
        .join(Discipline)
        .where(Discipline.name == "Анатомия", Exam.kind == "consultation")
    )
    assert consultation is not None
    [statement] = await absences(
        session, consultation, belov, at=consultation.starts_at - timedelta(days=1)
    )
    faculty = await session.scalar(select(Group.faculty_id).where(Group.id == belov.group_id))
    assert faculty is not None
    faculties = frozenset({faculty})
    outcome = await dean_decides(
        session, faculties, statement, Decision.APPROVE, now=consultation.starts_at
    )
    assert outcome is DecideOutcome.OK
    later = consultation.starts_at + timedelta(days=1)
    assert await additional_session(session, faculties, later, rules=RollRules.of(SETTINGS)) == []
