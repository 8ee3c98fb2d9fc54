"""Edits of a message that changes faster than Telegram lets it be edited (the roll).

Telegram edits a message in a chat about once a second and answers 429 beyond; a
teacher taps twice a second. Each tap's edit replaces the one still waiting for the same
message (the latest state wins), and each chat gets at most one edit per `interval`,
counted from the answer to the previous one. The update that asked for the edit does
not wait for it: its tap was recorded and answered already (bot.middlewares.held).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import TelegramMethod

from bot.notify.retry import not_modified

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

# A margin over Telegram's second: the answer comes back a little after Telegram counted.
EDIT_INTERVAL = 1.05


class EditCoalescer:
    def __init__(self, interval: float = EDIT_INTERVAL) -> None:
        self.interval = interval
        # chat -> message -> the latest edit not sent yet (insertion order: oldest first)
        self._pending: dict[Any, dict[Any, tuple[Bot, TelegramMethod[Any]]]] = {}
        self._workers: dict[Any, asyncio.Task[None]] = {}
        self._ready_at: dict[Any, float] = {}  # chat -> when its next edit may go
        self.sent = 0
        self.replaced = 0

    def submit(self, bot: Bot, method: TelegramMethod[Any]) -> None:
        chat = getattr(method, "chat_id", None)
        message = getattr(method, "message_id", None) or getattr(method, "inline_message_id", 0)
        waiting = self._pending.setdefault(chat, {})
        if message in waiting:
            self.replaced += 1
        waiting[message] = (bot, method)
        if chat not in self._workers:
            self._workers[chat] = asyncio.create_task(self._run(chat), name="latest-edits")

    @property
    def idle(self) -> bool:
        return not self._workers

    async def wait_idle(self) -> None:
        """Until every edit submitted so far has gone out (tests, shutdown)."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def close(self) -> None:
        for worker in self._workers.values():
            worker.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _run(self, chat: Any) -> None:
        try:
            while waiting := self._pending.get(chat):
                delay = self._ready_at.get(chat, 0.0) - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # meanwhile newer states replace the waiting
                message = next(iter(waiting))
                bot, method = waiting.pop(message)
                await self._send(chat, message, bot=bot, method=method)
        finally:
            # Nothing awaited since the loop found no edit waiting: none is lost here.
            self._pending.pop(chat, None)
            del self._workers[chat]
            if len(self._ready_at) > 1000:
                now = time.monotonic()
                self._ready_at = {c: t for c, t in self._ready_at.items() if t > now}

    async def _send(
        self, chat: Any, message: Any, *, bot: Bot, method: TelegramMethod[Any]
    ) -> None:
        try:
            await bot(method)
            self.sent += 1
        except TelegramRetryAfter as exc:
            # Paced and still refused (another writer to this chat): wait, keep the latest.
            log.warning("edit in chat %s: flood limit, waiting %ss", chat, exc.retry_after)
            self._pending.setdefault(chat, {}).setdefault(message, (bot, method))
            self._ready_at[chat] = time.monotonic() + exc.retry_after
            return
        except TelegramBadRequest as exc:
            if not not_modified(exc):
                log.warning("edit in chat %s refused: %s", chat, exc.message)
        except Exception as exc:
            log.warning("edit in chat %s failed (%r); a later state will redraw it", chat, exc)
        self._ready_at[chat] = time.monotonic() + self.interval
