"""Texts shared by replies and notices: exam cards, study-plan cards, labels of kinds
and forms, import results.

Strings go through gettext in the locale active for the update (or the one a notice
sets), and moments are formatted with Babel in that locale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from fractions import Fraction

from babel.numbers import format_decimal

from bot.config import Settings
from bot.db.models import Exam, NoticeStatus, PlanItem
from bot.domain.exams import EventKind, ExamForm
from bot.domain.imports import (
    PLAN_COLUMNS,
    PLAN_OPTIONAL,
    ROSTER_COLUMNS,
    SCHEDULE_COLUMNS,
    RowError,
    headings,
)
from bot.domain.plans import ShareExcess
from bot.domain.reminders import NoticeKind
from bot.domain.roll import Grade, Mark
from bot.domain.statements import AbsenceReason, AppealViolation, StatementKind, StatementStatus
from bot.i18n import gettext as _
from bot.services.imports import ImportReport
from bot.services.reminders import OutboxSummary, PlanReport
from bot.services.schedule import ScheduleItem
from bot.views import dates
from bot.views.html import Html, bold, fmt, join, join_lines


def no_longer_valid() -> str:
    """A button that is forged, or left from an older message or version."""
    return _("This button is no longer valid.")


def not_your_exam() -> str:
    return _("This is not one of your exams.")


def kind_label(kind: str, pass_fail: bool = False) -> str:
    if kind == EventKind.CONSULTATION:
        return _("consultation")
    return _("credit") if pass_fail else _("exam")


def form_label(form: str) -> str:
    labels = {
        ExamForm.ORAL.value: _("oral interview"),
        ExamForm.TEST.value: _("computer test"),
        ExamForm.WRITTEN.value: _("written work"),
        ExamForm.COMBINED.value: _("combined"),
    }
    return labels.get(form, form)


def exam_title(exam: Exam) -> Html:
    return fmt("{} — {}", exam.discipline.name, kind_label(exam.kind, exam.pass_fail))


def when_line(
    item_start: datetime, university_tz: tzinfo, user_tz: tzinfo | None, *, locale: str
) -> Html:
    """The start in university time and, when the clocks differ, in the user's own."""
    return fmt("{}", dates.when(item_start, university_tz, locale, own=user_tz))


def schedule_card(
    item: ScheduleItem, university_tz: tzinfo, user_tz: tzinfo | None, *, locale: str
) -> Html:
    exam = item.exam
    parts: list[object] = [bold(exam_title(exam))]
    if exam.kind == EventKind.EXAM:
        parts.append(fmt(_("Form: {form}"), form=form_label(exam.form)))
    parts.append("🗓 " + when_line(item.starts_at, university_tz, user_tz, locale=locale))
    if item.subgroup is not None:
        parts.append(fmt(_("Your subgroup: {number}"), number=item.subgroup))
    parts.append(fmt(_("Duration: {minutes} min"), minutes=exam.duration_min))
    if exam.teacher is not None:
        parts.append(fmt(_("Teacher: {name}"), name=exam.teacher.full_name))
    if exam.link:
        parts.append(fmt(_("Conference: {url}"), url=exam.link))
    else:
        parts.append(_("Conference link: not posted yet"))
    if exam.moodle_url:
        parts.append(fmt(_("Moodle: {url}"), url=exam.moodle_url))
    return join_lines(parts)


