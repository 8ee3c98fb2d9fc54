"""Roster and schedule import against a real database (SQLite, and PostgreSQL if configured)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Base,
    Discipline,
    EventKind,
    Exam,
    ExamForm,
    Faculty,
    Group,
    Student,
    Subgroup,
    Teacher,
    User,
)
from bot.domain.imports import FORMS, KINDS, RowError
from bot.services.imports import (
    ImportFileError,
    TableKind,
    import_roster,
    import_schedule,
    import_table,
    read_table,
)

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
MOSCOW = ZoneInfo("Europe/Moscow")
IMPORTED_TABLES = (
    "faculties",
    "groups",
    "students",
    "teachers",
    "disciplines",
    "exams",
    "subgroups",
)
SCHEDULE_HEADER = (
    "faculty,group,discipline,kind,form,date,start,duration_min,teacher,link,moodle_url"
)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def snapshot(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Every imported table, row by row, straight from the database."""
    tables = Base.metadata.tables
    result: dict[str, list[tuple[Any, ...]]] = {}
    for name in IMPORTED_TABLES:
        table = tables[name]
        rows = await session.execute(select(table).order_by(*table.primary_key.columns))
        result[name] = [tuple(row) for row in rows]
    return result


async def count(session: AsyncSession, model: type[Base]) -> int:
    return (await session.scalar(select(func.count()).select_from(model))) or 0


