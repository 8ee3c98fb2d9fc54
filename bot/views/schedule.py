"""/schedule, /calendar and /plan as a student (or a teacher) reads them: the cards of
their upcoming exams and consultations, or of their individual plan, in messages that fit
Telegram's limit, and the captions of the calendar files."""

from __future__ import annotations

from datetime import tzinfo

from bot.config import Settings
from bot.db.models import PlanItem
from bot.i18n import gettext as _
from bot.services.schedule import ScheduleItem
from bot.views.html import fmt
from bot.views.paging import cards_in_messages
from bot.views.texts import plan_card, schedule_card


def nothing_ahead(*, to_run: bool = False) -> str:
    if to_run:
        return _("You have no upcoming exams or consultations to run.")
    return _("You have no upcoming exams or consultations.")


def schedule_messages(
    items: list[ScheduleItem], settings: Settings, user_tz: tzinfo | None, *, locale: str
) -> list[str]:
    """The schedule as messages of whole cards; a card alone may still outgrow one (a long
    place and time, escaped): the sender splits it too."""
    footer = _("Times are shown in the university's time zone.")
    if user_tz is None:
        footer += " " + _("Set yours with /tz to see them in your own time as well.")
    return cards_in_messages(
        fmt(_("<b>Your schedule</b>")),
        (schedule_card(item, settings.tz, user_tz, locale=locale) for item in items),
        footer + "\n" + _("/calendar — add these to your calendar."),
    )


def calendar_caption(*, for_teacher: bool = False) -> str:
    if for_teacher:
        return _(
            "The exams and consultations you run, with the conference links: open the file "
            "to add them to your calendar."
        )
    return _("Your exam schedule: open the file to add it to your calendar.")


def no_plan() -> str:
    return _(
        "You have no individual study plan in the bot. If you study on one, the "
        "dean's office will add it; your exams are in /schedule."
    )


def plan_messages(items: list[PlanItem], locale: str) -> list[str]:
    """The individual study plan (ИУП), a card a discipline."""
    head = fmt(_("<b>Your individual study plan</b>"))
    return cards_in_messages(head, (plan_card(item, locale) for item in items))
