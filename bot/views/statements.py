"""What a student reads while filing a statement (/statement) and among their statements
(/statements): the questions in order, the draft's preview, what was filed, and why a
step is refused. Built from the domain's draft and the services' data; the handlers
(bot.handlers.student.statements) only send them."""

from __future__ import annotations

from datetime import datetime

from aiogram.types import InlineKeyboardMarkup

from bot.config import Settings
from bot.db.models import Statement
from bot.domain.exams import EventKind
from bot.domain.statements import (
    MAX_FILES,
    MAX_STATEMENT_FILES,
    MAX_TEXT,
    MIN_APPEAL_TEXT,
    AppealViolation,
    StatementDraft,
    StatementKind,
    appeal_deadline,
)
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.keyboards.callbacks import Listing, StmtAction
from bot.keyboards.inline import (
    absence_reasons,
    appeal_violations,
    statement_action,
    statement_actions,
    statement_exams,
    statement_kinds,
    statement_preview,
    statement_zones,
    take_statement_zone,
)
from bot.services.statements import Eligible
from bot.views import dates
from bot.views.html import Html, fmt, join_lines
from bot.views.paging import pager_screen
from bot.views.screen import Screen
from bot.views.texts import (
    kind_label,
    kind_name,
    statement_details,
    status_name,
    violation_name,
)


def no_exam_to_file() -> str:
    return _("There is no exam you could file a statement for now.")


def exam_choice(
    eligible: list[Eligible], settings: Settings, locale: str, *, zone: str | None
) -> Screen:
    """The exams a statement may be filed about, with their times (in the student's zone
    too, when they set one)."""
    items = [
        (
            e.exam.id,
            f"{e.exam.discipline.name} — {kind_label(e.exam.kind, e.exam.pass_fail)}, "
            + dates.when(e.exam.starts_at, settings.tz, locale, own=dates.zone_of(zone)),
        )
        for e in eligible
    ]
    return Screen(_("Which exam is the statement about?"), statement_exams(items))


def appeal_window(chosen: Eligible, now: datetime, settings: Settings, *, locale: str) -> str:
    """Why there is no appeal button (or until when there is one)."""
    exam = chosen.exam
    if chosen.grade_posted_at is None:
        if exam.starts_at <= now and exam.kind == EventKind.EXAM:
            return _(
                "An appeal can be filed once your grade is posted, until the end of the next day."
            )
        return ""
    deadline = dates.when(appeal_deadline(chosen.grade_posted_at, settings.tz), settings.tz, locale)
    if StatementKind.APPEAL in chosen.kinds:
        return fmt(_("An appeal is possible until {deadline}."), deadline=deadline)
    return fmt(
        _(
            "The appeal window for this exam was open from the grade's posting until {deadline}; "
            "it is closed now."
        ),
        deadline=deadline,
    )


def window_closed(chosen: Eligible, window: str) -> Html:
    """Graded lately but the appeal window is closed: when it was open."""
    return fmt("{}: {}", chosen.exam.discipline.name, window)


def kind_choice(chosen: Eligible, window: str) -> Screen:
    text = fmt(_("{exam}: what would you like to ask?"), exam=chosen.exam.discipline.name)
    if window:
        text += "\n\n" + window
    return Screen(text, statement_kinds(k.value for k in chosen.kinds))


def violation_question() -> str:
    return _(
        "Under the regulation an appeal is considered only for a concrete violation of the "
        "exam procedure, not for disagreement with the grade as such. What was violated?"
    )


def _violations() -> InlineKeyboardMarkup:
    return appeal_violations((v, violation_name(v.value)) for v in AppealViolation)


def violation_choice() -> Screen:
    return Screen(violation_question(), _violations())


def violation_needed() -> Screen:
    """Text typed before a violation is chosen: no appeal without one (the table)."""
    text = (
        _("First choose with a button what was violated; then describe it.")
        + "\n\n"
        + violation_question()
    )
    return Screen(text, _violations())


def zone_question(current: str | None, zones: list[tuple[str, str]]) -> Screen:
    """The zone, from the list of common ones (zone, label) or typed; the one the student
    set already is offered first."""
    text = _(
        "Which time zone do you live in? Choose it below, or type its name (e.g. "
        "Asia/Novosibirsk) or a UTC offset (e.g. UTC+7)."
    )
    if current:
        text += "\n" + fmt(_("Or keep the one you set: {zone}."), zone=current)
    return Screen(text, statement_zones(zones, current))


def reason_question() -> Screen:
    return Screen(_("What is the reason?"), absence_reasons())


def describe_reason() -> str:
    return _("Describe the reason in a few words.")


def window_question(zone: str) -> Html:
    return fmt(
        _(
            "Time zone: {zone}. When could you take the exam? Write a window in your own "
            "time, e.g. “10:00–14:00”."
        ),
        zone=zone,
    )


def anything_to_add() -> Screen:
    return Screen(
        _("Anything to add for the dean's office? Write it, or press Skip."),
        statement_action(StmtAction.SKIP, _("Skip")),
    )


def too_long(limit: int = MAX_TEXT) -> Html:
    return fmt(
        ngettext(
            "That is too long: at most {limit} character, please.",
            "That is too long: at most {limit} characters, please.",
            limit,
        ),
        limit=limit,
    )


def appeal_prompt(violation: str) -> str:
    return fmt(
        ngettext(
            "Violation: {violation}. Describe it (at least {count} character): what happened, "
            "and when.",
            "Violation: {violation}. Describe it (at least {count} characters): what happened, "
            "and when.",
            MIN_APPEAL_TEXT,
        ),
        violation=violation_name(violation),
        count=MIN_APPEAL_TEXT,
    )