async def exam_by(session: AsyncSession, discipline: str, kind: str, group: str) -> Exam:
    query = (
        select(Exam)
        .join(Discipline)
        .join(Group)
        .where(Discipline.name == discipline, Exam.kind == kind, Group.name == group)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one()


def test_domain_values_match_the_model_enums() -> None:
    assert tuple(EventKind) == KINDS
    assert tuple(ExamForm) == FORMS


# --- roster ----------------------------------------------------------------------------


async def test_roster_samples_import_and_reimport_unchanged(session: AsyncSession) -> None:
    report = await import_roster(session, "roster.csv", sample("roster.csv"))
    await session.commit()
    assert report.ok
    assert (report.added, report.updated, report.unchanged) == (10, 0, 0)
    assert report.changed_exam_ids == []
    assert await count(session, Faculty) == 2
    assert await count(session, Group) == 3
    before = await snapshot(session)

    # The XLSX sample holds the same people under Russian headers.
    for name in ("roster.xlsx", "roster.csv"):
        again = await import_roster(session, name, sample(name))
        await session.commit()
        assert (again.added, again.updated, again.unchanged) == (0, 0, 10)
        assert await snapshot(session) == before

    yolkina = await session.scalar(select(Student).where(Student.record_book == "2611004"))
    assert yolkina is not None
    assert (yolkina.full_name, yolkina.surname_key) == ("Ёлкина Дарья Андреевна", "елкина")


async def test_roster_xlsx_sample_imports_on_an_empty_database(session: AsyncSession) -> None:
    report = await import_roster(session, "Список.XLSX", sample("roster.xlsx"))
    await session.commit()
    assert (report.added, report.updated, report.unchanged) == (10, 0, 0)
    groups = await session.scalars(select(Group.name).order_by(Group.name))
    assert list(groups) == ["1101", "1102", "2101"]


async def test_roster_bad_row_writes_nothing(session: AsyncSession) -> None:
    content = csv_bytes(
        "faculty,group,full_name,record_book",
        "Лечебный факультет,1101,Иванов Иван,1",
        "",
        "Лечебный факультет,1101,,2",
        "Лечебный факультет,1101,Петров Пётр,3",
    )
    report = await import_roster(session, "roster.csv", content)
    await session.commit()  # even a careless caller commits nothing
    assert not report.ok
    assert report.errors == [RowError(4, "full_name", "empty", "")]
    assert (report.added, report.updated, report.unchanged) == (0, 0, 0)
    assert all(rows == [] for rows in (await snapshot(session)).values())


async def test_roster_updates_moves_and_renames(session: AsyncSession) -> None:
    await import_roster(session, "roster.csv", sample("roster.csv"))
    user = User(id=777_000_001, first_name="Алия", locale="ru")
    session.add(user)
    await session.flush()
    alia = await session.scalar(select(Student).where(Student.record_book == "2611001"))
    assert alia is not None
    alia.user_id = user.id
    await session.commit()

    lines = sample("roster.csv").decode().splitlines()
    lines[1] = "Лечебный факультет,1102,Абдуллина Алия Ринатовна,2611001"  # moved
    lines[2] = "Лечебный факультет,1101,Белова Артём Сергеевич,2611002"  # renamed
    lines.append("Педиатрический факультет,2102,Новиков Илья Андреевич,2621020")  # new group
    report = await import_roster(session, "roster.csv", csv_bytes(*lines))
    await session.commit()
    assert (report.added, report.updated, report.unchanged) == (1, 2, 8)

    rows = (
        await session.execute(
            select(Student.record_book, Group.name, Student.surname_key, Student.user_id)
            .join(Group)
            .where(Student.record_book.in_(["2611001", "2611002", "2621020"]))
            .order_by(Student.record_book)
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("2611001", "1102", "абдуллина", user.id),  # the Telegram link survives a move
        ("2611002", "1101", "белова", None),
        ("2621020", "2102", "новиков", None),
    ]


async def test_names_match_existing_ones_case_and_yo_insensitively(
    session: AsyncSession,
) -> None:
    await import_roster(session, "roster.csv", sample("roster.csv"))
    await session.commit()
    content = csv_bytes(
        "Факультет;Группа;ФИО;Зачетная книжка",
        "ЛЕЧЕБНЫЙ   ФАКУЛЬТЕТ;1101;Зайцев Олег;2611099",
    )
    report = await import_roster(session, "roster.csv", content)
    await session.commit()
    assert report.added == 1
    assert await count(session, Faculty) == 2
    assert await count(session, Group) == 3


# --- schedule --------------------------------------------------------------------------


async def test_schedule_samples_import_and_reimport_unchanged(session: AsyncSession) -> None:
    report = await import_schedule(session, "schedule.csv", sample("schedule.csv"), tz=MOSCOW)
    await session.commit()
    assert report.ok
    assert (report.added, report.updated, report.unchanged) == (6, 0, 0)
    ids = list(await session.scalars(select(Exam.id).order_by(Exam.id)))
    assert sorted(report.changed_exam_ids) == ids
    assert await count(session, Teacher) == 4
    assert await count(session, Discipline) == 4

    anatomy = await exam_by(session, "Анатомия", "exam", "1101")
    assert anatomy.starts_at == datetime(2027, 1, 12, 6, 0, tzinfo=UTC)
    assert (anatomy.form, anatomy.duration_min, anatomy.link) == ("combined", 240, None)
    assert anatomy.moodle_url == "https://moodle.example-med.ru/course/view.php?id=101"

    before = await snapshot(session)
    # The XLSX sample: Russian headers and values, real date and time cells.
    for name in ("schedule.xlsx", "schedule.csv"):
        again = await import_schedule(session, name, sample(name), tz=MOSCOW)
        await session.commit()
        assert (again.added, again.updated, again.unchanged) == (0, 0, 6)
        assert again.changed_exam_ids == []
        assert await snapshot(session) == before


async def test_schedule_and_roster_share_faculties_and_groups(session: AsyncSession) -> None:
    await import_roster(session, "roster.xlsx", sample("roster.xlsx"))
    await import_schedule(session, "schedule.xlsx", sample("schedule.xlsx"), tz=MOSCOW)
    await session.commit()
    assert await count(session, Faculty) == 2
    assert await count(session, Group) == 3


async def test_schedule_bad_row_writes_nothing(session: AsyncSession) -> None:
    await import_schedule(session, "schedule.csv", sample("schedule.csv"), tz=MOSCOW)
    await session.commit()
    before = await snapshot(session)
    lines = sample("schedule.csv").decode().splitlines()
    lines[1] = lines[1].replace("2027-01-11", "2027-01-10")  # a valid change ...
    lines[4] = lines[4].replace(",oral,", ",устно-письменно,")  # ... and a bad row
    report = await import_schedule(session, "schedule.csv", csv_bytes(*lines), tz=MOSCOW)
    await session.commit()
    assert report.errors == [RowError(5, "form", "unknown_form", "устно-письменно")]
    assert await snapshot(session) == before


async def test_schedule_update_is_counted_and_moves_subgroups(session: AsyncSession) -> None:
    await import_schedule(session, "schedule.csv", sample("schedule.csv"), tz=MOSCOW)
    histology = await exam_by(session, "Гистология", "exam", "1102")
    created_at = histology.created_at
    session.add_all(
        [
            Subgroup(exam=histology, number=1, starts_at=histology.starts_at),
            Subgroup(exam=histology, number=2, starts_at=histology.starts_at + timedelta(hours=1)),
        ]
    )
    await session.commit()

    lines = sample("schedule.csv").decode().splitlines()
    assert ",Гистология,exam,test,2026-12-28,10:00,60," in lines[3]
    lines[3] = lines[3].replace("2026-12-28,10:00,60,", "2026-12-29,12:30,90,")
    report = await import_schedule(session, "schedule.csv", csv_bytes(*lines), tz=MOSCOW)
    await session.commit()
    assert (report.added, report.updated, report.unchanged) == (0, 1, 5)
    assert report.changed_exam_ids == [histology.id]

    histology = await exam_by(session, "Гистология", "exam", "1102")
    assert histology.starts_at == datetime(2026, 12, 29, 9, 30, tzinfo=UTC)
    assert histology.duration_min == 90
    assert histology.created_at == created_at
    starts = await session.scalars(
        select(Subgroup.starts_at).where(Subgroup.exam_id == histology.id).order_by(Subgroup.number)
    )
    assert list(starts) == [
        datetime(2026, 12, 29, 9, 30, tzinfo=UTC),
        datetime(2026, 12, 29, 10, 30, tzinfo=UTC),
    ]


async def test_empty_link_keeps_what_the_teacher_set(session: AsyncSession) -> None:
    await import_schedule(session, "schedule.csv", sample("schedule.csv"), tz=MOSCOW)
    anatomy = await exam_by(session, "Анатомия", "exam", "1101")
    anatomy.link = "https://my.mts-link.ru/j/999/set-in-the-bot"
    await session.commit()

    # The file's link cell for this exam is empty: nothing changes.
    report = await import_schedule(session, "schedule.csv", sample("schedule.csv"), tz=MOSCOW)
    await session.commit()
    assert (report.updated, report.unchanged) == (0, 6)
    anatomy = await exam_by(session, "Анатомия", "exam", "1101")
    assert anatomy.link == "https://my.mts-link.ru/j/999/set-in-the-bot"

    # A link in the file replaces it.
    lines = sample("schedule.csv").decode().splitlines()
    lines[2] = lines[2].replace(",240,Смирнова Елена Викторовна,,", ",240,,https://new.example/x,")
    report = await import_schedule(session, "schedule.csv", csv_bytes(*lines), tz=MOSCOW)
    await session.commit()
    assert report.updated == 1
    anatomy = await exam_by(session, "Анатомия", "exam", "1101")
    assert anatomy.link == "https://new.example/x"
    # The teacher cell was emptied too: the exam keeps its teacher.
    assert anatomy.teacher_id is not None


async def test_schedule_teacher_change_counts(session: AsyncSession) -> None:
    await import_schedule(session, "schedule.csv", sample("schedule.csv"), tz=MOSCOW)
    await session.commit()
    content = (
        sample("schedule.csv")
        .decode()
        .replace("Николаева Ольга Петровна", "Николаева  ольга петровна")
    )
    report = await import_schedule(session, "schedule.csv", content.encode(), tz=MOSCOW)
    assert report.updated == 0  # the same teacher, typed differently
    content = content.replace("Николаева  ольга петровна", "Кузнецов Андрей Игоревич")
    report = await import_schedule(session, "schedule.csv", content.encode(), tz=MOSCOW)
    await session.commit()
    assert (report.added, report.updated, report.unchanged) == (0, 1, 5)
    assert await count(session, Teacher) == 5


async def test_schedule_times_in_another_zone(session: AsyncSession) -> None:
    content = csv_bytes(
        SCHEDULE_HEADER,
        "Лечебный факультет,1101,Анатомия,exam,oral,25.10.2026,02:30,60,,,",
    )
    berlin = ZoneInfo("Europe/Berlin")
    report = await import_schedule(session, "s.csv", content, tz=berlin)
    await session.commit()
    assert report.ok
    exam = await exam_by(session, "Анатомия", "exam", "1101")
    assert exam.starts_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)

    content = csv_bytes(
        SCHEDULE_HEADER,
        "Лечебный факультет,1101,Анатомия,exam,oral,29.03.2026,02:30,60,,,",
    )
    report = await import_schedule(session, "s.csv", content, tz=berlin)
    assert report.errors == [RowError(2, "start", "nonexistent_time", "02:30")]


# --- a file sent to the bot ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("roster.csv", TableKind.ROSTER),
        ("roster.xlsx", TableKind.ROSTER),
        ("schedule.csv", TableKind.SCHEDULE),
        ("schedule.xlsx", TableKind.SCHEDULE),
    ],
)
async def test_import_table_detects_the_template(
    session: AsyncSession, name: str, kind: TableKind
) -> None:
    detected, report = await import_table(session, name, sample(name), tz=MOSCOW)
    await session.commit()
    assert detected is kind
    assert report.ok
    assert report.added == (10 if kind is TableKind.ROSTER else 6)