def plan_card(item: PlanItem, locale: str) -> Html:
    """One discipline of a student's individual study plan (the columns of appendix 1)."""
    parts: list[object] = [bold(item.discipline)]
    if item.department:
        parts.append(fmt(_("Department: {name}"), name=item.department))
    if item.ects is not None:
        parts.append(fmt(_("Credits: {ects} ECTS"), ects=format_decimal(item.ects, locale=locale)))
    parts.append(
        fmt(
            _("Hours: lectures {lectures}, labs {labs}, practice {practice}"),
            lectures=item.lecture_hours,
            labs=item.lab_hours,
            practice=item.practice_hours,
        )
    )
    if item.distance_hours:
        parts.append(
            fmt(_("Of them with distance technologies: {hours}"), hours=item.distance_hours)
        )
    if item.place_time:
        parts.append(fmt(_("Place and time: {text}"), text=item.place_time))
    parts.append(fmt(_("Deadline: {date}"), date=dates.date_of(item.deadline, locale)))
    if item.teacher:
        parts.append(fmt(_("Teacher: {name}"), name=item.teacher))
    return join_lines(parts)


def teacher_card(exam: Exam, university_tz: tzinfo, locale: str) -> Html:
    parts: list[object] = [
        bold(exam_title(exam)),
        fmt(_("Group: {group}"), group=exam.group.name),
        "🗓 " + dates.when(exam.starts_at, university_tz, locale),
    ]
    if exam.kind == EventKind.EXAM:
        parts.append(fmt(_("Form: {form}"), form=form_label(exam.form)))
    for sub in exam.subgroups:
        parts.append(
            fmt(
                _("Subgroup {number}: {clock}"),
                number=sub.number,
                clock=dates.clock(sub.starts_at, university_tz, locale),
            )
        )
    parts.append(
        fmt(_("Conference: {url}"), url=exam.link)
        if exam.link
        else _("Conference link: not posted yet")
    )
    parts.append(
        fmt(_("Moodle: {url}"), url=exam.moodle_url)
        if exam.moodle_url
        else _("Moodle link: not set")
    )
    return join_lines(parts)


def file_error_text(code: str) -> str:
    texts = {
        "unsupported_type": _(
            "I can import only CSV (.csv) and Excel (.xlsx) files with the roster or the "
            "exam schedule."
        ),
        "empty_file": _("The file is empty."),
        "unreadable": _("I could not read this file. Save it again as CSV or XLSX and resend."),
    }
    return texts.get(code, texts["unreadable"])


def _column_label(err: RowError) -> Html:
    column = err.heading or err.column
    return fmt(" «{}»", column) if column else Html("")


def row_error_text(err: RowError) -> Html:
    """One line per problem, with the row number as the spreadsheet shows it."""
    value = err.value[:60]
    texts = {
        "missing_columns": _("missing columns: {value}"),
        # TRANSLATORS: {column} is empty or « «name»» with its own leading space.
        "duplicate_column": _("the column{column} appears twice"),
        "too_many_rows": _("too many rows (the limit is {value})"),
        "no_rows": _("no data under the header"),
        "empty": _("column{column} is empty"),
        "too_long": _("column{column} is too long"),
        "bad_date": _("column{column}: “{value}” is not a date (YYYY-MM-DD or DD.MM.YYYY)"),
        "bad_time": _("column{column}: “{value}” is not a time (HH:MM)"),
        "nonexistent_time": _("column{column}: this local time does not exist (clock change)"),
        "unknown_kind": _("column{column}: unknown kind “{value}” (exam, credit or consultation)"),
        "unknown_form": _(
            "column{column}: unknown form “{value}” (oral, test, written or combined)"
        ),
        "bad_duration": _("column{column}: “{value}” is not a duration in minutes (1–600)"),
        "bad_url": _("column{column}: “{value}” is not an http(s) link"),
        "duplicate_record_book": _("record book {value} already appears in row {ref}"),
        "duplicate_exam": _("the same exam already appears in row {ref}"),
        "foreign_faculty": _("faculty “{value}” is not yours"),
        "unknown_table": _(
            "the header matches none of the templates (/templates sends them). Roster: "
            "{roster}. Schedule: {schedule}. Study plans: {plan}"
        ),
        "bad_hours": _(
            "column{column}: “{value}” is not a number of hours (a whole number, 0 or more)"
        ),
        "bad_ects": _("column{column}: “{value}” is not a number of credits (such as 3 or 1.5)"),
        "distance_over_total": _(
            "column{column}: more distance hours than lectures, labs and practice together"
        ),
        "unknown_level": _(
            "column{column}: unknown programme level “{value}” (bachelor, specialist, master "
            "or postgraduate)"
        ),
        "bad_limit": _("column{column}: “{value}” is not a share (such as 70% or 0.5)"),
        "duplicate_plan_item": _("the same record book and discipline already appear in row {ref}"),
        "unknown_record_book": _("record book {value} is not on the roster"),
        "foreign_student": _("record book {value} belongs to a student of another faculty"),
    }
    template = texts.get(err.code, _("column{column}: invalid value “{value}”"))
    line = fmt(
        template,
        column=_column_label(err),
        value=value,
        ref=err.ref_row,
        roster=headings(ROSTER_COLUMNS),
        schedule=headings(SCHEDULE_COLUMNS),
        plan=headings(c for c in PLAN_COLUMNS if c not in PLAN_OPTIONAL),
    )
    return fmt(_("Row {row}: {problem}"), row=err.row, problem=line)


