"""The import templates' rules: headers, values, time zones, duplicates, error rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.imports import (
    FORMS,
    KINDS,
    MAX_DATA_ROWS,
    ROSTER_COLUMNS,
    ROW_ERROR_CODES,
    SCHEDULE_COLUMNS,
    RosterRow,
    RowError,
    TableKind,
    detect_table,
    foreign_faculty_errors,
    local_to_utc,
    normalize_surname,
    parse_date,
    parse_roster,
    parse_schedule,
    parse_time,
    surname_key,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")

ROSTER_HEADER = list(ROSTER_COLUMNS)
SCHEDULE_HEADER = list(SCHEDULE_COLUMNS)


def student(
    name: str = "Иванов Иван Иванович", book: str = "1001", group: str = "1101"
) -> list[str]:
    return ["Лечебный факультет", group, name, book]


def exam(**values: str) -> list[str]:
    row = {
        "faculty": "Лечебный факультет",
        "group": "1101",
        "discipline": "Анатомия",
        "kind": "exam",
        "form": "oral",
        "date": "2026-12-21",
        "start": "09:00",
        "duration_min": "90",
        "teacher": "Смирнова Елена Викторовна",
        "link": "",
        "moodle_url": "",
    }
    row.update(values)
    return [row[column] for column in SCHEDULE_HEADER]


def schedule_errors(*rows: list[str], tz: ZoneInfo = MOSCOW) -> list[RowError]:
    return parse_schedule([SCHEDULE_HEADER, *rows], tz).errors


def one_exam(tz: ZoneInfo = MOSCOW, **values: str) -> datetime:
    result = parse_schedule([SCHEDULE_HEADER, exam(**values)], tz)
    assert result.errors == []
    return result.rows[0].starts_at


# --- roster ----------------------------------------------------------------------------


def test_roster_canonical_headers() -> None:
    result = parse_roster([ROSTER_HEADER, student(), student("Петрова Анна", "1002")])
    assert result.ok
    assert result.rows == [
        RosterRow(2, "Лечебный факультет", "1101", "Иванов Иван Иванович", "1001", "иванов"),
        RosterRow(3, "Лечебный факультет", "1101", "Петрова Анна", "1002", "петрова"),
    ]


@pytest.mark.parametrize(
    "book_header",
    ["Номер зачетной книжки", "Номер зачётной книжки", "№ зачетной книжки", "Зачетная книжка"],
)
def test_roster_russian_aliases_with_bom_case_and_spaces(book_header: str) -> None:
    header = ["\ufeffФакультет", "  группа ", "фио", book_header.upper()]
    result = parse_roster([header, student()])
    assert result.ok, result.errors
    assert result.rows[0].record_book == "1001"


def test_roster_columns_in_any_order_extra_columns_ignored() -> None:
    header = ["№", "record_book", "Примечание", "ФИО", "Группа", "Факультет"]
    result = parse_roster([header, ["1", "77", "", "Сидоров Пётр", "1102", "Педиатрический"]])
    assert result.ok
    row = result.rows[0]
    assert (row.faculty, row.group, row.full_name, row.record_book) == (
        "Педиатрический",
        "1102",
        "Сидоров Пётр",
        "77",
    )


def test_roster_normalises_whitespace_and_record_book() -> None:
    row = [
        "  Лечебный \t факультет ",
        " 1101 ",
        "Иванов\u00a0 Иван   Иванович ",
        " 26 11\u00a0001 ",
    ]
    result = parse_roster([ROSTER_HEADER, row])
    assert result.rows[0] == RosterRow(
        2, "Лечебный факультет", "1101", "Иванов Иван Иванович", "2611001", "иванов"
    )


def test_blank_lines_skipped_but_counted_in_row_numbers() -> None:
    table = [ROSTER_HEADER, [], student(book="1"), ["", "  ", ""], student(book="2")]
    result = parse_roster(table)
    assert [r.row for r in result.rows] == [3, 5]


def test_short_rows_are_padded_with_empty_cells() -> None:
    result = parse_roster([ROSTER_HEADER, ["Лечебный факультет", "1101"]])
    assert result.errors == [
        RowError(2, "full_name", "empty", ""),
        RowError(2, "record_book", "empty", ""),
    ]


def test_missing_columns_is_one_error_on_row_1() -> None:
    result = parse_roster([["Факультет", "Группа", "Имя"], student()])
    assert result.rows == []
    assert result.errors == [RowError(1, None, "missing_columns", "full_name,record_book")]


def test_empty_table_misses_every_column() -> None:
    assert parse_roster([]).errors == [
        RowError(1, None, "missing_columns", "faculty,group,full_name,record_book")
    ]


def test_duplicate_column() -> None:
    result = parse_roster([[*ROSTER_HEADER, "ФИО"], student()])
    assert result.errors == [RowError(1, "full_name", "duplicate_column", "ФИО")]


def test_header_only_has_no_rows() -> None:
    assert parse_roster([ROSTER_HEADER, [], [""]]).errors == [RowError(2, None, "no_rows", "")]


def test_too_many_rows_names_the_first_row_over_the_limit() -> None:
    table = [ROSTER_HEADER, [], *([student()] * (MAX_DATA_ROWS + 5))]
    result = parse_roster(table)
    assert result.rows == []
    # Header is row 1, a blank row 2, so data row N sits on row N + 2.
    assert result.errors == [RowError(MAX_DATA_ROWS + 3, None, "too_many_rows", str(MAX_DATA_ROWS))]


def test_exactly_the_row_limit_is_accepted() -> None:
    table = [ROSTER_HEADER, *(student(book=str(i)) for i in range(MAX_DATA_ROWS))]
    result = parse_roster(table)
    assert result.ok
    assert len(result.rows) == MAX_DATA_ROWS


def test_roster_empty_and_too_long_cells() -> None:
    table = [
        ROSTER_HEADER,
        ["", "1101", "Иванов", "1"],
        ["Лечебный факультет", "9" * 65, "Иванов", "2"],
        ["Лечебный факультет", "1101", "Иванов", "1" * 33],
        ["Лечебный факультет", "1101", "Я" * 256, "4"],
        student(book="5"),
    ]
    result = parse_roster(table)
    assert result.errors == [
        RowError(2, "faculty", "empty", ""),
        RowError(3, "group", "too_long", "9" * 65),
        RowError(4, "record_book", "too_long", "1" * 33),
        RowError(5, "full_name", "too_long", "Я" * 256),
    ]
    assert [r.row for r in result.rows] == [6]  # the valid rows, though nothing is written


def test_duplicate_record_book_names_the_first_row() -> None:
    table = [ROSTER_HEADER, student(book="12 345"), student(book="7"), [], student(book="12345")]
    assert parse_roster(table).errors == [
        RowError(5, "record_book", "duplicate_record_book", "12345", ref_row=2)
    ]


# --- surname keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("full_name", "key"),
    [
        ("Ёлкина Дарья Андреевна", "елкина"),
        ("Фёдоров Никита", "федоров"),
        ("  ИВАНОВ   иван ", "иванов"),
        ("Петрова-Водкина Анна", "петрова-водкина"),
        ("Smith John", "smith"),
        ("", ""),
    ],
)
def test_surname_key(full_name: str, key: str) -> None:
    assert surname_key(full_name) == key


@pytest.mark.parametrize("typed", ["Елкина", "ёлкина", " ЁЛКИНА ", "Ёлкина Дарья", "елкина,"])
def test_typed_surname_matches_roster_key(typed: str) -> None:
    assert normalize_surname(typed) == surname_key("Ёлкина Дарья Андреевна")


# --- schedule values -------------------------------------------------------------------


def test_schedule_row_is_parsed() -> None:
    result = parse_schedule(
        [
            SCHEDULE_HEADER,
            exam(link="https://my.mts-link.ru/j/1/2", moodle_url="http://moodle.example.edu/c"),
        ],
        MOSCOW,
    )
    assert result.ok
    row = result.rows[0]
    assert (row.kind, row.form, row.duration_min, row.teacher) == (
        "exam",
        "oral",
        90,
        "Смирнова Елена Викторовна",
    )
    assert row.starts_at == datetime(2026, 12, 21, 6, 0, tzinfo=UTC)
    assert row.starts_at.tzinfo is UTC
    assert (row.link, row.moodle_url) == (
        "https://my.mts-link.ru/j/1/2",
        "http://moodle.example.edu/c",
    )


def test_schedule_russian_headers_and_values() -> None:
    header = [
        "Факультет",
        "Группа",
        "Дисциплина",
        "Вид",
        "Форма",
        "Дата",
        "Время",
        "Длительность (мин)",
        "Преподаватель",
        "Ссылка",
        "Moodle",
    ]
    rows = [
        ["Лечебный факультет", "1101", "Анатомия", "Экзамен", "Устное собеседование",
         "21.12.2026", "9:00", "90", "", "", ""],
        ["Лечебный факультет", "1101", "Анатомия", "КОНСУЛЬТАЦИЯ", "устно",
         "20.12.2026", "14.30", "60", "", "", ""],
        ["Лечебный факультет", "1101", "Гистология", "экзамен", "тестирование",
         "1.2.2027", "10:00", "45", "", "", ""],
        ["Лечебный факультет", "1101", "Латынь", "экзамен", "Письменная работа",
         "2027-01-05", "10:00", "45", "", "", ""],
        ["Лечебный факультет", "1101", "Химия", "экзамен", "комбинированная",
         "2027-01-06", "10:00", "45", "", "", ""],
    ]  # fmt: skip
    result = parse_schedule([header, *rows], MOSCOW)
    assert result.ok, result.errors
    assert [(r.kind, r.form) for r in result.rows] == [
        ("exam", "oral"),
        ("consultation", "oral"),
        ("exam", "test"),
        ("exam", "written"),
        ("exam", "combined"),
    ]
    assert result.rows[2].starts_at == datetime(2027, 2, 1, 7, 0, tzinfo=UTC)
    assert all(r.teacher is None and r.link is None for r in result.rows)


def test_optional_columns_may_be_absent() -> None:
    header = SCHEDULE_HEADER[:8]
    result = parse_schedule([header, exam()[:8]], MOSCOW)
    assert result.ok
    assert (result.rows[0].teacher, result.rows[0].link, result.rows[0].moodle_url) == (
        None,
        None,
        None,
    )


def test_schedule_missing_required_columns() -> None:
    header = [c for c in SCHEDULE_HEADER if c not in {"kind", "duration_min", "teacher"}]
    assert parse_schedule([header], MOSCOW).errors == [
        RowError(1, None, "missing_columns", "kind,duration_min")
    ]


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("2026-12-21", date(2026, 12, 21)),
        ("21.12.2026", date(2026, 12, 21)),
        ("01.01.2027", date(2027, 1, 1)),
        ("2028-02-29", date(2028, 2, 29)),
        ("2027-02-29", None),
        ("31.12.26", None),
        ("12/21/2026", None),
        ("2026-13-01", None),
        ("завтра", None),
        ("0001-01-01", None),
        ("01.01.0202", None),
        ("9999-12-31", None),
    ],
)
def test_parse_date(raw: str, parsed: date | None) -> None:
    assert parse_date(raw) == parsed


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("9:05", time(9, 5)),
        ("09.30", time(9, 30)),
        ("09:00:00", time(9, 0)),
        ("24:00", None),
        ("12:60", None),
        ("9", None),
        ("9:5", None),
        ("09:00:30", None),
        ("9 утра", None),
    ],
)
def test_parse_time(raw: str, parsed: time | None) -> None:
    assert parse_time(raw) == parsed


def test_midnight_edges_in_moscow() -> None:
    # Moscow is UTC+3 all year: 00:00 is still the previous day in UTC.
    assert one_exam(start="00:00", date="2027-01-01") == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    assert one_exam(start="23:59", date="2026-12-31") == datetime(2026, 12, 31, 20, 59, tzinfo=UTC)
    # No DST in Moscow: summer and winter give the same offset.
    assert one_exam(date="2026-07-01", start="12:00").hour == 9


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        ("UTC", "2026-12-21 09:00", "2026-12-21 09:00"),
        ("Asia/Bishkek", "2026-12-21 09:00", "2026-12-21 03:00"),
        ("Asia/Kolkata", "2026-12-21 09:00", "2026-12-21 03:30"),
        ("America/New_York", "2026-12-21 09:00", "2026-12-21 14:00"),
        ("America/New_York", "2026-07-01 09:00", "2026-07-01 13:00"),
        ("Europe/Berlin", "2026-03-29 03:00", "2026-03-29 01:00"),
        ("Pacific/Kiritimati", "2027-01-01 00:00", "2026-12-31 10:00"),
    ],
)
def test_other_time_zones(zone: str, local: str, utc: str) -> None:
    day, at = local.split()
    expected = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert one_exam(ZoneInfo(zone), date=day, start=at) == expected


def test_dst_gap_is_an_error_for_that_row() -> None:
    errors = schedule_errors(
        exam(),
        exam(discipline="Гистология", date="2026-03-29", start="02:30"),
        tz=BERLIN,
    )
    assert errors == [RowError(3, "start", "nonexistent_time", "02:30")]
    ny = ZoneInfo("America/New_York")
    assert schedule_errors(exam(date="2026-03-08", start="2:15"), tz=ny) == [
        RowError(2, "start", "nonexistent_time", "2:15")
    ]


def test_dst_fold_takes_the_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25: first at +02:00 (00:30 UTC), then +01:00.
    assert one_exam(BERLIN, date="2026-10-25", start="02:30") == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    assert local_to_utc(date(2026, 10, 25), time(2, 30), BERLIN) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    assert local_to_utc(date(2026, 3, 29), time(2, 30), BERLIN) is None


@pytest.mark.parametrize("duration", ["1", "600", "090"])
def test_duration_accepted(duration: str) -> None:
    assert schedule_errors(exam(duration_min=duration)) == []


@pytest.mark.parametrize("duration", ["0", "601", "-5", "1.5", "90 мин", "abc", "99999"])
def test_bad_duration(duration: str) -> None:
    assert schedule_errors(exam(duration_min=duration)) == [
        RowError(2, "duration_min", "bad_duration", duration)
    ]


@pytest.mark.parametrize(
    "url",
    ["https://my.mts-link.ru/j/71234/5", "HTTP://Example.com", "http://10.0.0.1:8080/x?y=1"],
)
def test_good_urls(url: str) -> None:
    assert schedule_errors(exam(link=url, moodle_url=url)) == []


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "https://", "www.example.com", "https://exa mple.com", "http://[::1"],
)
def test_bad_urls(url: str) -> None:
    assert schedule_errors(exam(moodle_url=url)) == [RowError(2, "moodle_url", "bad_url", url)]


def test_too_long_url() -> None:
    url = "https://example.com/" + "a" * 2100
    assert schedule_errors(exam(link=url)) == [RowError(2, "link", "too_long", url)]


def test_unknown_kind_and_form() -> None:
    assert schedule_errors(exam(kind="практика", form="устно-письменно")) == [
        RowError(2, "kind", "unknown_kind", "практика"),
        RowError(2, "form", "unknown_form", "устно-письменно"),
    ]


def test_every_cell_of_a_bad_row_is_reported() -> None:
    row = exam(discipline="", kind="", form="", date="", start="", duration_min="")
    assert [(e.column, e.code) for e in schedule_errors(row)] == [
        ("discipline", "empty"),
        ("kind", "empty"),
        ("form", "empty"),
        ("date", "empty"),
        ("start", "empty"),
        ("duration_min", "empty"),
    ]
    assert [
        (e.column, e.code) for e in schedule_errors(exam(date="32.12.2026", start="25:00"))
    ] == [
        ("date", "bad_date"),
        ("start", "bad_time"),
    ]


def test_duplicate_exam_ignores_case_spaces_and_yo() -> None:
    errors = schedule_errors(
        exam(discipline="Общая химия"),
        exam(discipline="Общая химия", kind="consultation"),  # another kind: fine
        exam(discipline="Общая химия", group="1102"),  # another group: fine
        exam(discipline="ОБЩАЯ  ХИМИЯ", kind="Экзамен", date="2026-12-22"),
    )
    assert errors == [RowError(5, "discipline", "duplicate_exam", "ОБЩАЯ ХИМИЯ", ref_row=2)]
    errors = schedule_errors(
        exam(faculty="Лечебный факультет", discipline="Учёт"),
        exam(faculty="лечебный факультет", discipline="Учет"),
    )
    assert [(e.row, e.code, e.ref_row) for e in errors] == [(3, "duplicate_exam", 2)]


def test_template_columns() -> None:
    assert ROSTER_HEADER == ["faculty", "group", "full_name", "record_book"]
    assert ",".join(SCHEDULE_HEADER) == (
        "faculty,group,discipline,kind,form,date,start,duration_min,teacher,link,moodle_url"
    )


def test_kinds_and_forms_are_the_template_values() -> None:
    assert KINDS == ("exam", "consultation")
    assert FORMS == ("oral", "test", "written", "combined")


def test_every_error_code_is_produced() -> None:
    roster_rows = parse_roster([ROSTER_HEADER, student()]).rows
    errors = [
        *parse_roster([["Группа"]]).errors,
        *parse_roster([[*ROSTER_HEADER, "ФИО"]]).errors,
        *parse_roster([ROSTER_HEADER]).errors,
        *parse_roster([ROSTER_HEADER, *([student()] * (MAX_DATA_ROWS + 1))]).errors,
        *parse_roster([ROSTER_HEADER, student(book="1"), student(book="1")]).errors,
        *parse_roster([ROSTER_HEADER, student(name="", book="1" * 40)]).errors,
        *schedule_errors(
            exam(kind="?", form="?", date="?", start="?", duration_min="0", link="ftp://x"),
            exam(),
            exam(),
        ),
        *schedule_errors(exam(date="2026-03-29", start="02:00"), tz=BERLIN),
        *foreign_faculty_errors(roster_rows, ["Педиатрический факультет"]),
    ]
    # "unknown_table" is raised by the service when detect_table gives None (tested there).
    assert detect_table(["a", "b"]) is None
    assert {e.code for e in errors} | {"unknown_table"} == set(ROW_ERROR_CODES)
    assert len(ROW_ERROR_CODES) == len(set(ROW_ERROR_CODES))


# --- which template, whose faculty -----------------------------------------------------


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (ROSTER_HEADER, TableKind.ROSTER),
        (["\ufeffФакультет", "Группа", "ФИО", "Номер зачётной книжки"], TableKind.ROSTER),
        (["ФИО", "Зачетная книжка"], TableKind.ROSTER),
        (SCHEDULE_HEADER, TableKind.SCHEDULE),
        (["Факультет", "Группа", "Дисциплина", "Дата", "Время"], TableKind.SCHEDULE),
        (["Факультет", "Группа"], None),
        (["Фамилия", "Имя", "Отчество"], None),
        ([], None),
        (["ФИО", "Дисциплина"], None),  # one of each: a guess would be a coin toss
    ],
)
def test_detect_table(header: list[str], kind: TableKind | None) -> None:
    assert detect_table(header) is kind


def test_foreign_faculty_errors_ignore_case_and_spacing() -> None:
    rows = parse_roster(
        [
            ROSTER_HEADER,
            student(book="1"),
            ["Педиатрический факультет", "2101", "Фёдоров Никита", "2"],
            ["ЛЕЧЕБНЫЙ  факультет", "1101", "Ёлкина Дарья", "3"],
        ]
    ).rows
    assert foreign_faculty_errors(rows, ["лечебный факультет"]) == [
        RowError(3, "faculty", "foreign_faculty", "Педиатрический факультет")
    ]
    assert foreign_faculty_errors(rows, []) == [
        RowError(r, "faculty", "foreign_faculty", f)
        for r, f in [
            (2, "Лечебный факультет"),
            (3, "Педиатрический факультет"),
            (4, "ЛЕЧЕБНЫЙ факультет"),
        ]
    ]


@pytest.mark.parametrize(
    ("kind", "pass_fail"),
    [
        ("exam", False),
        ("Экзамен", False),
        ("credit", True),
        ("Зачёт", True),
        ("зачет", True),
        ("Дифференцированный  зачёт", False),  # a graded credit: the four grades
        ("дифзачёт", False),
    ],
)
def test_a_credit_is_an_exam_graded_pass_or_fail(kind: str, pass_fail: bool) -> None:
    result = parse_schedule([SCHEDULE_HEADER, exam(kind=kind)], MOSCOW)
    assert result.errors == []
    [row] = result.rows
    assert (row.kind, row.pass_fail) == ("exam", pass_fail)
