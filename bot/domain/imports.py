"""Rows of the roster, schedule and study-plan import templates: recognised, checked,
normalised.

Pure: takes a table that has already been read from a file (a list of rows of cell
strings, header first) and returns typed rows plus row-level errors. Reading files and
writing to the database belong to `bot.services.imports`.

Errors carry stable codes, never prose: the handler layer translates them with gettext.
Row numbers are the ones a person sees in a spreadsheet: the header is row 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot.domain.exams import EventKind, ExamForm
from bot.domain.links import normalize_link
from bot.domain.plans import LEVEL_VALUES, parse_limit

MAX_DATA_ROWS = 50_000
MAX_DURATION_MIN = 600
MIN_YEAR, MAX_YEAR = 2000, 2100
HEADER_ROW = 1

# These mirror the column sizes in bot/db/models.py: a longer value is a row error here
# rather than a database error (PostgreSQL refuses it, SQLite would silently keep it).
MAX_NAME_LEN = 255
MAX_GROUP_LEN = 64
MAX_RECORD_BOOK_LEN = 32
MAX_URL_LEN = 2048
# Not a column size (place_time is Text): a longer cell is a paste gone wrong, and it would
# crowd the student's /plan.
MAX_PLACE_TIME_LEN = 1000
MAX_HOURS = 9999
MAX_ECTS = 100

KINDS = tuple(EventKind)
FORMS = tuple(ExamForm)

ROW_ERROR_CODES = (
    "missing_columns",  # row 1; value lists the canonical names, comma-separated
    "duplicate_column",  # row 1; two header cells mean the same column
    "too_many_rows",  # more than MAX_DATA_ROWS data rows; value is the limit
    "no_rows",  # a header and nothing under it
    "empty",
    "too_long",
    "bad_date",
    "bad_time",
    "nonexistent_time",  # the local time falls into a DST gap
    "unknown_kind",
    "unknown_form",
    "bad_duration",
    "bad_url",
    "duplicate_record_book",  # ref_row names the first row with it
    "duplicate_exam",  # ref_row names the first row with it
    "foreign_faculty",  # the row's faculty is not one the importing dean may touch
    "unknown_table",  # row 1; the header fits neither template
)

# The individual study plan template's own codes (it uses the shared ones above too).
PLAN_ERROR_CODES = (
    "bad_hours",  # not a whole number of hours from 0 to MAX_HOURS
    "bad_ects",  # not a number of credits from 0 to MAX_ECTS
    "distance_over_total",  # more distance hours than lectures + labs + practice
    "unknown_level",  # programme_level is none of LEVEL_VALUES
    "bad_limit",  # distance_limit is not a share in (0, 100 %]
    "duplicate_plan_item",  # the same (record book, discipline); ref_row names the first
    "unknown_record_book",  # no student on the roster has it
    "foreign_student",  # the student is of a faculty the importing dean may not touch
)

ROSTER_COLUMNS = ("faculty", "group", "full_name", "record_book")
SCHEDULE_COLUMNS = (
    "faculty",
    "group",
    "discipline",
    "kind",
    "form",
    "date",
    "start",
    "duration_min",
    "teacher",
    "link",
    "moodle_url",
)
# A schedule without these columns is still complete: nobody is assigned and no links yet.
SCHEDULE_OPTIONAL = frozenset({"teacher", "link", "moodle_url"})
# Appendix 1's columns, plus what the distance-share rule needs.
PLAN_COLUMNS = (
    "record_book",
    "discipline",
    "department",
    "ects",
    "lecture_hours",
    "lab_hours",
    "practice_hours",
    "distance_hours",
    "place_time",
    "deadline",
    "teacher",
    "programme_level",
    "distance_limit",
)
# Not in appendix 1's form: a plan without them is held to PLAN_DISTANCE_LIMIT, or to no
# limit at all when it has no distance hours.
PLAN_OPTIONAL = frozenset({"distance_hours", "programme_level", "distance_limit"})

_RECORD_BOOK_ALIASES = (
    "Номер зачетной книжки",
    "№ зачетной книжки",
    "Зачетная книжка",
    "Номер зачетки",
    "№ зачетки",
)
_COMMON_ALIASES: Mapping[str, tuple[str, ...]] = {
    "faculty": ("Факультет",),
    "group": ("Группа", "№ группы", "Номер группы"),
}
ROSTER_ALIASES: Mapping[str, tuple[str, ...]] = {
    **_COMMON_ALIASES,
    "full_name": ("ФИО", "Ф.И.О.", "ФИО обучающегося", "ФИО студента"),
    "record_book": _RECORD_BOOK_ALIASES,
}
SCHEDULE_ALIASES: Mapping[str, tuple[str, ...]] = {
    **_COMMON_ALIASES,
    "discipline": ("Дисциплина",),
    "kind": ("Вид", "Вид мероприятия"),
    "form": ("Форма", "Форма проведения"),
    "date": ("Дата",),
    "start": ("Начало", "Время", "Время начала"),
    "duration_min": (
        "Длительность (мин)",
        "Длительность, мин",
        "Длительность",
        "Продолжительность (мин)",
        "Продолжительность",
    ),
    "teacher": ("Преподаватель", "Экзаменатор", "ФИО преподавателя"),
    "link": ("Ссылка", "Ссылка на конференцию"),
    "moodle_url": ("Moodle", "Ссылка Moodle", "Ссылка на Moodle"),
}
PLAN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "record_book": _RECORD_BOOK_ALIASES,
    "discipline": ("Дисциплина", "Дисциплина (модуль)", "Наименование дисциплины"),
    "department": ("Кафедра",),
    "ects": ("З.е.", "З.е", "ЗЕ", "Зачетные единицы", "Трудоемкость (з.е.)", "ECTS"),
    "lecture_hours": ("Лекции", "Лекции (ч)", "Лекции, ч"),
    "lab_hours": ("Лабораторные", "Лабораторные (ч)", "Лабораторные работы"),
    "practice_hours": ("Практические", "Практические (ч)", "Практические занятия"),
    "distance_hours": ("Дистанционно (ч)", "Дистанционно", "Дистанционно, ч", "С применением ДОТ"),
    "place_time": ("Место и время", "Место и время проведения"),
    "deadline": ("Срок сдачи", "Срок"),
    "teacher": ("Преподаватель", "ФИО преподавателя"),
    "programme_level": ("Уровень", "Уровень образования", "Уровень обучения"),
    "distance_limit": ("Доля ДОТ", "Предел ДОТ", "Предельная доля ДОТ"),
}

_KIND_VALUES = {
    "exam": "exam",
    "экзамен": "exam",
    # A credit (зачёт) is sat as an exam is and graded зачтено / не зачтено; a graded
    # credit (дифференцированный зачёт) takes the four grades, as an exam.
    "credit": "exam",
    "зачет": "exam",
    "дифференцированный зачет": "exam",
    "дифзачет": "exam",
    "consultation": "consultation",
    "консультация": "consultation",
    "предэкзаменационная консультация": "consultation",
}
_PASS_FAIL_KINDS = frozenset({"credit", "зачет"})
_FORM_VALUES = {
    "oral": "oral",
    "устно": "oral",
    "устный": "oral",
    "устное собеседование": "oral",
    "собеседование": "oral",
    "test": "test",
    "тест": "test",
    "тестирование": "test",
    "компьютерное тестирование": "test",
    "written": "written",
    "письменно": "written",
    "письменный": "written",
    "письменная работа": "written",
    "combined": "combined",
    "комбинированный": "combined",
    "комбинированная": "combined",
}

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_RU_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
# Seconds are tolerated because spreadsheet CSV exports often write 09:00:00.
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?::(\d{2}))?")
_DURATION = re.compile(r"\d{1,4}")
_HOURS = re.compile(r"\d{1,4}")
_ECTS = re.compile(r"\d{1,3}(?:[.,]\d{1,2})?")

T = TypeVar("T")


class TableKind(StrEnum):
    ROSTER = "roster"
    SCHEDULE = "schedule"
    PLAN = "plan"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one cell (or one row, when column is None)."""

    row: int
    column: str | None
    code: str
    value: str
    # For duplicates: the earlier row that already has this value.
    ref_row: int | None = None
    # The column as the file's header names it («ФИО»), for the message; see name_columns.
    heading: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RosterRow:
    row: int
    faculty: str
    group: str
    full_name: str
    record_book: str
    surname_key: str


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    row: int
    faculty: str
    group: str
    discipline: str
    kind: str  # one of KINDS
    form: str  # one of FORMS
    starts_at: datetime  # aware, UTC
    duration_min: int
    teacher: str | None
    link: str | None
    moodle_url: str | None
    pass_fail: bool = False  # a credit (kind "credit" / "зачёт"): зачтено / не зачтено


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One discipline of one student's individual study plan."""

    row: int
    record_book: str
    discipline: str
    department: str
    ects: float | None
    lecture_hours: int
    lab_hours: int
    practice_hours: int
    distance_hours: int
    place_time: str
    deadline: date
    teacher: str
    programme_level: str  # a ProgrammeLevel value, or ""
    distance_limit: float | None  # a fraction in (0, 1]


