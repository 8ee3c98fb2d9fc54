"""Resolves the user behind an update to an Actor with their roles (server-side truth)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from bot.config import Settings
from bot.services.actors import ROLES_READ, load_actor
from bot.services.reminders import plan_for_student


class ActorMiddleware(BaseMiddleware):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin_ids = settings.admin_ids
        self._default_locale = settings.default_locale

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: User | None = data.get("event_from_user")
        if tg_user is not None and tg_user.is_bot:
            # Another bot, or a group's anonymous admin (GroupAnonymousBot): nobody the bot
            # can tell apart, so nobody it serves; every handler of a user needs an actor.
            return None
        if tg_user is not None:
            actor = data["actor"] = await load_actor(
                data["session"],
                tg_user,
                self._admin_ids,
                default_locale=self._default_locale,
                read=data.pop(ROLES_READ, None),  # by the unit of work's first statement
            )
            result = await handler(event, data)
            # Back after a block: their reminders were withdrawn while they could receive
            # nothing. Asked after the handler, which has the last word: Telegram's notice
            # of a block reaches a user already marked blocked (a 403 came first) too.
            if actor.reactivated and actor.user.is_active and actor.student is not None:
                await plan_for_student(
                    data["session"],
                    actor.student,
                    data["clock"].now(),
                    settings=self._settings,
                    outbox=data["outbox"],
                )
            return result
        return await handler(event, data)