def appeal_too_short(violation: str) -> Html:
    return (
        fmt(
            ngettext(
                "Please describe the violation in more detail (at least {count} character).",
                "Please describe the violation in more detail (at least {count} characters).",
                MIN_APPEAL_TEXT,
            ),
            count=MIN_APPEAL_TEXT,
        )
        + "\n\n"
        + Html(appeal_prompt(violation))
    )


def _done() -> InlineKeyboardMarkup:
    return statement_action(StmtAction.DONE, _("Done"))


def files_question(kind: StatementKind) -> Screen:
    """Scans for an appeal (optional), the documents for an absence."""
    if kind is StatementKind.APPEAL:
        template = _(
            "If you have scans (e.g. the signed appeal), send them now as photos or "
            "PDF (up to {count}); otherwise just press Done."
        )
    else:
        template = _(
            "Now send the supporting documents: photos, or PDF or image files (up to "
            "{count}). Press Done when all are sent."
        )
    return Screen(fmt(template, count=MAX_FILES), _done())


def too_many_files(count: int = MAX_FILES) -> Html:
    return fmt(_("That is the most I can attach ({count}). Press Done."), count=count)


def statement_full() -> Html:
    """A follow-up to a statement that holds as many documents as it can."""
    return fmt(
        _(
            "This statement already holds {count} documents, the most it can take; this "
            "one is not added. Write your answer if there is one, and press Done."
        ),
        count=MAX_STATEMENT_FILES,
    )


def attached() -> Screen:
    return Screen(_("Attached. Send more, or press Done."), _done())


def attach_first() -> str:
    return _("Attach at least one document first.")


def documents_closed() -> str:
    return _("Documents can no longer be added to this statement.")


def more_documents(statement: Statement) -> Screen:
    """The dean's office asked for more (its question shown), or the student adds them."""
    if statement.decision_comment is not None:
        text = fmt(
            _(
                "Statement №{number}. The dean's office asks: {question}\nWrite your answer "
                "and/or send the documents, then press Done."
            ),
            number=statement.id,
            question=statement.decision_comment or "…",
        )
    else:
        text = fmt(
            _("Send the documents for statement №{number}, then press Done."),
            number=statement.id,
        )
    return Screen(text, _done())


def answer_noted() -> Screen:
    return Screen(_("Noted. Send more, or press Done."), _done())


def answer_or_document_first() -> str:
    return _("Write an answer or attach a document first (or it is too late now).")


def documents_added(statement: Statement) -> Html:
    return fmt(
        _("Added to statement №{number}; the dean's office will see them."), number=statement.id
    )


def preview(draft: StatementDraft) -> Screen:
    """The draft as it will be filed, with Send, Edit and Cancel."""
    lines: list[object] = [
        fmt(_("<b>Your statement</b> (not sent yet)")),
        fmt(_("Kind: {kind}"), kind=kind_name(str(draft.kind))),
    ]
    lines += statement_details(
        time_zone=draft.time_zone,
        window=str(draft.window),
        reason=draft.reason,
        violation=draft.violation,
        text=draft.text,
    )
    if draft.files:
        lines.append(fmt(_("Documents: {count}"), count=len(draft.files)))
    return Screen(join_lines(lines), statement_preview())


def cancelled() -> str:
    return _("Cancelled: nothing was sent.")


def start_over(kinds: list[str]) -> Screen:
    return Screen(_("Let's start over."), statement_kinds(kinds))


def too_late() -> str:
    return _("It is too late for this kind of statement for that exam.")


def something_missing() -> str:
    return _("Something in the statement is missing. Start again: /statement")


def submitted(filed: Statement, own_zone: str | None) -> Screen:
    """Told once the statement is kept; a zone not yet the student's own is offered."""
    text = fmt(
        _(
            "Statement №{number} is submitted to the dean's office. You will be told the "
            "decision here; /statements shows all of yours."
        ),
        number=filed.id,
    )
    if not filed.time_zone or filed.time_zone == own_zone:
        return Screen(text)
    # The zone is known now: one press instead of asking for it again with /tz.
    text += fmt(
        "\n\n" + _("Show the bot's times in your zone, {zone}, as well?"),
        zone=filed.time_zone,
    )
    return Screen(text, take_statement_zone(filed.id, filed.time_zone))


def zone_taken(zone: str) -> Html:
    return fmt(
        _("Your time zone is now {zone}: times are shown in it as well. /tz changes it."),
        zone=zone,
    )


def no_statements() -> str:
    return _("You have no statements yet. /statement files one.")


def statement_item(statement: Statement, *, can_add_documents: bool, open_: bool) -> Screen:
    """One of the student's statements; an undecided one (`open_`) with its buttons."""
    text = fmt(
        _("№{number}: {kind}, {exam} — {status}"),
        number=statement.id,
        kind=kind_name(statement.kind),
        exam=statement.exam.discipline.name,
        status=status_name(statement.status),
    )
    if statement.decision_comment:
        text = join_lines([text, statement.decision_comment])
    markup = statement_actions(statement.id, can_add_documents) if open_ else None
    return Screen(text, markup)


def statements_pager(page: int, pages: int, *, first: int, shown: int, total: int) -> Screen | None:
    """◀ n/N ▶ under the last statement of a page, when there are more pages."""
    text = fmt(
        _("Statements {first}–{last} of {total}."), first=first, last=first + shown - 1, total=total
    )
    return pager_screen(Listing.STATEMENTS, page, pages, text=text)


def cannot_withdraw() -> str:
    return _("This statement cannot be withdrawn.")


def withdrawn(statement: Statement) -> Html:
    return fmt(_("Statement №{number} is withdrawn."), number=statement.id)


def needs_text() -> str:
    return _("Please answer with text, or /cancel.")