def import_result_text(kind: str, report: ImportReport) -> Html:
    """Every row error is listed (the reply is split between messages if it is long)."""
    what = {
        "roster": _("Roster"),
        "schedule": _("Schedule"),
        "plan": _("Individual study plans"),
    }.get(kind, _("Roster"))
    if report.ok:
        return fmt(
            _("{what} imported: {added} added, {updated} updated, {unchanged} unchanged."),
            what=what,
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
        )
    head = fmt(
        _("{what} not imported: nothing was changed. Fix these rows and send the file again:"),
        what=what,
    )
    return join_lines([head, *(row_error_text(err) for err in report.errors)])


def _percent(share: Fraction) -> str:
    return f"{float(share * 100):.1f}".removesuffix(".0")


def distance_warning_text(excesses: Sequence[ShareExcess]) -> Html:
    """A plan import's warning: students whose plan is over the distance-learning share.

    Empty when there are none; otherwise lines to append to the import's result.
    """
    if not excesses:
        return Html("")
    parts: list[object] = [
        _("⚠️ Too many distance-learning hours (the plans are imported all the same):")
    ]
    for excess in excesses:
        parts.append(
            fmt(
                _("{name} ({book}): {distance} of {total} h, {share}% (allowed {limit}%)"),
                name=excess.full_name,
                book=excess.record_book,
                distance=excess.distance,
                total=excess.total,
                share=_percent(Fraction(excess.distance, excess.total)),
                limit=_percent(excess.limit),
            )
        )
    return join("", (fmt("\n{}", part) for part in parts))


def plan_warning_text(report: PlanReport) -> Html:
    """What the reminders made of an import: events already past, students not in the bot."""
    parts: list[str] = []
    if report.past_exams:
        parts.append(
            fmt(_("⚠️ Already in the past, so no reminders: {count}."), count=len(report.past_exams))
        )
    if report.unlinked_students:
        parts.append(
            fmt(
                _("Students not yet in the bot (they will be reminded once they join): {count}."),
                count=report.unlinked_students,
            )
        )
    return join("", (fmt("\n{}", part) for part in parts))


def kind_name(kind: str) -> str:
    return {
        StatementKind.TIMEZONE.value: _("time zone"),
        StatementKind.ABSENCE.value: _("absence"),
        StatementKind.APPEAL.value: _("appeal"),
    }.get(kind, kind)


def status_name(status: str) -> str:
    return {
        StatementStatus.SUBMITTED.value: _("submitted"),
        StatementStatus.APPROVED.value: _("approved"),
        StatementStatus.REJECTED.value: _("rejected"),
        StatementStatus.WITHDRAWN.value: _("withdrawn"),
    }.get(status, status)


