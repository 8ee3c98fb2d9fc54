"""The dean's office deciding statements: the line a decision adds to the card, the
prompts for a reason or a new time, what rescheduling says, and the two paged lists,
/inbox (the undecided statements) and /additional (the additional session's list)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import Settings
from bot.db.models import Statement
from bot.domain.statements import MAX_COMMENT, Decision
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.keyboards.callbacks import DecideAction, DecideCB, InboxOpenCB, Listing, PageCB
from bot.services.roll import AdditionalSitting
from bot.services.statements import DecideOutcome, MoveOutcome
from bot.views import dates
from bot.views.html import Html, fmt, join_lines
from bot.views.paging import paged
from bot.views.screen import Screen
from bot.views.texts import kind_name, mark_name
from bot.views.texts import not_your_exam as not_your_exam  # re-exported: a teacher's answer

# Statements a page: the inbox is for finding one, not for reading them all at once.
INBOX_PAGE = 30
OPEN_ROW = 5  # the statements' buttons a row


def decision_line(action: Decision, who: str) -> Html:
    if action is Decision.APPROVE:
        return fmt(_("✅ Approved by {who}"), who=who)
    if action is Decision.REJECT:
        return fmt(_("❌ Rejected by {who}"), who=who)
    return fmt(_("❓ More asked by {who}"), who=who)


def retime_markup(statement_id: int) -> InlineKeyboardMarkup:
    """Under an approved time-zone statement's card: the student's new time, set (or set
    again) whenever the office has agreed it with the teacher."""
    data = DecideCB(action=DecideAction.RETIME, statement_id=statement_id).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("🕒 Set the new time"), callback_data=data)]]
    )


def not_your_faculty() -> str:
    return _("Only the dean's office of the student's faculty can decide this.")


def decided_line(outcome: DecideOutcome, action: Decision, who: str) -> str:
    """What a decision says: the line added to the card, or why it was refused."""
    if outcome is DecideOutcome.FORBIDDEN:
        return not_your_faculty()
    if outcome is DecideOutcome.ALREADY:
        return already_decided()
    return decision_line(action, who)


def already_decided() -> str:
    return _("This statement is already decided or withdrawn.")


def with_comment(line: str, comment: str) -> Html:
    """The decision and the dean's comment, as the dean sees them confirmed."""
    return join_lines([line, comment])


def comment_too_long() -> Html:
    return fmt(
        ngettext(
            "That is too long: at most {limit} character, please.",
            "That is too long: at most {limit} characters, please.",
            MAX_COMMENT,
        ),
        limit=MAX_COMMENT,
    )


def comment_prompt(decision: Decision, statement_id: int) -> str:
    """Rejecting asks for the reason, asking for more for what is missing."""
    if decision is Decision.REJECT:
        template = _(
            "Statement №{number}: write the reason for rejecting it (the student sees it)."
        )
    else:
        template = _("Statement №{number}: write what else the student should provide.")
    return template.format(number=statement_id)


def new_start_prompt(statement_id: int) -> Html:
    return fmt(
        _(
            "Statement №{number}: send the student's new date and time, university "
            "time (e.g. 24.12.2026 14:00)."
        ),
        number=statement_id,
    )


def moment_expected() -> str:
    return _("Please send a date and time such as 24.12.2026 14:00 (university time).")


def moment_passed() -> str:
    return _("That time has already passed. Send a later one.")


def rescheduled(outcome: MoveOutcome, moment: datetime, settings: Settings, *, locale: str) -> str:
    texts = {
        MoveOutcome.ASKED: _("The teacher is asked to confirm {when}; the student will be told."),
        MoveOutcome.MOVED: _("Done: the student now sits the exam on {when} and is told."),
    }
    text = texts.get(outcome, cannot_reschedule())
    return text.format(when=dates.when(moment, settings.tz, locale))


def cannot_reschedule() -> str:
    return _("This statement cannot be rescheduled.")


def teacher_answer_line(outcome: MoveOutcome) -> str:
    if outcome is MoveOutcome.MOVED:
        return _("✅ Confirmed: the student is told.")
    return _("❌ Declined: the dean's office will set another time.")


def inbox_page(items: list[Statement], page: int, settings: Settings, *, locale: str) -> Screen:
    if not items:
        return Screen(fmt(_("No undecided statements.")))
    counts = Counter(kind_name(s.kind) for s in items)
    head = [
        fmt(_("<b>Undecided statements: {count}</b>"), count=len(items)),
        ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items())),
        "",
    ]
    lines = [
        fmt(
            _("№{number} {kind} — {exam}, filed {when}"),
            number=statement.id,
            kind=kind_name(statement.kind),
            exam=statement.exam.discipline.name,
            when=dates.when(statement.submitted_at, settings.tz, locale),
        )
        for statement in items
    ]
    text, markup, on_page = paged(
        head,
        lines,
        page,
        data=lambda p: PageCB(listing=Listing.INBOX, page=p),
        max_items=INBOX_PAGE,
    )
    # A button a statement of the page: its card (with the decision's buttons) again.
    opens = [
        InlineKeyboardButton(
            text=f"№{items[i].id}", callback_data=InboxOpenCB(statement_id=items[i].id).pack()
        )
        for i in on_page
    ]
    rows = [opens[i : i + OPEN_ROW] for i in range(0, len(opens), OPEN_ROW)]
    pager = markup.inline_keyboard if markup is not None else []
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=[*rows, *pager]))


def card_coming() -> str:
    return _("The statement's card is on its way.")


def additional_page(
    items: list[AdditionalSitting], page: int, settings: Settings, *, locale: str
) -> Screen:
    if not items:
        return Screen(fmt(_("Nobody is on the additional session's list yet.")))
    lines = [
        fmt(
            "• {} ({}), {} — {}, {}: {}",
            item.student,
            item.record_book,
            item.group,
            item.discipline,
            dates.when(item.starts_at, settings.tz, locale),
            mark_name(item.mark),
        )
        for item in items
    ]
    head = [fmt(_("<b>Additional session: {count}</b>"), count=len(items))]
    text, markup, _shown = paged(
        head, lines, page, data=lambda p: PageCB(listing=Listing.ADDITIONAL, page=p)
    )
    return Screen(text, markup)
