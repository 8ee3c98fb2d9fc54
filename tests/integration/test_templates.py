"""/templates' files import unchanged (roster, then schedule, then plans), dated from today;
and import errors name the columns as the file names them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Exam, PlanItem, Student
from bot.domain.imports import TableKind
from bot.i18n import Catalogs
from bot.services.imports import import_table
from bot.services.templates import template_files
from bot.views.texts import import_result_text

MOSCOW = ZoneInfo("Europe/Moscow")
FACULTY = 'Факультет «A & B» <"тест">'
CATALOGS = Catalogs()


async def test_the_templates_import_as_they_are(session: AsyncSession) -> None:
    today = date(2026, 12, 6)
    files = {f.name: f.content for f in template_files(FACULTY, today)}
    assert list(files) == ["roster.xlsx", "schedule.xlsx", "plan.xlsx"]
    expected = {
        "roster.xlsx": TableKind.ROSTER,
        "schedule.xlsx": TableKind.SCHEDULE,
        "plan.xlsx": TableKind.PLAN,
    }
    for name, content in files.items():
        kind, report = await import_table(
            session, name, content, tz=MOSCOW, allowed_faculties=[FACULTY]
        )
        assert kind is expected[name], name
        assert report.ok and report.added > 0, (name, report.errors)
    await session.commit()
    students = list(await session.scalars(select(Student)))
    assert len(students) == 4
    starts = sorted(e.starts_at for e in await session.scalars(select(Exam)))
    # A week from today onwards, at the university's clock.
    assert starts[0] == datetime(2026, 12, 13, 14, 0, tzinfo=MOSCOW).astimezone(UTC)
    assert all(s - starts[0] < timedelta(days=7) for s in starts)
    deadlines = {p.deadline for p in await session.scalars(select(PlanItem))}
    assert deadlines == {today + timedelta(days=30)}


async def test_errors_name_the_files_own_columns(session: AsyncSession) -> None:
    roster = (
        "Факультет;Группа;ФИО студента;№ зачетки\nЛечебный факультет;1101;;2611001\n"
    ).encode()
    kind, report = await import_table(session, "r.csv", roster, tz=MOSCOW)
    assert kind is TableKind.ROSTER and not report.ok
    with CATALOGS.use("ru"):
        text = str(import_result_text(TableKind.ROSTER, report))
    assert "столбец «ФИО студента» не заполнен" in text
    assert "full_name" not in text
    missing = "Факультет,Группа,ФИО\nЛечебный факультет,1101,Иванов\n".encode()
    _kind, report = await import_table(session, "r.csv", missing, tz=MOSCOW)
    with CATALOGS.use("en"):
        text = str(import_result_text(TableKind.ROSTER, report))
    assert "missing columns: Номер зачётной книжки" in text


async def test_an_unknown_table_lists_the_russian_headers(session: AsyncSession) -> None:
    kind, report = await import_table(session, "x.csv", "Нечто,Другое\n1,2\n".encode(), tz=MOSCOW)
    assert kind is None
    with CATALOGS.use("ru"):
        text = str(import_result_text(TableKind.ROSTER, report))
    assert "Факультет, Группа, ФИО, Номер зачётной книжки" in text
    assert "Дисциплина, Вид, Форма, Дата, Начало, Длительность (мин)" in text
    assert "record_book" not in text and "/templates" in text
