"""Resolves the user behind an update to an Actor with their roles (server-side truth)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from bot.config import Settings
from bot.services.actors import load_actor


class ActorMiddleware(BaseMiddleware):
    def __init__(self, settings: Settings) -> None:
        self._admin_ids = settings.admin_ids

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: User | None = data.get("event_from_user")
        if tg_user is not None and not tg_user.is_bot:
            data["actor"] = await load_actor(data["session"], tg_user, self._admin_ids)
        return await handler(event, data)
