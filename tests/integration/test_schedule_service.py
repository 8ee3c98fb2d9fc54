"""Students' and teachers' schedules and teachers' links, against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Discipline,
    EventKind,
    Exam,
    Group,
    Student,
    Subgroup,
    SubgroupMember,
    Teacher,
)
from bot.services.imports import import_roster, import_schedule
from bot.services.schedule import (
    LinkField,
    LinkOutcome,
    ScheduleItem,
    set_exam_link,
    student_schedule,
    teacher_exams,
)

UTC_ZONE = ZoneInfo("UTC")  # the schedule below is written in UTC to keep the sums plain
SMIRNOVA = "Смирнова Елена Викторовна"
ZAKIROV = "Закиров Ильдар Рустемович"

ROSTER = """faculty,group,full_name,record_book
Лечебный факультет,1101,Белов Артём Сергеевич,1001
Лечебный факультет,1101,Гарипов Тимур Ильдарович,1002
Лечебный факультет,1102,Иванова Мария Олеговна,2001
"""
# Rows deliberately not in time order.
SCHEDULE = f"""faculty,group,discipline,kind,form,date,start,duration_min,teacher,link,moodle_url
Лечебный факультет,1101,Анатомия,exam,combined,2027-01-12,09:00,240,{SMIRNOVA},,
Лечебный факультет,1101,Химия,exam,test,2027-01-10,10:00,60,{ZAKIROV},https://a.example.com/x,
Лечебный факультет,1101,Анатомия,consultation,oral,2027-01-11,14:00,90,{SMIRNOVA},,
Лечебный факультет,1102,Гистология,exam,test,2027-01-09,10:00,60,{SMIRNOVA},,
Лечебный факультет,1102,Химия,exam,test,2027-01-13,10:00,60,,,
"""
BEFORE = datetime(2027, 1, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
async def db(session: AsyncSession) -> AsyncSession:
    assert (await import_roster(session, "roster.csv", ROSTER.encode())).ok
    assert (await import_schedule(session, "schedule.csv", SCHEDULE.encode(), tz=UTC_ZONE)).ok
    await session.commit()
    return session


async def student(session: AsyncSession, record_book: str) -> Student:
    found = await session.scalar(select(Student).where(Student.record_book == record_book))
    assert found is not None
    return found


async def teacher(session: AsyncSession, full_name: str) -> Teacher:
    found = await session.scalar(select(Teacher).where(Teacher.full_name == full_name))
    assert found is not None
    return found


async def exam_id(session: AsyncSession, group: str, discipline: str, kind: EventKind) -> int:
    found = await session.scalar(
        select(Exam.id)
        .join(Group, Group.id == Exam.group_id)
        .join(Discipline, Discipline.id == Exam.discipline_id)
        .where(Group.name == group, Discipline.name == discipline, Exam.kind == kind)
    )
    assert found is not None
    return found


async def split(session: AsyncSession, exam: int, number: int, starts_at: datetime) -> Subgroup:
    subgroup = Subgroup(exam_id=exam, number=number, starts_at=starts_at)
    session.add(subgroup)
    await session.flush()
    return subgroup


def summary(items: list[ScheduleItem]) -> list[tuple[str, str, datetime, int | None]]:
    return [(i.exam.discipline.name, i.exam.kind, i.starts_at, i.subgroup) for i in items]


# --- student_schedule ------------------------------------------------------------------


async def test_student_sees_own_group_soonest_first(db: AsyncSession) -> None:
    items = await student_schedule(db, await student(db, "1001"), BEFORE)
    assert summary(items) == [
        ("Химия", "exam", at(10, 10), None),
        ("Анатомия", "consultation", at(11, 14), None),
        ("Анатомия", "exam", at(12, 9), None),
    ]
    assert all(i.exam.group.name == "1101" for i in items)
    assert items[0].exam.teacher is not None and items[0].exam.teacher.full_name == ZAKIROV
    assert items[0].exam.link == "https://a.example.com/x"
    assert items[0].ends_at == at(10, 11)

    other_group = await student_schedule(db, await student(db, "2001"), BEFORE)
    assert summary(other_group) == [
        ("Гистология", "exam", at(9, 10), None),
        ("Химия", "exam", at(13, 10), None),
    ]


async def test_exam_disappears_exactly_at_its_end(db: AsyncSession) -> None:
    belov = await student(db, "1001")
    end = at(10, 11)  # Химия: 10:00 + 60 min

    running = await student_schedule(db, belov, end - timedelta(seconds=1))
    assert [i.exam.discipline.name for i in running] == ["Химия", "Анатомия", "Анатомия"]

    over = await student_schedule(db, belov, end)
    assert summary(over) == [
        ("Анатомия", "consultation", at(11, 14), None),
        ("Анатомия", "exam", at(12, 9), None),
    ]
    assert await student_schedule(db, belov, at(12, 13)) == []


async def test_subgroup_start_is_the_students_own(db: AsyncSession) -> None:
    chemistry = await exam_id(db, "1101", "Химия", EventKind.EXAM)
    await split(db, chemistry, 1, at(10, 10))
    second = await split(db, chemistry, 2, at(11, 16))  # after the consultation's start
    belov = await student(db, "1001")
    db.add(SubgroupMember(exam_id=chemistry, subgroup_id=second.id, student_id=belov.id))
    await db.commit()

    assert summary(await student_schedule(db, belov, BEFORE)) == [
        ("Анатомия", "consultation", at(11, 14), None),
        ("Химия", "exam", at(11, 16), 2),
        ("Анатомия", "exam", at(12, 9), None),
    ]
    # A classmate outside the subgroups keeps the exam's own start.
    garipov = await student(db, "1002")
    assert summary(await student_schedule(db, garipov, BEFORE))[0] == (
        "Химия",
        "exam",
        at(10, 10),
        None,
    )


async def test_subgroup_exam_stays_until_the_subgroup_ends(db: AsyncSession) -> None:
    chemistry = await exam_id(db, "1101", "Химия", EventKind.EXAM)
    second = await split(db, chemistry, 2, at(11, 16))
    belov = await student(db, "1001")
    db.add(SubgroupMember(exam_id=chemistry, subgroup_id=second.id, student_id=belov.id))
    await db.commit()

    # Subgroup 2 sits the exam 16:00–17:00 on the 11th; at 16:30 it is still on.
    items = await student_schedule(db, belov, at(11, 16, 30))
    assert ("Химия", "exam", at(11, 16), 2) in summary(items)
    assert items[0].ends_at == at(11, 17)


# --- teacher_exams ---------------------------------------------------------------------


async def test_teacher_keeps_a_split_exam_until_the_last_subgroup_ends(
    db: AsyncSession,
) -> None:
    chemistry = await exam_id(db, "1101", "Химия", EventKind.EXAM)
    await split(db, chemistry, 2, at(11, 16))
    await db.commit()
    zakirov = await teacher(db, ZAKIROV)
    assert [e.id for e in await teacher_exams(db, zakirov, at(11, 16, 59))] == [chemistry]
    # Over, but the roll is still open: it stays for the teacher to finish it.
    assert [e.id for e in await teacher_exams(db, zakirov, at(11, 17))] == [chemistry]
    confirmed = await db.get(Exam, chemistry)
    assert confirmed is not None
    confirmed.roll_confirmed_at = at(11, 17)
    await db.flush()
    assert await teacher_exams(db, zakirov, at(11, 17)) == []


async def test_teacher_sees_only_own_upcoming_exams(db: AsyncSession) -> None:
    smirnova = await teacher(db, SMIRNOVA)
    exams = await teacher_exams(db, smirnova, BEFORE)
    assert [(e.group.name, e.discipline.name, e.kind) for e in exams] == [
        ("1102", "Гистология", "exam"),
        ("1101", "Анатомия", "consultation"),
        ("1101", "Анатомия", "exam"),
    ]
    assert all(e.teacher_id == smirnova.id for e in exams)

    # Гистология (09.01 10:00, 60 min) is over at 11:00, but stays while its roll is
    # open, for a week at most.
    assert len(await teacher_exams(db, smirnova, at(9, 11))) == 3
    later = await teacher_exams(db, smirnova, at(9, 10) + timedelta(days=7))
    assert "Гистология" not in [e.discipline.name for e in later]

    zakirov = await teacher(db, ZAKIROV)
    assert [e.discipline.name for e in await teacher_exams(db, zakirov, BEFORE)] == ["Химия"]


async def test_teacher_without_exams(db: AsyncSession) -> None:
    nobody = Teacher(full_name="Новиков Олег")
    db.add(nobody)
    await db.flush()
    assert await teacher_exams(db, nobody, BEFORE) == []


# --- set_exam_link ---------------------------------------------------------------------


async def stored_links(session: AsyncSession, exam: int) -> tuple[str | None, str | None]:
    row = (await session.execute(select(Exam.link, Exam.moodle_url).where(Exam.id == exam))).one()
    return row.link, row.moodle_url


async def test_link_refused_for_someone_elses_exam(db: AsyncSession) -> None:
    chemistry = await exam_id(db, "1101", "Химия", EventKind.EXAM)  # Закиров's
    smirnova = await teacher(db, SMIRNOVA)
    for who in (smirnova, None):
        outcome, exam = await set_exam_link(
            db, who, chemistry, field=LinkField.CONFERENCE, text="https://evil.example.com/"
        )
        assert outcome is LinkOutcome.FORBIDDEN
        assert exam is None
    # An exam nobody teaches, and one that does not exist, are refused too.
    orphan = await exam_id(db, "1102", "Химия", EventKind.EXAM)
    for target in (orphan, 10_000):
        outcome, _ = await set_exam_link(
            db, smirnova, target, field=LinkField.MOODLE, text="https://m.example.com/"
        )
        assert outcome is LinkOutcome.FORBIDDEN
    await db.commit()
    assert await stored_links(db, chemistry) == ("https://a.example.com/x", None)
    assert await stored_links(db, orphan) == (None, None)


async def test_invalid_link_changes_nothing(db: AsyncSession) -> None:
    chemistry = await exam_id(db, "1101", "Химия", EventKind.EXAM)
    zakirov = await teacher(db, ZAKIROV)
    for field in LinkField:
        for text in ("ftp://x", "not a link", "", "https://", "http://host/"):
            outcome, exam = await set_exam_link(db, zakirov, chemistry, field=field, text=text)
            assert outcome is LinkOutcome.INVALID, (field, text)
            assert exam is not None and exam.id == chemistry
    await db.commit()
    assert await stored_links(db, chemistry) == ("https://a.example.com/x", None)


async def test_teacher_saves_conference_and_moodle_links(db: AsyncSession) -> None:
    chemistry = await exam_id(db, "1101", "Химия", EventKind.EXAM)
    zakirov = await teacher(db, ZAKIROV)

    outcome, exam = await set_exam_link(
        db,
        zakirov,
        chemistry,
        field=LinkField.CONFERENCE,
        text="  https://meet.example.com/room?id=7 \n",
    )
    assert outcome is LinkOutcome.OK
    assert exam is not None and exam.link == "https://meet.example.com/room?id=7"
    await db.commit()
    assert await stored_links(db, chemistry) == ("https://meet.example.com/room?id=7", None)

    outcome, _ = await set_exam_link(
        db,
        zakirov,
        chemistry,
        field=LinkField.MOODLE,
        text="http://moodle.example.com/course/view.php?id=3",
    )
    assert outcome is LinkOutcome.OK
    await db.commit()
    assert await stored_links(db, chemistry) == (
        "https://meet.example.com/room?id=7",
        "http://moodle.example.com/course/view.php?id=3",
    )
