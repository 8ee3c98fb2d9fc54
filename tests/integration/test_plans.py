"""Individual study plans against a real database (SQLite, and PostgreSQL if configured):
the import, the distance-share warning, and the deadline reminders it plans."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.__main__ import main
from bot.app import create_i18n
from bot.config import Settings
from bot.db.models import Notice, NoticeStatus, PlanItem, Student, User
from bot.domain.reminders import NoticeKind
from bot.notify.render import render_notice
from bot.services.imports import TableKind, import_plan, import_roster, import_table
from bot.services.outbox import Outbox
from bot.services.plans import student_plan
from bot.services.reminders import PlanReport, plan_after_import, plan_for_student

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
HEADER = (
    "record_book,discipline,department,ects,lecture_hours,lab_hours,practice_hours,"
    "distance_hours,place_time,deadline,teacher"
)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BELOV, IVANOVA, FEDOROV = "2611002", "2611021", "2621001"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None, timezone="Europe/Moscow")


@pytest.fixture
async def roster(session: AsyncSession) -> None:
    assert (await import_roster(session, "roster.csv", sample("roster.csv"))).ok
    await session.commit()


async def count(session: AsyncSession, model: type[PlanItem] | type[Notice]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def link(session: AsyncSession, record_book: str, user_id: int) -> Student:
    session.add(User(id=user_id, locale="ru"))
    await session.flush()
    student = await session.scalar(select(Student).where(Student.record_book == record_book))
    assert student is not None
    student.user_id = user_id
    await session.flush()
    return student


async def import_and_plan(session: AsyncSession, settings: Settings, content: bytes) -> PlanReport:
    """A plan file imported, and its deadline reminders planned, as the bot and CLI do."""
    report = await import_plan(session, "plan.csv", content)
    assert report.ok
    return await plan_after_import(
        session,
        "plan",
        [],
        now=NOW,
        settings=settings,
        changed_student_ids=report.changed_student_ids,
        outbox=Outbox(),
    )


async def deadline_notices(session: AsyncSession) -> dict[str, str]:
    rows = await session.execute(
        select(Notice.key, Notice.status).where(Notice.kind == NoticeKind.PLAN_DEADLINE)
    )
    return {key: status for key, status in rows}


@pytest.mark.usefixtures("roster")
async def test_import_is_idempotent_and_counts(session: AsyncSession) -> None:
    report = await import_plan(session, "plan.csv", sample("plan.csv"))
    assert (report.errors, report.added, report.updated, report.unchanged) == ([], 4, 0, 0)
    await session.commit()
    assert await count(session, PlanItem) == 4

    report = await import_plan(session, "plan.csv", sample("plan.csv"))
    assert (report.added, report.updated, report.unchanged) == (0, 0, 4)
    assert report.changed_student_ids == []

    changed = sample("plan.csv").decode().replace("2026-12-20", "2026-12-24")
    report = await import_plan(
        session, "plan.csv", changed.replace("Анатомия", "анатомия").encode()
    )
    assert (report.added, report.updated, report.unchanged) == (0, 1, 3)
    await session.commit()
    student = await session.scalar(select(Student).where(Student.record_book == BELOV))
    assert student is not None
    items = await student_plan(session, student.id)
    assert [(i.discipline, i.deadline) for i in items] == [
        ("анатомия", date(2026, 12, 24)),
        ("Латинский язык", date(2027, 1, 15)),
    ]
    first = items[0]
    assert (first.department, first.ects, first.lecture_hours, first.practice_hours) == (
        "Кафедра анатомии человека",
        4.0,
        36,
        54,
    )
    assert first.distance_hours == 40 and first.teacher == "Смирнова Елена Викторовна"
    assert "Moodle" in first.place_time
    assert await count(session, PlanItem) == 4


@pytest.mark.usefixtures("roster")
async def test_the_header_tells_a_plan_file(session: AsyncSession, settings: Settings) -> None:
    russian = csv_bytes(
        f"{FEDOROV};Нормальная физиология;Кафедра;5;36;18;36;0;;25.01.2027;",
        header=(
            "Номер зачётной книжки;Дисциплина;Кафедра;З.е.;Лекции;Лабораторные;"
            "Практические;Дистанционно (ч);Место и время;Срок сдачи;Преподаватель"
        ),
    )
    kind, report = await import_table(session, "план.csv", russian, tz=settings.tz)
    assert kind is TableKind.PLAN
    assert report.added == 1


@pytest.mark.usefixtures("roster")
async def test_a_bad_file_changes_nothing_and_names_every_row(session: AsyncSession) -> None:
    bad = csv_bytes(
        f"{BELOV},Анатомия,,4,36,0,54,0,,2026-12-20,",  # 2: good
        f"{BELOV},Гистология,,3,18,0,0,0,,завтра,",  # 3: not a date
        f"{IVANOVA},Гистология,,3,-18,0,0,0,,2026-12-22,",  # 4: negative hours
        "9999999,Гистология,,3,18,0,0,0,,2026-12-22,",  # 5: not on the roster
        f"{IVANOVA},,,3,18,0,0,0,,2026-12-22,",  # 6: no discipline
        f"{BELOV},АНАТОМИЯ,,4,36,0,54,0,,2026-12-21,",  # 7: row 2 again
    )
    report = await import_plan(session, "plan.csv", bad)
    assert [(e.row, e.code) for e in report.errors] == [
        (3, "bad_date"),
        (4, "bad_hours"),
        (5, "unknown_record_book"),
        (6, "empty"),
        (7, "duplicate_plan_item"),
    ]
    assert report.errors[-1].ref_row == 2
    assert report.added == 0
    assert await count(session, PlanItem) == 0


@pytest.mark.usefixtures("roster")
async def test_a_dean_imports_plans_of_their_own_faculty_only(session: AsyncSession) -> None:
    own = {"Педиатрический факультет"}
    report = await import_plan(session, "plan.csv", sample("plan.csv"), allowed_faculties=own)
    assert [(e.row, e.code, e.value) for e in report.errors] == [
        (2, "foreign_student", BELOV),
        (3, "foreign_student", BELOV),
        (4, "foreign_student", IVANOVA),
    ]
    assert await count(session, PlanItem) == 0
    mine = csv_bytes(f"{FEDOROV},Нормальная физиология,,5,36,18,36,60,,2027-01-25,")
    report = await import_plan(session, "plan.csv", mine, allowed_faculties=own)
    assert report.ok and report.added == 1


@pytest.mark.usefixtures("roster")
async def test_plans_over_the_distance_share_are_listed(session: AsyncSession) -> None:
    header = HEADER + ",programme_level,distance_limit"
    plans = csv_bytes(
        f"{BELOV},Анатомия,,4,50,0,50,70,,2026-12-20,,master,",  # 70 %: allowed
        f"{IVANOVA},Гистология,,3,50,0,50,71,,2026-12-22,,магистратура,",  # 71 %: over
        f"{FEDOROV},Физиология,,3,50,0,50,51,,2027-01-25,,master,50 %",  # over its own 50 %
        "2621002,Физиология,,3,50,0,50,90,,2027-01-25,,бакалавриат,",  # no limit
        header=header,
    )
    report = await import_plan(session, "plan.csv", plans)
    assert report.ok
    assert [
        (e.record_book, e.distance, e.total, float(e.limit)) for e in report.distance_excesses
    ] == [
        (IVANOVA, 71, 100, 0.7),
        (FEDOROV, 51, 100, 0.5),
    ]
    # A stricter setting; and the share is over the whole plan, earlier imports included.
    more = csv_bytes(f"{BELOV},Латынь,,2,0,0,100,100,,2027-01-15,")
    report = await import_plan(session, "plan2.csv", more, distance_limit=0.8)
    assert [e.record_book for e in report.distance_excesses] == [BELOV]
    assert report.distance_excesses[0].distance == 170


@pytest.mark.usefixtures("roster")
async def test_deadline_reminders_follow_the_plan(
    session: AsyncSession, settings: Settings
) -> None:
    student = await link(session, BELOV, 501)
    planned = await import_and_plan(session, settings, sample("plan.csv"))
    # Белов's two disciplines × (7 days, 1 day); Иванова and Фёдоров are not in the bot.
    assert (planned.created, planned.unlinked_students) == (4, 2)
    await session.commit()
    notices = await deadline_notices(session)
    anatomy = [k for k in notices if k.endswith(":20261220:7") or k.endswith(":20261220:1")]
    assert len(anatomy) == 2
    due = await session.scalar(
        select(Notice.due_at).where(Notice.key == next(k for k in anatomy if k.endswith(":7")))
    )
    assert due == datetime(2026, 12, 13, 6, 0, tzinfo=UTC)  # 09:00 in Moscow

    # The same file again plans nothing new, nor does planning the student again.
    assert (await import_and_plan(session, settings, sample("plan.csv"))).created == 0
    assert (
        await plan_for_student(session, student, NOW, settings=settings, outbox=Outbox())
    ).created == 0

    # A moved deadline: new reminders, the old pending ones withdrawn.
    moved = sample("plan.csv").decode().replace("2026-12-20", "2026-12-27").encode()
    planned = await import_and_plan(session, settings, moved)
    assert (planned.created, planned.cancelled) == (2, 2)
    await session.commit()
    notices = await deadline_notices(session)
    assert {notices[k] for k in anatomy} == {NoticeStatus.CANCELLED}
    assert sum(k.endswith(":20261227:7") for k in notices) == 1
    assert await count(session, Notice) == 6

    # Moved back (a typo fixed): the withdrawn reminders come back, no duplicates.
    planned = await import_and_plan(session, settings, sample("plan.csv"))
    assert (planned.created, planned.cancelled) == (2, 2)
    await session.commit()
    notices = await deadline_notices(session)
    assert {notices[k] for k in anatomy} == {NoticeStatus.PENDING}
    assert await count(session, Notice) == 6


@pytest.mark.usefixtures("roster")
async def test_a_student_who_links_later_is_reminded(
    session: AsyncSession, settings: Settings
) -> None:
    await import_and_plan(session, settings, sample("plan.csv"))
    assert await count(session, Notice) == 0
    student = await link(session, IVANOVA, 502)
    planned = await plan_for_student(session, student, NOW, settings=settings, outbox=Outbox())
    assert planned.created >= 2  # the deadline's two (and her exams' notices)
    await session.commit()
    keys = await deadline_notices(session)
    assert sorted(k.rsplit(":", 2)[1:] for k in keys) == [["20261222", "1"], ["20261222", "7"]]


@pytest.mark.usefixtures("roster")
async def test_the_reminder_says_what_is_due_and_when(
    session: AsyncSession, settings: Settings
) -> None:
    await link(session, BELOV, 503)
    await import_and_plan(session, settings, sample("plan.csv"))
    await session.commit()
    notice = await session.scalar(
        select(Notice).where(Notice.key.like("plan_deadline:%:20261220:7"))
    )
    assert notice is not None and notice.exam_id is None
    i18n = create_i18n(settings)
    rendered = await render_notice(session, notice, settings=settings, i18n=i18n)
    assert rendered is not None
    assert "Анатомия" in rendered.text and "20 декабря 2026" in rendered.text
    assert "Смирнова Елена Викторовна" in rendered.text
    # Once the deadline has moved, the old reminder is no longer true.
    item = await session.scalar(select(PlanItem).where(PlanItem.discipline == "Анатомия"))
    assert item is not None
    item.deadline = date(2026, 12, 27)
    assert await render_notice(session, notice, settings=settings, i18n=i18n) is None


def test_cli_imports_plans(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    alembic = logging.getLogger("alembic")
    monkeypatch.setattr(alembic, "level", alembic.level)  # main() quietens it for good
    assert main(["import", "roster", str(SAMPLES / "roster.csv")]) == 0
    capsys.readouterr()

    assert main(["import", "plan", str(SAMPLES / "plan.csv")]) == 0
    out, err = capsys.readouterr()
    assert [int(n) for n in re.findall(r"\d+", out.splitlines()[0])] == [4, 0, 0]
    assert err == ""
    with closing(sqlite3.connect(tmp_path / "bot.db")) as db:
        assert db.execute("SELECT count(*) FROM plan_items").fetchall() == [(4,)]

    bad = tmp_path / "plan.csv"
    bad.write_bytes(csv_bytes(f"{BELOV},Анатомия,,4,36,0,54,40,,20.13.2026,"))
    assert main(["import", "plan", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "2" in err and "20.13.2026" in err