@dataclass(frozen=True, slots=True)
class ParseResult(Generic[T]):
    """The rows that passed every check, and every problem found.

    A file is meant to be taken whole or not at all: a caller writes `rows` only when
    `errors` is empty.
    """

    rows: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- text normalisation -----------------------------------------------------------------


def clean_text(value: str) -> str:
    """Collapse runs of whitespace (NBSP included) and trim; BOMs are dropped."""
    return " ".join(value.replace("\ufeff", "").split())


def name_key(value: str) -> str:
    """How names are compared: case-insensitive, ё = е, whitespace-insensitive.

    Faculties, groups, disciplines and teachers are matched by this key, so
    "Лечебный  факультет" in one file and "лечебный факультет" in the next are one faculty.
    """
    return clean_text(value).casefold().replace("ё", "е")


def normalize_surname(text: str) -> str:
    """What a student typed as their surname, in the form `surname_key` produces.

    Only the first word counts, so typing the whole ФИО also works; punctuation stuck
    to it ("Иванов,") is ignored.
    """
    return name_key(text).split(" ", 1)[0].strip(".,;:")


def surname_key(full_name: str) -> str:
    """The key a roster entry is matched by: the ФИО's first word, casefolded, ё → е."""
    return normalize_surname(full_name)


def normalize_record_book(value: str) -> str:
    # People type "12 345" or paste with NBSPs, and "12а" for "12А": the number itself has
    # no spaces, and its letters are compared in one case.
    return "".join(value.split()).upper()


