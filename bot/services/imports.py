"""Importing the roster, the exam schedule and individual study plans from a CSV or XLSX
file into the database.

Used by the dean's/admin's upload handler and by the CLI. A file is read into a table of
strings, checked whole by `bot.domain.imports`, and only when every row is valid upserted
in the caller's transaction (the caller commits, or rolls back on an exception). Nothing
is ever deleted: a student, an exam or a plan's discipline missing from a later file
stays as it was.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.db.models import (
    Discipline,
    Exam,
    Faculty,
    Group,
    PlanItem,
    Student,
    Subgroup,
    Teacher,
)
from bot.domain.imports import (
    HEADER_ROW,
    MAX_DATA_ROWS,
    ParseResult,
    PlanRow,
    RosterRow,
    RowError,
    ScheduleRow,
    TableKind,
    detect_table,
    foreign_faculty_errors,
    name_columns,
    name_key,
    parse_plan,
    parse_roster,
    parse_schedule,
    record_book_errors,
)
from bot.domain.plans import DEFAULT_DISTANCE_LIMIT, ShareExcess
from bot.services.plans import distance_excesses

__all__ = [
    "FILE_ERROR_CODES",
    "ImportFileError",
    "ImportReport",
    "TableKind",
    "import_plan",
    "import_roster",
    "import_schedule",
    "import_table",
    "read_table",
]

FILE_ERROR_CODES = ("unsupported_type", "empty_file", "unreadable")

_ZIP_MAGIC = b"PK\x03\x04"
_CSV_DELIMITERS = (",", ";", "\t")
# Stop reading a sheet once the row limit is certainly exceeded: a small .xlsx can
# unpack into millions of rows, and the domain only needs to see one row too many.
_MAX_TABLE_ROWS = MAX_DATA_ROWS + 2


class ImportFileError(Exception):
    """The file as a whole cannot be read; `code` is one of FILE_ERROR_CODES."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class ImportReport:
    """The outcome of one import: either errors (nothing written) or per-row counts."""

    errors: list[RowError] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    # Exams added or changed by this import, in file order: their students need telling.
    changed_exam_ids: list[int] = field(default_factory=list)
    # A plan import: students whose plan it added to or changed (their deadline reminders
    # need planning), and the students of the file whose plan is over the distance limit.
    changed_student_ids: list[int] = field(default_factory=list)
    distance_excesses: list[ShareExcess] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged


# --- reading files ----------------------------------------------------------------------


def read_table(filename: str, content: bytes) -> list[list[str]]:
    """A .csv or .xlsx file as rows of cell strings, blank rows kept (row numbers matter).

    Raises ImportFileError("unsupported_type" | "empty_file" | "unreadable").
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        raise ImportFileError("unsupported_type")
    if not content.strip():
        raise ImportFileError("empty_file")
    if suffix == ".xlsx":
        if not content.startswith(_ZIP_MAGIC):
            raise ImportFileError("unreadable")
        table = _read_xlsx(content)
    else:
        if content.startswith(_ZIP_MAGIC):
            # An .xlsx renamed to .csv: better a clear refusal than a table of garbage.
            raise ImportFileError("unreadable")
        table = _read_csv(content)
    while table and not any(cell.strip() for cell in table[-1]):
        table.pop()
    if not table:
        raise ImportFileError("empty_file")
    return table


def _decode(content: bytes) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" export.
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ImportFileError("unreadable") from exc
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Russian Excel on Windows saves "CSV" in the ANSI code page.
        return content.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise ImportFileError("unreadable") from exc


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most cells (ties: `,` first).

    csv.Sniffer guesses from character frequencies over the sample and is easily
    fooled by commas inside names; the header line has no such content.
    """
    header = next((line for line in text.splitlines() if line.strip()), "")
    best, best_count = _CSV_DELIMITERS[0], 0
    for delimiter in _CSV_DELIMITERS:
        count = len(next(csv.reader([header], delimiter=delimiter), []))
        if count > best_count:
            best, best_count = delimiter, count
    return best


def _read_csv(content: bytes) -> list[list[str]]:
    text = _decode(content)
    if "\x00" in text:
        raise ImportFileError("unreadable")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        return _bounded(reader)
    except csv.Error as exc:
        raise ImportFileError("unreadable") from exc


