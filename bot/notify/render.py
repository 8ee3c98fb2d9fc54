"""A notice as it goes now: the facts read by the services, worded by the views."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Notice
from bot.services.deanery_mail import Letter, letter_facts
from bot.services.notice_facts import notice_facts
from bot.views import mail
from bot.views.notices import render_facts
from bot.views.rendered import Rendered

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n


async def render_notice(
    session: AsyncSession,
    notice: Notice,
    *,
    settings: Settings,
    i18n: I18n,
    now: datetime | None = None,
) -> Rendered | None:
    """The notice as it goes out `now` (by default when it was due); None: the notice is no
    longer true (see `bot.services.notice_facts`)."""
    facts = await notice_facts(session, notice, settings)
    return None if facts is None else render_facts(facts, settings, i18n, now=now)


async def render_letter(
    session: AsyncSession, notice: Notice, *, settings: Settings, i18n: I18n
) -> Letter | None:
    """The dean's office letter; None if it is no longer owed."""
    facts = await letter_facts(session, notice)
    return None if facts is None else mail.render_letter(facts, settings, i18n)
