"""Short answers every role may get: /cancel, a failure on our side, someone else's
question in a group, a file refused, /tz, and a written work sent during an exam."""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.db.models import Exam
from bot.domain.timezones import format_clock, resolve_timezone
from bot.i18n import gettext as _
from bot.keyboards.inline import time_zones
from bot.services.roll import WorkOutcome, WorkResult
from bot.views import dates
from bot.views.html import Html, fmt
from bot.views.screen import Screen
from bot.views.texts import exam_title


def nothing_to_cancel() -> str:
    return _("Nothing to cancel.")


def cancelled() -> str:
    return _("Cancelled.")


def went_wrong() -> str:
    return _("Sorry, something went wrong on my side. Please try again in a minute.")


def question_for(name: str) -> Html:
    return fmt(_("This question is for {name}; only they can answer it."), name=name)


def file_too_large() -> str:
    return _("This file is larger than 20 MB; send a smaller scan.")


def files_only() -> str:
    return _("Please send photos, PDF or image files only.")


def unknown_zone() -> str:
    return _(
        "I don't know this time zone. Type a name such as Asia/Novosibirsk "
        "or an offset such as UTC+7, or /cancel."
    )


def zone_question(current: str, zones: list[tuple[str, str]]) -> Screen:
    """/tz: the zone now, the common ones as buttons (zone, label)."""
    text = fmt(
        _(
            "Your time zone now: {zone}.\n"
            "Choose yours below, or type its name (e.g. Asia/Dubai) or a UTC offset "
            "(e.g. UTC+5, +05:30)."
        ),
        zone=current,
    )
    return Screen(text, time_zones(zones))


def zone_set(zone: str, now: datetime, settings: Settings, *, locale: str) -> Html:
    return fmt(
        _("Time zone set: {zone} (now {clock} there; {uni_clock} at the university)."),
        zone=zone,
        clock=format_clock(now, resolve_timezone(zone), locale),
        uni_clock=format_clock(now, settings.tz, locale),
    )


def work_answer(result: WorkResult, settings: Settings, locale: str) -> str | None:
    """What a student hears of a work sent: taken (said once an album), too late, not
    present, or no exam taking works; None for an album's further photos."""
    exam: Exam | None = result.exam
    if result.outcome is WorkOutcome.ACCEPTED and exam is not None:
        if not result.first:
            return None
        return fmt(
            _("✅ Received for {title}; your teacher has it. You may send more."),
            title=exam_title(exam),
        )
    if result.outcome is WorkOutcome.TOO_LATE and exam is not None and result.due:
        return fmt(
            _(
                "⛔ Works for {title} were due by {when}; this one is too late and was not "
                "accepted. Contact your teacher or the dean's office."
            ),
            title=exam_title(exam),
            when=dates.when(result.due, settings.tz, locale),
        )
    if result.outcome is WorkOutcome.NOT_PRESENT and exam is not None:
        return fmt(
            _(
                "⛔ You are not marked present at {title}, so I cannot take work for it. "
                "Ask your teacher to mark you."
            ),
            title=exam_title(exam),
        )
    return _(
        "No exam of yours is taking works now. To attach documents to a statement, use /statement."
    )