# --- time ------------------------------------------------------------------------------


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime | None:
    """A wall-clock time in `tz` as an aware UTC datetime; None if it does not exist.

    A time that falls into a spring-forward gap never happens on the clock, so it is
    refused rather than guessed. A time that happens twice (autumn fall-back) means the
    first occurrence, i.e. still on summer time (fold=0): an exam announced for 02:30
    on that night starts the first time the clocks show 02:30.
    """
    local = datetime.combine(day, at, tzinfo=tz)  # fold=0: the first occurrence
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return utc


def parse_date(value: str) -> date | None:
    """YYYY-MM-DD or dd.mm.yyyy; None if neither, not a real date, or not in 2000–2100."""
    text = value.strip()
    if m := _ISO_DATE.fullmatch(text):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := _RU_DATE.fullmatch(text):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    else:
        return None
    # Catches typos such as 0202 or 20266, and keeps UTC conversion away from year 1.
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_time(value: str) -> time | None:
    """HH:MM, H:MM or HH.MM (seconds, if any, must be :00); None otherwise."""
    m = _TIME.fullmatch(value.strip())
    if m is None:
        return None
    hour, minute = int(m[1]), int(m[2])
    if hour > 23 or minute > 59 or (m[3] is not None and int(m[3]) != 0):
        return None
    return time(hour, minute)


# --- tables ----------------------------------------------------------------------------


