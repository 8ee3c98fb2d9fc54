"""What the outcome of an announcement's step says to the dean (chat and Mini App)."""

from __future__ import annotations

from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.services.announcements import MAX_TEXT, AnnounceOutcome
from bot.views.html import fmt


def outcome_text(outcome: AnnounceOutcome) -> str:
    return {
        AnnounceOutcome.EMPTY: _("There is nothing to send: write a text or attach a file."),
        AnnounceOutcome.TOO_LONG: fmt(
            ngettext(
                "That is too long: at most {limit} character.",
                "That is too long: at most {limit} characters.",
                MAX_TEXT,
            ),
            limit=MAX_TEXT,
        ),
        AnnounceOutcome.FORBIDDEN: _("You can only write to your own faculty's students."),
        AnnounceOutcome.NOBODY: _(
            "Nobody there has linked their account to the bot yet, so nobody would get it."
        ),
    }.get(outcome, "")
