"""Background chores beside the outbox sender: keeping files, editing announcements'
progress messages, the semester's retention. Each chore is a `run_once()` that does what
is due and returns how much it did; a round runs them all, then waits for the next poll
or a wake-up (something was just submitted). With several replicas, `guard` lets one of
them run a chore's round at a time (bot.db.locks); the others skip it that round."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

log = logging.getLogger(__name__)

Chore = Callable[[], Awaitable[int]]
Guard = Callable[[str], AbstractAsyncContextManager[bool]]


@asynccontextmanager
async def always(_: str) -> AsyncIterator[bool]:
    yield True


class Chores:
    def __init__(
        self, chores: list[tuple[str, Chore]], poll: float = 15.0, guard: Guard = always
    ) -> None:
        self._chores = chores
        self._guard = guard
        self._poll = poll
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run_once(self) -> None:
        for name, chore in self._chores:
            try:
                async with self._guard(name) as mine:
                    if mine:
                        await chore()
            except Exception:  # the database may be restarting: try again next round
                log.exception("chore %s failed; retrying next round", name)

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self.run_once()
            if self._stopping:
                break
            try:
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()
            except TimeoutError:
                pass
