"""Speaks to each user in the language stored for them."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18nMiddleware

from bot.domain.language import locale_for


class ActorI18nMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        actor = data.get("actor")
        if actor is not None:
            return str(actor.locale)
        tg_user = data.get("event_from_user")
        if tg_user is not None:
            return locale_for(tg_user.language_code, self.i18n.default_locale)
        return self.i18n.default_locale
