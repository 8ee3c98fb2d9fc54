"""The dean's reports as tables for XLSX/CSV, worded from the data `bot.services.reports`
reads: the additional session's list, statements by kind and status per exam, attendance
and grades per group and discipline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.domain.roll import Grade, Mark
from bot.domain.statements import StatementStatus
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.services.reports import ReportData, ReportKind
from bot.services.sheets import Chart, Table
from bot.views.texts import grade_name, kind_name, mark_name


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


def render_report(data: ReportData, settings: Settings) -> Report:
    """In the reader's locale (set by the caller)."""
    now = data.now
    header = [
        _scope_line(data.faculties),
        _("Made {when}").format(when=now.astimezone(settings.tz).strftime("%d.%m.%Y %H:%M")),
    ]
    if data.kind is ReportKind.ADDITIONAL:
        table = _additional(data, settings, header)
    elif data.kind is ReportKind.STATEMENTS:
        table = _statements(data, settings, header)
    else:
        table = _attendance(data, settings, header)
    stamp = now.astimezone(settings.tz).strftime("%Y-%m-%d")
    return Report(table, f"{data.kind.value}-{stamp}")


def _scope_line(faculties: list[str] | None) -> str:
    if faculties is None:
        return _("All faculties")
    return _("Faculty: {faculty}").format(faculty=", ".join(faculties))


def _additional(data: ReportData, settings: Settings, header: list[str]) -> Table:
    table_rows: list[tuple[str | int, ...]] = []
    for line in data.sit_again:
        table_rows.append(
            (
                len(table_rows) + 1,
                line.faculty,
                line.group,
                line.discipline,
                _day(line.starts_at, settings),
                line.student,
                line.record_book,
                mark_name(line.mark),
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


def _statements(data: ReportData, settings: Settings, header: list[str]) -> Table:
    statuses = (
        StatementStatus.SUBMITTED,
        StatementStatus.APPROVED,
        StatementStatus.REJECTED,
        StatementStatus.WITHDRAWN,
    )
    table_rows: list[tuple[str | int, ...]] = []
    for line in data.statements:
        exam, counter = line.exam, line.by_status
        table_rows.append(
            (
                len(table_rows) + 1,
                exam.faculty,
                exam.group,
                exam.discipline,
                _day(exam.starts_at, settings),
                kind_name(line.kind),
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


def _attendance(data: ReportData, settings: Settings, header: list[str]) -> Table:
    table_rows: list[tuple[str | int, ...]] = []
    for line in data.attendance:
        exam, m, g = line.exam, line.marks, line.grades
        table_rows.append(
            (
                len(table_rows) + 1,
                exam.faculty,
                exam.group,
                exam.discipline,
                _day(exam.starts_at, settings),
                sum(m.values()),
                m[Mark.PRESENT],
                m[Mark.EXCUSED] + m[Mark.FAILURE],
                m[Mark.ABSENT],
                m[Mark.UNMARKED] + m[Mark.OUTAGE],
                *(g[grade.value] for grade in Grade),
                _("yes") if line.confirmed else _("no"),
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
