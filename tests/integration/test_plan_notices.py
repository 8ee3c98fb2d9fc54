"""Planning the outbox: in bulk as exam by exam, and from several processes at once
(replicas on one PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.config import Settings
from bot.db.engine import create_sessionmaker
from bot.db.models import (
    DeaneryChat,
    DeanMember,
    Exam,
    Faculty,
    Notice,
    NoticeStatus,
    Student,
    Subgroup,
    SubgroupMember,
    Teacher,
    User,
)
from bot.i18n import Catalogs
from bot.services import reminders
from bot.services.imports import import_roster, import_schedule
from bot.services.outbox import Outbox
from bot.services.reminders import (
    PlanReport,
    plan_after_import,
    plan_exam,
    plan_exams,
    plan_exams_bulk,
    plan_upcoming,
)
from bot.views.texts import plan_warning_text

ROSTER = """faculty,group,full_name,record_book
Лечебный факультет,1101,Белов Артём Сергеевич,1001
Лечебный факультет,1101,Гарипов Тимур Ильдарович,1002
"""
SCHEDULE = """faculty,group,discipline,kind,form,date,start,duration_min,teacher,link
Лечебный факультет,1101,Химия,exam,test,2027-01-10,10:00,60,,https://a.example.com/x
Лечебный факультет,1101,Химия,consultation,oral,2027-01-09,10:00,60,,https://a.example.com/y
"""
NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # several processes
async def test_replicas_planning_the_same_notices_at_once_keep_each_once(
    engine: AsyncEngine,
) -> None:
    sessionmaker = create_sessionmaker(engine)
    settings = Settings(_env_file=None)
    async with sessionmaker.begin() as session:
        assert (await import_roster(session, "roster.csv", ROSTER.encode())).ok
        assert (await import_schedule(session, "s.csv", SCHEDULE.encode(), tz=ZoneInfo("UTC"))).ok
        for n, student in enumerate(await session.scalars(select(Student))):
            session.add(User(id=700 + n, first_name="S", locale="en"))
            await session.flush()
            student.user_id = 700 + n

    async def start_up() -> int:
        # What each replica does at start: both find the same notices missing.
        async with sessionmaker.begin() as session:
            return (await plan_upcoming(session, NOW, settings, outbox=Outbox())).created

    created = await asyncio.gather(start_up(), start_up())

    async with sessionmaker() as session:
        stored = await session.scalar(select(func.count()).select_from(Notice))
    # One replica planned them all, the other found them planned: none failed, none twice.
    assert stored == 6  # the exam's card and join call, the consultation's call, for each
    assert sorted(created) == [0, 6]


# Three groups of two faculties, several exams each: with and without a link, a teacher
# in the bot or not, a deanery chat for one faculty and a dean for the other.
BULK_ROSTER = "faculty,group,full_name,record_book\n" + "".join(
    f'{faculty},{group},Студент{n} <мл.> & O\'Нил "Иван",{2000 + 10 * g + n}\n'
    for g, (faculty, group) in enumerate(
        [("Лечебный факультет", "1101"), ("Лечебный факультет", "1102"), ("Педиатрия", "2101")]
    )
    for n in range(4)
)
BULK_SCHEDULE = (
    "faculty,group,discipline,kind,form,date,start,duration_min,teacher,link\n"
    + "".join(
        f"{faculty},{group},{discipline},{kind},oral,{day},10:00,90,{teacher},{link}\n"
        for faculty, group in [
            ("Лечебный факультет", "1101"),
            ("Лечебный факультет", "1102"),
            ("Педиатрия", "2101"),
        ]
        for discipline, kind, day, teacher, link in [
            ("Химия", "exam", "2027-01-10", "Петров Пётр", "https://a.example.com/x"),
            ("Химия", "consultation", "2027-01-09", "Петров Пётр", ""),
            ("Анатомия & <физиология>", "exam", "2027-01-01", "Сидорова Анна", ""),
            ("Латынь", "exam", "2027-01-20", "Сидорова Анна", ""),
            ("История", "exam", "2026-12-20", "", "https://a.example.com/h"),  # past
        ]
    )
)
BULK_NOW = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


async def _bulk_world(session: AsyncSession) -> list[int]:
    """Students linked (one blocked the bot, two never linked), a teacher and a dean in the
    bot, a deanery chat; notices already sent, then the schedule changed under them: an
    exam moved, one cancelled, a subgroup starting later. Returns the exam ids."""
    utc = ZoneInfo("UTC")
    assert (await import_roster(session, "roster.csv", BULK_ROSTER.encode())).ok
    assert (await import_schedule(session, "s.csv", BULK_SCHEDULE.encode(), tz=utc)).ok
    students = list(await session.scalars(select(Student).order_by(Student.id)))
    for n, student in enumerate(students):
        if n % 4 == 3:
            continue  # not in the bot
        session.add(User(id=900 + n, first_name="S", locale="ru", is_active=n != 5))
        await session.flush()
        student.user_id = 900 + n
    session.add_all(
        [User(id=800, first_name="T", locale="ru"), User(id=801, first_name="D", locale="ru")]
    )
    await session.flush()
    teacher = await session.scalar(select(Teacher).where(Teacher.full_name == "Сидорова Анна"))
    assert teacher is not None
    teacher.user_id = 800
    faculties = {f.name: f.id for f in await session.scalars(select(Faculty))}
    session.add(DeanMember(user_id=801, faculty_id=faculties["Педиатрия"]))
    session.add(
        DeaneryChat(chat_id=-100500, faculty_id=faculties["Лечебный факультет"], bound_by=801)
    )
    settings = Settings(_env_file=None)
    exams = list(await session.scalars(select(Exam).order_by(Exam.id)))
    await plan_exams(
        session,
        [e.id for e in exams],
        BULK_NOW - timedelta(days=3),
        settings=settings,
        outbox=Outbox(),
    )
    # Some went out, some are pending; then the schedule changes under them.
    for notice in await session.scalars(select(Notice).order_by(Notice.id)):
        if notice.id % 3 == 0:
            notice.status = NoticeStatus.SENT.value
    chemistry = [e for e in exams if e.kind == "exam" and e.link == "https://a.example.com/x"]
    for notice in await session.scalars(
        select(Notice).where(Notice.exam_id.in_([chemistry[0].id, chemistry[1].id]))
    ):
        if notice.kind == "day_before":
            notice.status = NoticeStatus.SENT.value  # the card went out: they know the time
    chemistry[0].starts_at += timedelta(hours=5)  # moved: a time-changed notice is owed
    chemistry[1].cancelled_at = BULK_NOW  # cancelled: who was told is told again
    latin = [e for e in exams if e.starts_at.day == 20 and e.starts_at.month == 1]
    subgroup = Subgroup(
        exam_id=latin[0].id, number=2, starts_at=latin[0].starts_at + timedelta(hours=2)
    )
    session.add(subgroup)
    await session.flush()
    member = next(s for s in students if s.group_id == latin[0].group_id and s.user_id)
    session.add(SubgroupMember(exam_id=latin[0].id, subgroup_id=subgroup.id, student_id=member.id))
    await session.flush()
    return [e.id for e in exams]


async def _outbox(session: AsyncSession) -> set[tuple[object, ...]]:
    rows = await session.execute(
        select(
            Notice.key,
            Notice.kind,
            Notice.status,
            Notice.chat_id,
            Notice.user_id,
            Notice.exam_id,
            Notice.student_id,
            Notice.due_at,
            Notice.expires_at,
            Notice.payload,
        )
    )
    return {(*row[:-1], json.dumps(row[-1], sort_keys=True)) for row in rows}


@pytest.mark.parametrize("pairs", [reminders.BULK_PAIRS, 1], ids=["one-round", "many-rounds"])
async def test_bulk_planning_plans_what_exam_by_exam_planning_did(
    engine: AsyncEngine, pairs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan_exams (a few queries per round of exams) against plan_exam called for each
    exam, on the same database state: the same notices, the same withdrawals, the same
    report — in one round, and split into rounds of one exam."""
    monkeypatch.setattr(reminders, "BULK_PAIRS", pairs)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker.begin() as session:
        exam_ids = await _bulk_world(session)
    settings = Settings(_env_file=None)

    async with sessionmaker() as session:
        one_by_one = PlanReport()
        for exam_id in exam_ids:
            one_by_one.add(
                await plan_exam(session, exam_id, BULK_NOW, settings=settings, outbox=Outbox())
            )
        expected = await _outbox(session)
        await session.rollback()
    async with sessionmaker() as session:
        before = await _outbox(session)
        bulk = await plan_exams_bulk(
            session, exam_ids, BULK_NOW, settings=settings, outbox=Outbox()
        )
        got = await _outbox(session)
        await session.rollback()

    assert got == expected
    # The state exercised every branch: new notices, withdrawn ones, a time change, a
    # cancellation, link nags to the teacher and to both kinds of dean's office.
    kinds = {row[1] for row in expected - before}
    assert {"time_changed", "cancelled", "link_nag", "join_call"} <= kinds, kinds
    assert {(row[1], row[3]) for row in expected} >= {
        ("link_missing", -100500),
        ("link_missing", 801),
    }
    assert {row[2] for row in expected} >= {"pending", "sent", "cancelled"}
    assert (bulk.created, bulk.cancelled) == (one_by_one.created, one_by_one.cancelled)
    assert bulk.created > 0 and bulk.cancelled > 0
    assert sorted(bulk.past_exams) == sorted(one_by_one.past_exams) != []
    assert bulk.unlinked == one_by_one.unlinked


async def test_not_yet_linked_counts_each_student_once(engine: AsyncEngine) -> None:
    """A schedule of five exams per group tells "not yet linked: 3" for 3 students out of
    the bot, not 15 (once per exam), through the import report the admin reads."""
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker.begin() as session:
        await _bulk_world(session)
        exam_ids = list(await session.scalars(select(Exam.id)))
        report = await plan_after_import(
            session,
            "schedule",
            exam_ids,
            now=BULK_NOW,
            settings=Settings(_env_file=None),
            outbox=Outbox(),
        )
    assert len(exam_ids) == 15
    assert report.unlinked_students == 3  # one per group: 2003, 2013, 2023
    with Catalogs().use("en"):
        text = plan_warning_text(report)
    assert "Students not yet in the bot (they will be reminded once they join): 3." in text, text