def _alias_lookup(aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for canonical, names in aliases.items():
        lookup[name_key(canonical)] = canonical
        for name in names:
            lookup[name_key(name)] = canonical
    return lookup


_ROSTER_LOOKUP = _alias_lookup(ROSTER_ALIASES)
_SCHEDULE_LOOKUP = _alias_lookup(SCHEDULE_ALIASES)
_PLAN_LOOKUP = _alias_lookup(PLAN_ALIASES)

# The Russian header of each column, as the templates (/templates) write it and as a
# message names a column the file lacks.
HEADINGS: Mapping[str, str] = {
    "faculty": "Факультет",
    "group": "Группа",
    "full_name": "ФИО",
    "record_book": "Номер зачётной книжки",
    "discipline": "Дисциплина",
    "kind": "Вид",
    "form": "Форма",
    "date": "Дата",
    "start": "Начало",
    "duration_min": "Длительность (мин)",
    "teacher": "Преподаватель",
    "link": "Ссылка на конференцию",
    "moodle_url": "Ссылка на Moodle",
    "department": "Кафедра",
    "ects": "З.е.",
    "lecture_hours": "Лекции (ч)",
    "lab_hours": "Лабораторные (ч)",
    "practice_hours": "Практические (ч)",
    "distance_hours": "Дистанционно (ч)",
    "place_time": "Место и время",
    "deadline": "Срок сдачи",
    "programme_level": "Уровень образования",
    "distance_limit": "Доля ДОТ",
}
TABLE_COLUMNS: Mapping[TableKind, tuple[str, ...]] = {
    TableKind.ROSTER: ROSTER_COLUMNS,
    TableKind.SCHEDULE: SCHEDULE_COLUMNS,
    TableKind.PLAN: PLAN_COLUMNS,
}
_LOOKUPS: Mapping[TableKind, Mapping[str, str]] = {
    TableKind.ROSTER: _ROSTER_LOOKUP,
    TableKind.SCHEDULE: _SCHEDULE_LOOKUP,
    TableKind.PLAN: _PLAN_LOOKUP,
}


def headings(columns: Iterable[str]) -> str:
    """«Факультет, Группа, ФИО»: columns by their Russian headers, for a message."""
    return ", ".join(HEADINGS.get(c, c) for c in columns)


def name_columns(
    errors: Sequence[RowError], header: Sequence[str], kind: TableKind
) -> list[RowError]:
    """The errors with each column named as the file's header names it («ФИО», not
    full_name), and missing columns listed by their Russian headers."""
    lookup = _LOOKUPS[kind]
    found: dict[str, str] = {}
    for cell in header:
        canonical = lookup.get(name_key(cell))
        if canonical is not None and canonical not in found:
            found[canonical] = clean_text(cell)
    named: list[RowError] = []
    for err in errors:
        if err.code == "missing_columns":
            err = replace(err, value=headings(err.value.split(",")))
        elif err.column is not None:
            err = replace(err, heading=found.get(err.column) or HEADINGS.get(err.column))
        named.append(err)
    return named


def _is_blank(row: Sequence[str]) -> bool:
    return all(not clean_text(cell) for cell in row)


def _map_header(
    header: Sequence[str],
    lookup: Mapping[str, str],
    columns: Sequence[str],
    *,
    optional: frozenset[str] = frozenset(),
) -> tuple[dict[str, int], list[RowError]]:
    """Column name → index; unknown header cells are ignored (notes, row numbers...)."""
    index: dict[str, int] = {}
    errors: list[RowError] = []
    for i, cell in enumerate(header):
        canonical = lookup.get(name_key(cell))
        if canonical is None:
            continue
        if canonical in index:
            errors.append(RowError(HEADER_ROW, canonical, "duplicate_column", clean_text(cell)))
            continue
        index[canonical] = i
    missing = [c for c in columns if c not in index and c not in optional]
    if missing:
        errors.insert(0, RowError(HEADER_ROW, None, "missing_columns", ",".join(missing)))
    return index, errors


def _data_rows(
    table: Sequence[Sequence[str]],
) -> Iterator[tuple[int, Sequence[str]]]:
    for i, row in enumerate(table[1:], start=HEADER_ROW + 1):
        if not _is_blank(row):
            yield i, row


def _count_error(table: Sequence[Sequence[str]]) -> RowError | None:
    count = 0
    for count, (number, _row) in enumerate(_data_rows(table), start=1):
        if count > MAX_DATA_ROWS:
            return RowError(number, None, "too_many_rows", str(MAX_DATA_ROWS))
    if count == 0:
        return RowError(HEADER_ROW + 1, None, "no_rows", "")
    return None


class _Cells:
    """One data row's cells by column name, collecting that row's errors."""

    __slots__ = ("errors", "index", "number", "row")

    def __init__(
        self, number: int, row: Sequence[str], index: Mapping[str, int], *, errors: list[RowError]
    ) -> None:
        self.number = number
        self.row = row
        self.index = index
        self.errors = errors

    def raw(self, column: str) -> str:
        i = self.index.get(column)
        return clean_text(self.row[i]) if i is not None and i < len(self.row) else ""

    def error(self, column: str, code: str, value: str, *, ref_row: int | None = None) -> None:
        self.errors.append(RowError(self.number, column, code, value, ref_row))

    def text(self, column: str, max_len: int, *, required: bool = True) -> str | None:
        value = self.raw(column)
        if not value:
            if required:
                self.error(column, "empty", value)
            return None
        if len(value) > max_len:
            self.error(column, "too_long", value)
            return None
        return value

    def record_book(self) -> str | None:
        value = normalize_record_book(self.raw("record_book"))
        if not value:
            self.error("record_book", "empty", value)
            return None
        if len(value) > MAX_RECORD_BOOK_LEN:
            self.error("record_book", "too_long", value)
            return None
        return value

    def url(self, column: str) -> str | None:
        value = self.raw(column)
        if not value:
            return None
        if len(value) > MAX_URL_LEN:
            self.error(column, "too_long", value)
        elif normalize_link(value) is None:
            self.error(column, "bad_url", value)
        return value


def _prelude(
    table: Sequence[Sequence[str]],
    lookup: Mapping[str, str],
    columns: Sequence[str],
    *,
    optional: frozenset[str] = frozenset(),
) -> tuple[dict[str, int], list[RowError]]:
    if not table:
        return {}, [RowError(HEADER_ROW, None, "missing_columns", ",".join(columns))]
    index, errors = _map_header(table[0], lookup, columns, optional=optional)
    if errors:
        return index, errors
    count_error = _count_error(table)
    return index, [count_error] if count_error else []


def detect_table(header: Sequence[str]) -> TableKind | None:
    """Which template a header belongs to: the one that recognises most of its columns,
    not counting faculty and group, which roster and schedule share.

    A plan shares its record book with the roster and its discipline and teacher with
    the schedule, and still wins on its own columns. None when nothing fits or two fit
    equally: guessing wrong would report every row as bad.
    """
    keys = {name_key(cell) for cell in header}
    shared = set(_COMMON_ALIASES)
    lookups = {
        TableKind.ROSTER: _ROSTER_LOOKUP,
        TableKind.SCHEDULE: _SCHEDULE_LOOKUP,
        TableKind.PLAN: _PLAN_LOOKUP,
    }
    scores = {
        kind: len({c for k in keys if (c := lookup.get(k)) and c not in shared})
        for kind, lookup in lookups.items()
    }
    best = max(scores.values())
    winners = [kind for kind, score in scores.items() if score == best]
    return winners[0] if best and len(winners) == 1 else None


class _FacultyRow(Protocol):
    @property
    def row(self) -> int: ...

    @property
    def faculty(self) -> str: ...


def foreign_faculty_errors(rows: Iterable[_FacultyRow], allowed: Iterable[str]) -> list[RowError]:
    """Rows whose faculty is not among `allowed` (a dean imports for their own faculty only)."""
    keys = {name_key(name) for name in allowed}
    return [
        RowError(r.row, "faculty", "foreign_faculty", r.faculty)
        for r in rows
        if name_key(r.faculty) not in keys
    ]


def parse_roster(table: Sequence[Sequence[str]]) -> ParseResult[RosterRow]:
    """The roster template: faculty, group, full_name, record_book (one student a row)."""
    index, errors = _prelude(table, _ROSTER_LOOKUP, ROSTER_COLUMNS)
    if errors:
        return ParseResult(errors=errors)
    rows: list[RosterRow] = []
    first_seen: dict[str, int] = {}
    for number, row in _data_rows(table):
        before = len(errors)
        cells = _Cells(number, row, index, errors=errors)
        faculty = cells.text("faculty", MAX_NAME_LEN)
        group = cells.text("group", MAX_GROUP_LEN)
        full_name = cells.text("full_name", MAX_NAME_LEN)
        record_book = cells.record_book()
        if record_book in first_seen:
            cells.error(
                "record_book", "duplicate_record_book", record_book, ref_row=first_seen[record_book]
            )
        elif record_book:
            first_seen[record_book] = number
        if len(errors) > before:
            continue
        assert faculty and group and full_name and record_book  # no new errors: all present
        rows.append(
            RosterRow(number, faculty, group, full_name, record_book, surname_key(full_name))
        )
    return ParseResult(rows=rows, errors=errors)


def parse_schedule(table: Sequence[Sequence[str]], tz: ZoneInfo) -> ParseResult[ScheduleRow]:
    """The schedule template; dates and times are wall-clock times in `tz`.

    Times become aware UTC datetimes via `local_to_utc`: a time inside a DST gap is a
    "nonexistent_time" error, an ambiguous one (autumn fall-back) is its first occurrence.
    `teacher`, `link` and `moodle_url` may be empty, or missing as columns altogether.
    """
    index, errors = _prelude(table, _SCHEDULE_LOOKUP, SCHEDULE_COLUMNS, optional=SCHEDULE_OPTIONAL)
    if errors:
        return ParseResult(errors=errors)
    rows: list[ScheduleRow] = []
    first_seen: dict[tuple[str, str, str, str], int] = {}
    for number, row in _data_rows(table):
        before = len(errors)
        cells = _Cells(number, row, index, errors=errors)
        faculty = cells.text("faculty", MAX_NAME_LEN)
        group = cells.text("group", MAX_GROUP_LEN)
        discipline = cells.text("discipline", MAX_NAME_LEN)
        kind = _choice(cells, "kind", _KIND_VALUES, code="unknown_kind")
        form = _choice(cells, "form", _FORM_VALUES, code="unknown_form")
        starts_at = _starts_at(cells, tz)
        duration = _duration(cells)
        teacher = cells.text("teacher", MAX_NAME_LEN, required=False)
        link = cells.url("link")
        moodle_url = cells.url("moodle_url")
        if faculty and group and discipline and kind:
            key = (name_key(faculty), name_key(group), name_key(discipline), kind)
            if key in first_seen:
                cells.error("discipline", "duplicate_exam", discipline, ref_row=first_seen[key])
            else:
                first_seen[key] = number
        if len(errors) > before:
            continue
        assert faculty and group and discipline and kind and form and starts_at and duration
        rows.append(
            ScheduleRow(
                number,
                faculty,
                group,
                discipline,
                kind,
                form,
                starts_at,
                duration,
                teacher,
                link,
                moodle_url,
                pass_fail=name_key(cells.raw("kind") or "") in _PASS_FAIL_KINDS,
            )
        )
    return ParseResult(rows=rows, errors=errors)


def _choice(cells: _Cells, column: str, values: Mapping[str, str], *, code: str) -> str | None:
    raw = cells.raw(column)
    if not raw:
        cells.error(column, "empty", raw)
        return None
    value = values.get(name_key(raw))
    if value is None:
        cells.error(column, code, raw)
    return value


def _starts_at(cells: _Cells, tz: ZoneInfo) -> datetime | None:
    raw_date, raw_time = cells.raw("date"), cells.raw("start")
    day = parse_date(raw_date) if raw_date else None
    at = parse_time(raw_time) if raw_time else None
    if not raw_date:
        cells.error("date", "empty", raw_date)
    elif day is None:
        cells.error("date", "bad_date", raw_date)
    if not raw_time:
        cells.error("start", "empty", raw_time)
    elif at is None:
        cells.error("start", "bad_time", raw_time)
    if day is None or at is None:
        return None
    utc = local_to_utc(day, at, tz)
    if utc is None:
        cells.error("start", "nonexistent_time", raw_time)
    return utc


def _duration(cells: _Cells) -> int | None:
    raw = cells.raw("duration_min")
    if not raw:
        cells.error("duration_min", "empty", raw)
        return None
    if not _DURATION.fullmatch(raw) or not 0 < int(raw) <= MAX_DURATION_MIN:
        cells.error("duration_min", "bad_duration", raw)
        return None
    return int(raw)


def parse_plan(table: Sequence[Sequence[str]]) -> ParseResult[PlanRow]:
    """The individual study plan template: one discipline of one student a row, keyed by
    (record book, discipline).

    Whether the record books are on the roster is for the caller to check
    (`record_book_errors`): that needs the database. Empty hours are 0, empty credits
    unknown; department, place and time, and teacher may be empty.
    """
    index, errors = _prelude(table, _PLAN_LOOKUP, PLAN_COLUMNS, optional=PLAN_OPTIONAL)
    if errors:
        return ParseResult(errors=errors)
    rows: list[PlanRow] = []
    first_seen: dict[tuple[str, str], int] = {}
    for number, row in _data_rows(table):
        before = len(errors)
        cells = _Cells(number, row, index, errors=errors)
        record_book = cells.record_book()
        discipline = cells.text("discipline", MAX_NAME_LEN)
        department = cells.text("department", MAX_NAME_LEN, required=False)
        ects = _ects(cells)
        lecture = _hours(cells, "lecture_hours")
        lab = _hours(cells, "lab_hours")
        practice = _hours(cells, "practice_hours")
        distance = _hours(cells, "distance_hours")
        if (
            lecture is not None
            and lab is not None
            and practice is not None
            and distance is not None
            and distance > lecture + lab + practice
        ):
            # Distance hours are the part of the contact hours held remotely, not extra.
            cells.error("distance_hours", "distance_over_total", cells.raw("distance_hours"))
        place_time = cells.text("place_time", MAX_PLACE_TIME_LEN, required=False)
        deadline = _date(cells, "deadline")
        teacher = cells.text("teacher", MAX_NAME_LEN, required=False)
        level = _level(cells)
        limit = _limit(cells)
        if record_book and discipline:
            key = (record_book, name_key(discipline))
            if key in first_seen:
                cells.error(
                    "discipline", "duplicate_plan_item", discipline, ref_row=first_seen[key]
                )
            else:
                first_seen[key] = number
        if len(errors) > before:
            continue
        assert record_book and discipline and deadline and level is not None  # no new errors
        assert lecture is not None and lab is not None and practice is not None
        assert distance is not None
        rows.append(
            PlanRow(
                number,
                record_book,
                discipline,
                department or "",
                ects,
                lecture,
                lab,
                practice,
                distance,
                place_time or "",
                deadline,
                teacher or "",
                level,
                limit,
            )
        )
    return ParseResult(rows=rows, errors=errors)


def record_book_errors(
    rows: Iterable[PlanRow],
    faculties: Mapping[str, str],
    allowed: Iterable[str] | None = None,
) -> list[RowError]:
    """Rows whose record book no student has, or (a dean's import, `allowed` faculty
    names) whose student is of another faculty. `faculties`: record book → faculty name."""
    keys = None if allowed is None else {name_key(name) for name in allowed}
    errors = []
    for r in rows:
        faculty = faculties.get(r.record_book)
        if faculty is None:
            errors.append(RowError(r.row, "record_book", "unknown_record_book", r.record_book))
        elif keys is not None and name_key(faculty) not in keys:
            errors.append(RowError(r.row, "record_book", "foreign_student", r.record_book))
    return errors


def _hours(cells: _Cells, column: str) -> int | None:
    raw = cells.raw(column)
    if not raw:
        return 0
    if not _HOURS.fullmatch(raw) or int(raw) > MAX_HOURS:
        # "-4" lands here too: a negative number of hours is a typo, not a credit.
        cells.error(column, "bad_hours", raw)
        return None
    return int(raw)


def _ects(cells: _Cells) -> float | None:
    raw = cells.raw("ects")
    if not raw:
        return None
    if not _ECTS.fullmatch(raw) or float(raw.replace(",", ".")) > MAX_ECTS:
        cells.error("ects", "bad_ects", raw)
        return None
    return float(raw.replace(",", "."))


def _date(cells: _Cells, column: str) -> date | None:
    raw = cells.raw(column)
    if not raw:
        cells.error(column, "empty", raw)
        return None
    day = parse_date(raw)
    if day is None:
        cells.error(column, "bad_date", raw)
    return day


def _level(cells: _Cells) -> str | None:
    raw = cells.raw("programme_level")
    if not raw:
        return ""
    level = LEVEL_VALUES.get(name_key(raw))
    if level is None:
        cells.error("programme_level", "unknown_level", raw)
        return None
    return level.value


def _limit(cells: _Cells) -> float | None:
    raw = cells.raw("distance_limit")
    if not raw:
        return None
    limit = parse_limit(raw)
    if limit is None:
        cells.error("distance_limit", "bad_limit", raw)
    return limit
