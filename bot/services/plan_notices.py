"""What a study plan's deadline reminder says. It is about no exam, so it is rendered
apart from the exam notices (`bot.services.notices` hands it over here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Notice, PlanItem, Student, User
from bot.domain.reminders import NoticeKind
from bot.i18n import gettext as _
from bot.services.rendered import Rendered
from bot.services.texts import plan_card
from bot.views.html import fmt, join

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n

PLAN_KINDS = frozenset({NoticeKind.PLAN_DEADLINE})


async def render_plan_notice(
    session: AsyncSession, notice: Notice, settings: Settings, i18n: I18n
) -> Rendered | None:
    """The reminder with the discipline's card; None if the deadline has moved since (the
    new deadline has reminders of its own), the discipline is gone, or the roster entry is
    no longer this account's (someone else's plan is not theirs to read)."""
    item = await session.get(PlanItem, int(notice.payload.get("item_id", 0)))
    if item is None or item.deadline.isoformat() != notice.payload.get("deadline"):
        return None
    owner = await session.scalar(select(Student.user_id).where(Student.id == item.student_id))
    if owner is None or owner != notice.user_id:
        return None
    user = await session.get(User, notice.user_id) if notice.user_id is not None else None
    locale = user.locale if user is not None else settings.default_locale
    with i18n.context(), i18n.use_locale(locale):
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
