"""A per-user flood limit: beyond `limit` updates in `window` seconds the bot answers once
and ignores the rest until the window has room, so one user cannot slow the others down.
In memory: each process counts what it receives (behind a load balancer a user's updates
spread, so the limit per process is an upper bound)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import Chat, TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.language import locale_for

# Forget quiet users now and then, so the table does not grow with every user ever seen.
PRUNE_EVERY = 10_000
# Button presses are counted apart, with this many times the limit: a teacher marking a
# roll of 40 taps two or three names a second, and each press is a mark that must not be
# dropped (polling hands over a burst of presses that queued during a page's round trip).
PRESS_FACTOR = 3


class FloodMiddleware(BaseMiddleware):
    def __init__(
        self, limit: int, window: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._now = now
        self._seen: dict[tuple[int, bool], deque[float]] = {}
        self._warned_until: dict[int, float] = {}
        self._calls = 0

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or self._limit <= 0:
            return await handler(event, data)
        now = self._now()
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:
            self._prune(now)
        press = isinstance(event, Update) and event.callback_query is not None
        recent = self._seen.setdefault((user.id, press), deque())
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        if len(recent) >= self._limit * (PRESS_FACTOR if press else 1):
            if self._warned_until.get(user.id, 0.0) <= now:
                self._warned_until[user.id] = now + self._window
                await self._warn(data, user)
            return None
        recent.append(now)
        return await handler(event, data)

    def _prune(self, now: float) -> None:
        horizon = now - self._window
        self._seen = {u: q for u, q in self._seen.items() if q and q[-1] > horizon}
        self._warned_until = {u: t for u, t in self._warned_until.items() if t > now}

    async def _warn(self, data: dict[str, Any], user: User) -> None:
        chat: Chat | None = data.get("event_chat")
        bot: Bot | None = data.get("bot")
        i18n: I18n | None = data.get("i18n")
        if chat is None or bot is None or i18n is None or chat.type != "private":
            return
        with i18n.context(), i18n.use_locale(locale_for(user.language_code, i18n.default_locale)):
            text = _("Too many messages at once: I will answer again in a few seconds.")
        await bot.send_message(chat.id, text)