def reason_name(reason: str | None) -> str:
    return {
        AbsenceReason.ILLNESS.value: _("illness"),
        AbsenceReason.FAMILY.value: _("family circumstances"),
        AbsenceReason.OTHER.value: _("other"),
    }.get(reason or "", "")


def violation_name(violation: str | None) -> str:
    """The part of the exam procedure an appeal says was violated (the table's steps)."""
    return {
        AppealViolation.IDENTIFICATION.value: _("identification of the students"),
        AppealViolation.TICKET.value: _("the ticket or task handed out"),
        AppealViolation.PREPARATION.value: _("the time to prepare or to write"),
        AppealViolation.TECHNICAL.value: _("the technical-failure rule (15 minutes)"),
        AppealViolation.RECORDING.value: _("the recording of the exam"),
        AppealViolation.OTHER.value: _("another step of the procedure"),
    }.get(violation or "", violation or "")


def mark_name(mark: str) -> str:
    return {
        Mark.UNMARKED.value: _("not marked"),
        Mark.PRESENT.value: _("present"),
        Mark.ABSENT.value: _("absent, no valid reason"),
        Mark.EXCUSED.value: _("absent, valid reason"),
        Mark.OUTAGE.value: _("technical outage"),
        Mark.FAILURE.value: _("absent, valid reason (technical failure)"),
    }.get(mark, mark)


def grade_name(grade: str | None) -> str:
    return {
        Grade.EXCELLENT.value: _("excellent"),
        Grade.GOOD.value: _("good"),
        Grade.SATISFACTORY.value: _("satisfactory"),
        Grade.FAIL.value: _("unsatisfactory"),
        Grade.PASSED.value: _("pass"),
        Grade.NOT_PASSED.value: _("fail"),
    }.get(grade or "", "")


def summary_text(summary: OutboxSummary, settings: Settings, locale: str) -> Html:
    """The outbox at a glance: /status in chat, `python -m bot outbox` in a terminal."""
    lines: list[object] = [fmt(_("<b>Outbox</b>"))]
    for status in NoticeStatus:
        lines.append(f"{status.value}: {summary.counts.get(status.value, 0)}")
    if summary.mail:
        lines.append(
            fmt(
                _("E-mail to the dean's offices: {pending} pending, {sent} sent, {failed} failed"),
                pending=summary.mail.get(NoticeStatus.PENDING, 0)
                + summary.mail.get(NoticeStatus.CLAIMED, 0),
                sent=summary.mail.get(NoticeStatus.SENT, 0),
                failed=summary.mail.get(NoticeStatus.FAILED, 0),
            )
        )
        if summary.mail_error:
            lines.append(fmt(_("Last e-mail error: {error}"), error=summary.mail_error[:300]))
    if summary.next_due:
        lines.append("")
        lines.append(_("Next due:"))
        for due, kind, chat in summary.next_due:
            # An e-mail has no chat: its address is the faculty's, looked up when it goes.
            target = "✉️" if kind == NoticeKind.STATEMENT_EMAIL else chat
            lines.append(fmt("{} — {} → {}", dates.when(due, settings.tz, locale), kind, target))
    return join_lines(lines)


def statement_details(
    *,
    time_zone: str | None,
    window: str,
    reason: str | None,
    violation: str | None,
    text: str | None,
) -> list[object]:
    """A statement's particulars, the same in the student's preview of the draft and on the
    deanery's card: the zone and preferred time, the reason, the violation, the text."""
    lines: list[object] = []
    if time_zone:
        lines.append(fmt(_("Time zone: {zone}"), zone=time_zone))
        lines.append(fmt(_("Preferred time: {window}"), window=window))
    if reason:
        lines.append(fmt(_("Reason: {reason}"), reason=reason_name(reason)))
    if violation:
        lines.append(
            fmt(_("Violation of the procedure: {violation}"), violation=violation_name(violation))
        )
    if text:
        lines.append(text)
    return lines