async def test_import_table_refuses_an_unknown_header(session: AsyncSession) -> None:
    content = csv_bytes("Фамилия,Имя,Отчество", "Иванов,Иван,Иванович")
    kind, report = await import_table(session, "people.csv", content, tz=MOSCOW)
    assert kind is None
    assert report.errors == [RowError(1, None, "unknown_table", "")]
    await session.commit()
    assert all(rows == [] for rows in (await snapshot(session)).values())


async def test_dean_imports_only_their_faculty(session: AsyncSession) -> None:
    kind, report = await import_table(
        session,
        "roster.csv",
        sample("roster.csv"),
        tz=MOSCOW,
        allowed_faculties=frozenset({"Лечебный факультет"}),
    )
    await session.commit()
    assert kind is TableKind.ROSTER
    assert [(e.row, e.code, e.value) for e in report.errors] == [
        (row, "foreign_faculty", "Педиатрический факультет") for row in (9, 10, 11)
    ]
    assert all(rows == [] for rows in (await snapshot(session)).values())

    report = await import_schedule(
        session,
        "schedule.csv",
        sample("schedule.csv"),
        tz=MOSCOW,
        allowed_faculties=["лечебный факультет", "Педиатрический факультет"],
    )
    assert (report.added, report.errors) == (6, [])


