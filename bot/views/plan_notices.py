"""What a study plan's deadline reminder says. It is about no exam, so it is rendered
apart from the exam notices (`bot.views.notices` hands it over here)."""

from __future__ import annotations

from bot.i18n import gettext as _
from bot.services.notice_facts import PlanFacts
from bot.views.html import fmt, join
from bot.views.rendered import Rendered
from bot.views.texts import plan_card


def render_plan_notice(facts: PlanFacts) -> Rendered:
    """The reminder with the discipline's card, in the recipient's locale (set by the
    caller); whether it is still true is the facts' to say (`bot.services.notice_facts`)."""
    item, locale = facts.item, facts.locale
    return Rendered(
        join(
            "\n\n",
            [
                fmt(_("⏳ <b>Deadline reminder</b>")),
                plan_card(item, locale),
                _("/plan — your whole individual study plan"),
            ],
        )
    )
