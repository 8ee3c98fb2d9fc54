"""The dean's reports, as tables for XLSX/CSV: the additional session's list (what the
educational office drafts its order from), statements by kind and status per exam, and
attendance and grades per group and discipline. A dean sees their faculties, an admin all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Discipline, Exam, Faculty, Group, RollEntry, Statement, Student
from bot.domain.roll import Grade, Mark, effective_mark
from bot.domain.statements import StatementKind, StatementStatus
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.services.sheets import Chart, Table
from bot.views.texts import grade_name, kind_name, mark_name

_Ts = TypeVarTuple("_Ts")


class ReportKind(StrEnum):
    ADDITIONAL = "additional"
    STATEMENTS = "statements"
    ATTENDANCE = "attendance"


FAILED_GRADES = (Grade.FAIL.value, Grade.NOT_PASSED.value)


@dataclass(frozen=True)
class Report:
    table: Table
    file_name: str  # without extension


def report_title(kind: ReportKind) -> str:
    return {
        ReportKind.ADDITIONAL: _("Additional session"),
        ReportKind.STATEMENTS: _("Statements by exam"),
        ReportKind.ATTENDANCE: _("Attendance and grades"),
    }[kind]


def _day(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.tz).strftime("%d.%m.%Y")  # the Russian way


def _of_exams(query: Select[*_Ts], faculty_ids: frozenset[int] | None) -> Select[*_Ts]:
    """Every report reads exams with their group, faculty and discipline, within the
    reader's faculties (None: all)."""
    query = (
        query.join(Group, Group.id == Exam.group_id)
        .join(Faculty, Faculty.id == Group.faculty_id)
        .join(Discipline, Discipline.id == Exam.discipline_id)
    )
    return query if faculty_ids is None else query.where(Group.faculty_id.in_(faculty_ids))


async def build_report(
    session: AsyncSession,
    kind: ReportKind,
    faculty_ids: frozenset[int] | None,
    now: datetime,
    settings: Settings,
) -> Report:
    """`faculty_ids` None: every faculty (an admin)."""
    scope = await _scope_line(session, faculty_ids)
    header = [
        scope,
        _("Made {when}").format(when=now.astimezone(settings.tz).strftime("%d.%m.%Y %H:%M")),
    ]
    if kind is ReportKind.ADDITIONAL:
        table = await _additional(session, faculty_ids, now, settings, header)
    elif kind is ReportKind.STATEMENTS:
        table = await _statements(session, faculty_ids, settings, header)
    else:
        table = await _attendance(session, faculty_ids, now, settings, header)
    stamp = now.astimezone(settings.tz).strftime("%Y-%m-%d")
    return Report(table, f"{kind.value}-{stamp}")


async def _scope_line(session: AsyncSession, faculty_ids: frozenset[int] | None) -> str:
    if faculty_ids is None:
        return _("All faculties")
    names = sorted(await session.scalars(select(Faculty.name).where(Faculty.id.in_(faculty_ids))))
    return _("Faculty: {faculty}").format(faculty=", ".join(names))


async def _additional(
    session: AsyncSession,
    faculty_ids: frozenset[int] | None,
    now: datetime,
    settings: Settings,
    header: list[str],
) -> Table:
    query = (
        select(
            Faculty.name,
            Group.name,
            Discipline.name,
            Exam.starts_at,
            Student.full_name,
            Student.record_book,
            RollEntry.mark,
            RollEntry.outage_since,
            RollEntry.grade,
        )
        .join(Exam, Exam.id == RollEntry.exam_id)
        .join(Student, Student.id == RollEntry.student_id)
        .where(
            Exam.cancelled_at.is_(None),
            RollEntry.mark.in_((Mark.EXCUSED, Mark.FAILURE, Mark.OUTAGE))
            | RollEntry.grade.in_(FAILED_GRADES),
        )
    )
    rows = await session.execute(
        _of_exams(query, faculty_ids).order_by(
            Faculty.name, Discipline.name, Group.name, Student.full_name
        )
    )
    table_rows: list[tuple[str | int, ...]] = []
    for faculty, group, discipline, starts, name, book, mark, since, grade in rows:
        current = effective_mark(Mark(mark), since, now, settings.outage_wait)
        if grade in FAILED_GRADES:
            reason = _("failed: {grade}").format(grade=grade_name(grade))
        elif current in (Mark.EXCUSED, Mark.FAILURE):
            reason = mark_name(current)
        else:
            continue  # an outage still within its minutes
        table_rows.append(
            (
                len(table_rows) + 1,
                faculty,
                group,
                discipline,
                _day(starts, settings),
                name,
                book,
                reason,
            )
        )
    per_discipline = Counter(str(row[3]) for row in table_rows)
    disciplines = sorted(per_discipline)
    totals = [_("Total: {count}").format(count=len(table_rows))] + [
        ngettext("{discipline}: {count} student", "{discipline}: {count} students", count).format(
            discipline=discipline, count=count
        )
        for discipline, count in ((d, per_discipline[d]) for d in disciplines)
    ]
    return Table(
        title=_("Additional session: students to sit again"),
        header_lines=header,
        columns=[
            _("№"),
            _("Faculty"),
            _("Group"),
            _("Discipline"),
            _("Exam date"),
            _("Full name"),
            _("Record book"),
            _("Reason"),
        ],
        rows=table_rows,
        totals=totals,
        text_columns=frozenset({2, 6}),
        sheet_name=_("Additional session"),
        chart=Chart(
            title=_("Students to sit again, by discipline"),
            sheet_name=_("By discipline"),
            category_caption=_("Discipline"),
            categories=disciplines,
            series=[(_("Students"), [per_discipline[d] for d in disciplines])],
        ),
    )