def _bounded(rows: Iterable[list[str]]) -> list[list[str]]:
    table: list[list[str]] = []
    filled = 0
    for row in rows:
        table.append(row)
        if any(cell.strip() for cell in row):
            filled += 1
            if filled >= _MAX_TABLE_ROWS:
                break
    return table


def _read_xlsx(content: bytes) -> list[list[str]]:
    # Imported lazily: openpyxl is slow to import and most handlers never need it.
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it ignores; they don't affect
            # cell values, and with warnings as errors (tests) they would abort the read.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                # Producers other than Excel often write a wrong <dimension>; without this,
                # read-only mode would trust it and silently cut rows off.
                sheet.reset_dimensions()
                return _bounded(_xlsx_rows(sheet.iter_rows(values_only=True)))
            finally:
                workbook.close()
    except Exception as exc:
        # A corrupt archive or sheet surfaces as anything from BadZipFile and KeyError to
        # XML parser errors; to the user they all mean the same thing.
        raise ImportFileError("unreadable") from exc


def _xlsx_rows(rows: Iterable[Sequence[Any]]) -> Iterator[list[str]]:
    for values in rows:
        cells = [_cell_text(value) for value in values]
        # Formatted-but-empty cells make rows thousands of columns wide.
        while cells and not cells[-1]:
            cells.pop()
        yield cells