# --- files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("roster.pdf", b"%PDF-1.7", "unsupported_type"),
        ("roster.xls", b"\xd0\xcf\x11\xe0", "unsupported_type"),
        ("roster", b"faculty", "unsupported_type"),
        ("roster.csv", b"", "empty_file"),
        ("roster.csv", b" \r\n\r\n", "empty_file"),
        ("roster.csv", b"\xef\xbb\xbf\n,,,\n", "empty_file"),
        ("roster.xlsx", b"", "empty_file"),
        ("roster.xlsx", b"faculty,group", "unreadable"),
        ("roster.xlsx", b"PK\x03\x04 definitely not a zip", "unreadable"),
        ("roster.csv", b"PK\x03\x04\x14\x00", "unreadable"),
        ("roster.csv", b"faculty\x00group", "unreadable"),
    ],
)
async def test_file_errors(session: AsyncSession, filename: str, content: bytes, code: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        await import_roster(session, filename, content)
    assert caught.value.code == code
    await session.commit()
    assert await count(session, Faculty) == 0


def test_truncated_xlsx_is_unreadable() -> None:
    content = sample("roster.xlsx")
    with pytest.raises(ImportFileError) as caught:
        read_table("roster.xlsx", content[: len(content) // 2])
    assert caught.value.code == "unreadable"


def test_empty_xlsx_sheet_is_an_empty_file() -> None:
    with pytest.raises(ImportFileError) as caught:
        read_table("roster.xlsx", xlsx_bytes([]))
    assert caught.value.code == "empty_file"


async def test_header_only_file_reports_no_rows(session: AsyncSession) -> None:
    report = await import_roster(session, "r.csv", b"faculty,group,full_name,record_book\r\n")
    assert report.errors == [RowError(2, None, "no_rows", "")]


def test_csv_encodings_and_delimiters() -> None:
    expected = [["Факультет", "Группа"], ["Лечебный, вечерний", "1101"]]
    for delimiter in (",", ";", "\t"):
        text = f'Факультет{delimiter}Группа\r\n"Лечебный, вечерний"{delimiter}1101\r\n'
        assert read_table("a.csv", text.encode("utf-8")) == expected
        assert read_table("a.csv", text.encode("utf-8-sig")) == expected
        assert read_table("a.CSV", text.encode("cp1251")) == expected
        assert read_table("a.csv", text.encode("utf-16")) == expected


def test_csv_keeps_blank_rows_for_row_numbers() -> None:
    table = read_table("a.csv", b"a,b\n\n1,2\n\n\n")
    assert table == [["a", "b"], [], ["1", "2"]]


def test_xlsx_cells_are_rendered_as_the_template_expects() -> None:
    content = xlsx_bytes(
        [
            ["Дата", "Начало", "Группа", "Книжка", "Доля", "Когда", "Текст"],
            [date(2026, 12, 21), time(9, 5), 1101, 2611001.0, 1.5, datetime(2027, 1, 2, 0, 0), "x"],
            [],
            [datetime(2026, 12, 22, 14, 30), time(23, 59), None, None, None, None, " y "],
        ]
    )
    assert read_table("s.xlsx", content) == [
        ["Дата", "Начало", "Группа", "Книжка", "Доля", "Когда", "Текст"],
        ["2026-12-21", "09:05", "1101", "2611001", "1.5", "2027-01-02", "x"],
        [],
        ["2026-12-22 14:30", "23:59", "", "", "", "", " y "],
    ]


def test_xlsx_time_fraction_rounding() -> None:
    # 9:00 stored as a day fraction that floats just under it.
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["start"])
    sheet.append([0.375 - 1e-9])
    sheet["A2"].number_format = "HH:MM"
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert read_table("t.xlsx", buffer.getvalue())[1] == ["09:00"]