async def _statements(
    session: AsyncSession,
    faculty_ids: frozenset[int] | None,
    settings: Settings,
    header: list[str],
) -> Table:
    query = select(
        Exam.id,
        Faculty.name,
        Group.name,
        Discipline.name,
        Exam.starts_at,
        Statement.kind,
        Statement.status,
    ).join(Exam, Exam.id == Statement.exam_id)
    rows = await session.execute(
        _of_exams(query, faculty_ids).order_by(
            Faculty.name, Exam.starts_at, Discipline.name, Group.name
        )
    )
    counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    exams: dict[int, tuple[str, str, str, datetime]] = {}
    for exam_id, faculty, group, discipline, starts, kind, status in rows:
        exams[exam_id] = (faculty, group, discipline, starts)
        counts[(exam_id, kind)][status] += 1
    statuses = (
        StatementStatus.SUBMITTED,
        StatementStatus.APPROVED,
        StatementStatus.REJECTED,
        StatementStatus.WITHDRAWN,
    )
    table_rows: list[tuple[str | int, ...]] = []
    for exam_id, (faculty, group, discipline, starts) in exams.items():
        for kind in StatementKind:
            counter = counts.get((exam_id, kind.value))
            if not counter:
                continue
            table_rows.append(
                (
                    len(table_rows) + 1,
                    faculty,
                    group,
                    discipline,
                    _day(starts, settings),
                    kind_name(kind.value),
                    *(counter[s.value] for s in statuses),
                    sum(counter.values()),
                )
            )
    return Table(
        title=_("Statements by exam"),
        header_lines=header,
        columns=[
            _("№"),
            _("Faculty"),
            _("Group"),
            _("Discipline"),
            _("Exam date"),
            _("Kind"),
            _("Undecided"),
            _("Approved"),
            _("Rejected"),
            _("Withdrawn"),
            _("Total"),
        ],
        rows=table_rows,
        text_columns=frozenset({2}),
        sheet_name=_("Statements"),
    )


async def _attendance(
    session: AsyncSession,
    faculty_ids: frozenset[int] | None,
    now: datetime,
    settings: Settings,
    header: list[str],
) -> Table:
    query = (
        select(
            Exam.id,
            Faculty.name,
            Group.name,
            Discipline.name,
            Exam.starts_at,
            Exam.roll_confirmed_at,
            RollEntry.mark,
            RollEntry.outage_since,
            RollEntry.grade,
        )
        .join(Exam, Exam.id == RollEntry.exam_id)
        .where(Exam.cancelled_at.is_(None))
    )
    rows = await session.execute(
        _of_exams(query, faculty_ids).order_by(
            Faculty.name, Group.name, Discipline.name, Exam.starts_at
        )
    )
    exams: dict[int, tuple[str, str, str, datetime, datetime | None]] = {}
    marks: dict[int, Counter[Mark]] = defaultdict(Counter)
    grades: dict[int, Counter[str]] = defaultdict(Counter)
    for exam_id, faculty, group, discipline, starts, confirmed, mark, since, grade in rows:
        exams[exam_id] = (faculty, group, discipline, starts, confirmed)
        marks[exam_id][effective_mark(Mark(mark), since, now, settings.outage_wait)] += 1
        if grade:
            grades[exam_id][grade] += 1
    table_rows: list[tuple[str | int, ...]] = []
    for exam_id, (faculty, group, discipline, starts, confirmed) in exams.items():
        m = marks[exam_id]
        g = grades[exam_id]
        table_rows.append(
            (
                len(table_rows) + 1,
                faculty,
                group,
                discipline,
                _day(starts, settings),
                sum(m.values()),
                m[Mark.PRESENT],
                m[Mark.EXCUSED] + m[Mark.FAILURE],
                m[Mark.ABSENT],
                m[Mark.UNMARKED] + m[Mark.OUTAGE],
                *(g[grade.value] for grade in Grade),
                _("yes") if confirmed is not None else _("no"),
            )
        )
    return Table(
        title=_("Attendance and grades"),
        header_lines=header,
        columns=[
            _("№"),
            _("Faculty"),
            _("Group"),
            _("Discipline"),
            _("Exam date"),
            _("On the roll"),
            _("Present"),
            _("Valid reason"),
            _("No valid reason"),
            _("Not marked"),
            *(grade_name(grade.value) for grade in Grade),
            _("Roll confirmed"),
        ],
        rows=table_rows,
        text_columns=frozenset({2}),
        sheet_name=_("Attendance"),
        chart=_attendance_chart(table_rows),
    )


def _attendance_chart(rows: list[tuple[str | int, ...]]) -> Chart:
    """Stacked bars, one an exam (group — discipline, date): present, valid reason, no
    valid reason, not marked — the table's columns 5-9."""
    return Chart(
        title=_("Attendance by group and exam"),
        sheet_name=_("Chart"),
        category_caption=_("Group — exam"),
        categories=[f"{row[2]} — {row[3]}, {row[4]}" for row in rows],
        series=[
            (caption, [int(row[column]) for row in rows])
            for caption, column in (
                (_("Present"), 6),
                (_("Valid reason"), 7),
                (_("No valid reason"), 8),
                (_("Not marked"), 9),
            )
        ],
        y_title=_("Students"),
        stacked=True,
    )
