"""One database transaction per update, handled at most once, tracked until it finishes.

Telegram re-sends updates after a restart (aiogram keeps the polling offset in memory
only), so the ids of handled updates are committed together with the handler's own
changes: either both are kept, or the update is handled again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.fsm import update_session
from bot.db.models import ProcessedUpdate
from bot.services.reminders import PLANNED_FLAG

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class InFlight:
    """Counts updates being handled, so shutdown can wait for them."""

    def __init__(self) -> None:
        # The last update ids finished (handled or skipped): tests wait on them.
        self.finished: deque[int] = deque(maxlen=10_000)
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __enter__(self) -> None:
        self._count += 1
        self._idle.clear()

    def __exit__(self, *_: object) -> None:
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    async def wait_idle(self) -> None:
        await self._idle.wait()


class UnitOfWorkMiddleware(BaseMiddleware):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        in_flight: InFlight,
        on_planned: Callable[[], None] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._in_flight = in_flight
        self._on_planned = on_planned

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        with self._in_flight:
            try:
                return await self._handle(handler, event, data)
            finally:
                self._in_flight.finished.append(event.update_id)

    async def _handle(self, handler: Handler, event: Update, data: dict[str, Any]) -> Any:
        async with self._sessionmaker() as session:
            if await session.get(ProcessedUpdate, event.update_id) is not None:
                log.info("update %s was handled before; skipped", event.update_id)
                return None
            data["session"] = session
            # Added first, so that a handler committing early (before it acknowledges a
            # submission) commits "handled" together with what it did.
            session.add(ProcessedUpdate(update_id=event.update_id))
            token = update_session.set(session)
            try:
                result = await handler(event, data)
            except Exception:
                await session.rollback()
                await self._remember(event.update_id)
                raise
            finally:
                update_session.reset(token)
            planned = session.info.pop(PLANNED_FLAG, False)
            await session.commit()
            # Only now can the sender see the new notices: wake it after the commit.
            if planned and self._on_planned is not None:
                self._on_planned()
            return result

    async def _remember(self, update_id: int) -> None:
        # A failing update is not retried after a restart: it would only fail again.
        async with self._sessionmaker.begin() as session:
            await session.merge(ProcessedUpdate(update_id=update_id))