def _cell_text(value: Any) -> str:
    """An Excel cell value rendered the way the template expects it typed."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return _minutes_text(value.hour * 3600 + value.minute * 60 + value.second)
    if isinstance(value, timedelta):
        return _minutes_text(value.total_seconds())
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def _minutes_text(seconds: float) -> str:
    # Excel keeps times as fractions of a day; 9:00 may come back as 8:59:59.999.
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --- writing ----------------------------------------------------------------------------


async def import_roster(
    session: AsyncSession,
    filename: str,
    content: bytes,
    *,
    allowed_faculties: Collection[str] | None = None,
) -> ImportReport:
    """Upsert students by record-book number; faculties and groups are created as needed.

    Raises ImportFileError when the file cannot be read at all. A moved student or a
    changed ФИО counts as updated; the Telegram link of a student is kept.
    `allowed_faculties` (names) restricts the file to those faculties: a dean's import.
    """
    table = read_table(filename, content)
    return await _import(
        session, TableKind.ROSTER, table, tz=None, allowed_faculties=allowed_faculties
    )


async def import_schedule(
    session: AsyncSession,
    filename: str,
    content: bytes,
    *,
    tz: ZoneInfo,
    allowed_faculties: Collection[str] | None = None,
) -> ImportReport:
    """Upsert exams by (group, discipline, kind); dates and times are read in `tz`.

    Raises ImportFileError when the file cannot be read at all. An empty link, Moodle
    link or teacher cell keeps what the exam already has: teachers post links in the
    bot, and a schedule re-exported without them must not wipe them. A non-empty cell
    replaces the value. When an exam moves, its subgroups move with it.
    """
    table = read_table(filename, content)
    return await _import(
        session, TableKind.SCHEDULE, table, tz=tz, allowed_faculties=allowed_faculties
    )


async def import_plan(
    session: AsyncSession,
    filename: str,
    content: bytes,
    *,
    allowed_faculties: Collection[str] | None = None,
    distance_limit: float = DEFAULT_DISTANCE_LIMIT,
) -> ImportReport:
    """Upsert individual study plans by (record book, discipline).

    Raises ImportFileError when the file cannot be read at all. Every record book must be
    on the roster already (and, for a dean, of their faculties). The report lists the
    file's students whose whole plan is over the distance-learning limit
    (`distance_limit`, unless the plan gives its own): a warning, the import still counts.
    """
    table = read_table(filename, content)
    return await _import(
        session,
        TableKind.PLAN,
        table,
        tz=None,
        allowed_faculties=allowed_faculties,
        distance_limit=distance_limit,
    )


async def import_table(
    session: AsyncSession,
    filename: str,
    content: bytes,
    *,
    tz: ZoneInfo,
    allowed_faculties: Collection[str] | None = None,
    distance_limit: float = DEFAULT_DISTANCE_LIMIT,
) -> tuple[TableKind | None, ImportReport]:
    """A roster, a schedule or study plans, whichever the header says (for a file sent to
    the bot).

    The kind is None, with an "unknown_table" error on row 1, when the header fits
    no template. Otherwise as import_roster / import_schedule / import_plan.
    """
    table = read_table(filename, content)
    kind = detect_table(table[0])
    if kind is None:
        return None, ImportReport(errors=[RowError(HEADER_ROW, None, "unknown_table", "")])
    return kind, await _import(
        session,
        kind,
        table,
        tz=tz,
        allowed_faculties=allowed_faculties,
        distance_limit=distance_limit,
    )


async def _import(
    session: AsyncSession,
    kind: TableKind,
    table: list[list[str]],
    *,
    tz: ZoneInfo | None,
    allowed_faculties: Collection[str] | None,
    distance_limit: float = DEFAULT_DISTANCE_LIMIT,
) -> ImportReport:
    report = await _import_kind(
        session,
        kind,
        table,
        tz=tz,
        allowed_faculties=allowed_faculties,
        distance_limit=distance_limit,
    )
    if report.errors:
        # Named as the file names them: «столбец «ФИО» не заполнен», not full_name.
        report.errors = name_columns(report.errors, table[0] if table else [], kind)
    return report


async def _import_kind(
    session: AsyncSession,
    kind: TableKind,
    table: list[list[str]],
    *,
    tz: ZoneInfo | None,
    allowed_faculties: Collection[str] | None,
    distance_limit: float,
) -> ImportReport:
    if kind is TableKind.PLAN:
        return await _import_plan(session, table, allowed_faculties, distance_limit=distance_limit)
    if kind is TableKind.ROSTER:
        roster = parse_roster(table)
        if errors := _all_errors(roster, allowed_faculties):
            return ImportReport(errors=errors)
        return await _write_roster(session, roster.rows)
    assert tz is not None  # import_schedule and import_table always pass one
    schedule = parse_schedule(table, tz)
    if errors := _all_errors(schedule, allowed_faculties):
        return ImportReport(errors=errors)
    return await _write_schedule(session, schedule.rows)


def _all_errors(
    parsed: ParseResult[RosterRow] | ParseResult[ScheduleRow],
    allowed_faculties: Collection[str] | None,
) -> list[RowError]:
    if allowed_faculties is None:
        return parsed.errors
    errors = parsed.errors + foreign_faculty_errors(parsed.rows, allowed_faculties)
    return sorted(errors, key=lambda e: e.row)  # stable: a row's errors keep their order


async def _write_roster(session: AsyncSession, rows: Sequence[RosterRow]) -> ImportReport:
    group_ids = await _ensure_groups(session, [(r.faculty, r.group) for r in rows])
    # populate_existing: a long-lived session must compare against the database, not
    # against what it loaded earlier.
    query = select(Student).execution_options(populate_existing=True)
    existing = {s.record_book: s for s in await session.scalars(query)}
    report = ImportReport()
    new: list[dict[str, Any]] = []
    for row in rows:
        group_id = group_ids[name_key(row.faculty), name_key(row.group)]
        student = existing.get(row.record_book)
        if student is None:
            new.append(
                {
                    "group_id": group_id,
                    "full_name": row.full_name,
                    "surname_key": row.surname_key,
                    "record_book": row.record_book,
                }
            )
            report.added += 1
        elif (student.group_id, student.full_name, student.surname_key) != (
            group_id,
            row.full_name,
            row.surname_key,
        ):
            student.group_id = group_id
            student.full_name = row.full_name
            student.surname_key = row.surname_key
            report.updated += 1
        else:
            report.unchanged += 1
    await session.flush()
    if new:
        # A bulk INSERT without RETURNING is one executemany; add_all would insert row by
        # row on SQLite to learn each new id, which nobody needs here.
        await session.execute(insert(Student), new)
    return report


async def _write_schedule(session: AsyncSession, rows: Sequence[ScheduleRow]) -> ImportReport:
    group_ids = await _ensure_groups(session, [(r.faculty, r.group) for r in rows])
    discipline_ids = await ensure_named(
        session, Discipline, Discipline.name, names=(r.discipline for r in rows)
    )
    teacher_ids = await ensure_named(
        session, Teacher, Teacher.full_name, names=(r.teacher for r in rows if r.teacher)
    )
    query = (
        select(Exam)
        .where(Exam.group_id.in_(set(group_ids.values())))
        .execution_options(populate_existing=True)
    )
    exams = {(e.group_id, e.discipline_id, e.kind): e for e in await session.scalars(query)}
    report = ImportReport()
    # In file order: an exam updated, or the key of one added.
    changed: list[Exam | tuple[int, int, str]] = []
    new: list[dict[str, Any]] = []
    moved: dict[int, timedelta] = {}
    for row in rows:
        group_id = group_ids[name_key(row.faculty), name_key(row.group)]
        discipline_id = discipline_ids[name_key(row.discipline)]
        teacher_id = teacher_ids[name_key(row.teacher)] if row.teacher else None
        exam = exams.get((group_id, discipline_id, row.kind))
        if exam is None:
            new.append(
                {
                    "group_id": group_id,
                    "discipline_id": discipline_id,
                    "kind": row.kind,
                    "form": row.form,
                    "starts_at": row.starts_at,
                    "duration_min": row.duration_min,
                    "teacher_id": teacher_id,
                    "link": row.link,
                    "moodle_url": row.moodle_url,
                    "pass_fail": row.pass_fail,
                }
            )
            changed.append((group_id, discipline_id, row.kind))
            report.added += 1
            continue
        wanted = {
            "form": row.form,
            "starts_at": row.starts_at,
            "duration_min": row.duration_min,
            # Empty cells keep what is there (see import_schedule).
            "teacher_id": teacher_id or exam.teacher_id,
            "link": row.link or exam.link,
            "moodle_url": row.moodle_url or exam.moodle_url,
            "pass_fail": row.pass_fail,
        }
        diff = {k: v for k, v in wanted.items() if getattr(exam, k) != v}
        if not diff:
            report.unchanged += 1
            continue
        if "starts_at" in diff:
            moved[exam.id] = row.starts_at - exam.starts_at
            # A cancelled exam given a new date is back on; the same old row is not.
            exam.cancelled_at = None
        for key, value in diff.items():
            setattr(exam, key, value)
        changed.append(exam)
        report.updated += 1
    if moved:
        await _move_subgroups(session, moved)
    await session.flush()
    new_ids: dict[tuple[int, int, str], int] = {}
    if new:
        # One Core executemany, then the ids in one query: the ORM inserts an exam (a
        # server default to read back) row by row, ~10 s for a 10,000-exam session.
        await session.execute(insert(Exam.metadata.tables[Exam.__tablename__]), new)
        new_ids = {
            (group_id, discipline_id, kind): exam_id
            for exam_id, group_id, discipline_id, kind in await session.execute(
                select(Exam.id, Exam.group_id, Exam.discipline_id, Exam.kind).where(
                    Exam.group_id.in_(set(group_ids.values()))
                )
            )
        }
    report.changed_exam_ids = [
        item.id if isinstance(item, Exam) else new_ids[item] for item in changed
    ]
    return report


async def _import_plan(
    session: AsyncSession,
    table: list[list[str]],
    allowed_faculties: Collection[str] | None,
    *,
    distance_limit: float,
) -> ImportReport:
    plan = parse_plan(table)
    if plan.errors and not plan.rows:
        return ImportReport(errors=plan.errors)  # the header is wrong, or no row is good
    students = {
        record_book: (student_id, faculty)
        for record_book, student_id, faculty in await session.execute(
            select(Student.record_book, Student.id, Faculty.name)
            .join(Group, Group.id == Student.group_id)
            .join(Faculty, Faculty.id == Group.faculty_id)
        )
    }
    faculties = {book: faculty for book, (_id, faculty) in students.items()}
    # One list for the whole file: a row's unknown record book is reported together with
    # the other rows' typos, not after they are fixed.
    errors = plan.errors + record_book_errors(plan.rows, faculties, allowed_faculties)
    if errors:
        return ImportReport(errors=sorted(errors, key=lambda e: e.row))
    report = await _write_plan(
        session, plan.rows, {book: student_id for book, (student_id, _f) in students.items()}
    )
    file_students = {students[row.record_book][0] for row in plan.rows}
    report.distance_excesses = await distance_excesses(session, file_students, distance_limit)
    return report


async def _write_plan(
    session: AsyncSession, rows: Sequence[PlanRow], student_ids: dict[str, int]
) -> ImportReport:
    wanted_students = {student_ids[row.record_book] for row in rows}
    query = (
        select(PlanItem)
        .where(PlanItem.student_id.in_(wanted_students))
        .execution_options(populate_existing=True)
    )
    # By name_key, like disciplines elsewhere: a re-typed "анатомия" is the same item, and
    # its new spelling counts as a change.
    items = {(i.student_id, name_key(i.discipline)): i for i in await session.scalars(query)}
    report = ImportReport()
    changed: set[int] = set()
    new: list[dict[str, Any]] = []
    for row in rows:
        student_id = student_ids[row.record_book]
        wanted = {
            "discipline": row.discipline,
            "department": row.department,
            "ects": row.ects,
            "lecture_hours": row.lecture_hours,
            "lab_hours": row.lab_hours,
            "practice_hours": row.practice_hours,
            "distance_hours": row.distance_hours,
            "place_time": row.place_time,
            "deadline": row.deadline,
            "teacher": row.teacher,
            "programme_level": row.programme_level,
            "distance_limit": row.distance_limit,
        }
        item = items.get((student_id, name_key(row.discipline)))
        if item is None:
            new.append({"student_id": student_id, **wanted})
            changed.add(student_id)
            report.added += 1
            continue
        diff = {k: v for k, v in wanted.items() if getattr(item, k) != v}
        if not diff:
            report.unchanged += 1
            continue
        for key, value in diff.items():
            setattr(item, key, value)
        changed.add(student_id)
        report.updated += 1
    await session.flush()
    if new:
        await session.execute(insert(PlanItem), new)
    report.changed_student_ids = sorted(changed)
    return report


async def _move_subgroups(session: AsyncSession, moved: dict[int, timedelta]) -> None:
    """Shift staggered subgroup starts by as much as their exam moved, keeping the gaps."""
    subgroups = await session.scalars(select(Subgroup).where(Subgroup.exam_id.in_(moved)))
    for subgroup in subgroups:
        subgroup.starts_at = subgroup.starts_at + moved[subgroup.exam_id]


NamedModel = type[Faculty] | type[Discipline] | type[Teacher]


async def named_ids(
    session: AsyncSession, model: NamedModel, name_column: InstrumentedAttribute[str]
) -> dict[str, int]:
    """name_key → id for one table of named things (so "ё"/"е" and case do not matter)."""
    ids: dict[str, int] = {}
    query = select(model.id, name_column).order_by(model.id)
    # Ascending id: if the table holds two spellings of one key, the older one wins.
    for row_id, name in await session.execute(query):
        ids.setdefault(name_key(name), row_id)
    return ids


async def ensure_named(
    session: AsyncSession,
    model: NamedModel,
    name_column: InstrumentedAttribute[str],
    *,
    names: Iterable[str],
) -> dict[str, int]:
    """name_key → id for one table of named things, creating the missing ones."""
    ids = await named_ids(session, model, name_column)
    new: dict[str, str] = {}
    for name in names:
        if (key := name_key(name)) not in ids:
            new.setdefault(key, name)
    if new:
        # Bulk INSERT and read the ids back: the ORM would insert row by row on SQLite
        # to learn each id (no ordered RETURNING for executemany there).
        await session.execute(insert(model), [{name_column.key: n} for n in new.values()])
        ids = await named_ids(session, model, name_column)
    return ids


async def _ensure_groups(
    session: AsyncSession, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(faculty key, group key) → group id, creating missing faculties and groups."""
    faculty_ids = await ensure_named(
        session, Faculty, Faculty.name, names=(faculty for faculty, _ in pairs)
    )

    async def load() -> dict[tuple[int, str], int]:
        ids: dict[tuple[int, str], int] = {}
        query = select(Group.id, Group.faculty_id, Group.name).order_by(Group.id)
        for row_id, faculty_id, name in await session.execute(query):
            ids.setdefault((faculty_id, name_key(name)), row_id)
        return ids

    group_ids = await load()
    wanted = {(name_key(f), name_key(g)): (faculty_ids[name_key(f)], g) for f, g in pairs}
    new: dict[tuple[int, str], dict[str, Any]] = {}
    for faculty_id, group in wanted.values():
        if (key := (faculty_id, name_key(group))) not in group_ids:
            new.setdefault(key, {"faculty_id": faculty_id, "name": group})
    if new:
        await session.execute(insert(Group), list(new.values()))
        group_ids = await load()
    return {
        pair: group_ids[faculty_id, name_key(group)] for pair, (faculty_id, group) in wanted.items()
    }
