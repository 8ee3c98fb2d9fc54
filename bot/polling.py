"""Long polling that confirms an update to Telegram only once it has been handled.

aiogram's polling confirms every update it has fetched on its next `getUpdates` (the
offset moves past it), while the handlers run as tasks: a process killed then has told
Telegram it has updates it never handled, and they are gone (a student's message left
unanswered, a statement step lost). Here the offset moves only up to the oldest update
still being handled; Telegram keeps the rest and sends them again after a restart, where
the handled ones are recognised by their `processed_updates` row and skipped. Webhook
mode has the same guarantee by answering Telegram only after the commit (bot.webhook).

The cost: while an update is being handled, `getUpdates` returns it again at once, so
the loop polls at most every `BUSY_POLL` seconds instead of waiting on a long poll; and
at most 100 updates (Telegram's page) run ahead of the oldest one still running.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

log = logging.getLogger(__name__)

BUSY_POLL = 0.2  # seconds between polls while updates are being handled


class UpdateWindow:
    """Which updates are running, and the offset that confirms only finished ones."""

    def __init__(self) -> None:
        self._running: set[int] = set()
        self._seen: set[int] = set()  # started at or above the offset (finished or not)
        self._next = 0  # one past the last update fetched

    def start(self, update_id: int) -> bool:
        """True if the update is new; False if it is running or was handled already.

        An id below the offset is not refused: Telegram starts a new random sequence after
        a week without updates, and the database recognises a repeat anyway."""
        if update_id in self._seen:
            return False
        self._seen.add(update_id)
        self._running.add(update_id)
        self._next = update_id + 1  # as aiogram does: the last one fetched
        return True

    def finish(self, update_id: int) -> None:
        self._running.discard(update_id)
        if len(self._seen) > 256:  # ids below the offset will not come back from Telegram
            floor = self.offset or 0
            self._seen = {u for u in self._seen if u >= floor} | self._running

    @property
    def busy(self) -> bool:
        return bool(self._running)

    @property
    def offset(self) -> int | None:
        """The `offset` for getUpdates: everything below it is handled."""
        if self._running:
            return min(self._running)
        return self._next or None


class ConfirmingDispatcher(Dispatcher):
    """A Dispatcher whose polling confirms updates only once they are handled.

    It also leaves closing the FSM storage to the application: aiogram registers that as
    its first shutdown step, before ours waits for the updates still running, which then
    found the storage (a Redis connection) closed under them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shutdown.handlers = [h for h in self.shutdown.handlers if h.callback != self.fsm.close]

    async def _polling(
        self,
        bot: Bot,
        polling_timeout: int = 30,
        handle_as_tasks: bool = True,
        backoff_config: BackoffConfig = DEFAULT_BACKOFF_CONFIG,
        allowed_updates: list[str] | None = None,
        tasks_concurrency_limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        user = await bot.me()
        log.info("polling for @%s (id %d): confirming handled updates only", user.username, bot.id)
        window = UpdateWindow()
        backoff = Backoff(config=backoff_config)
        running: dict[int, asyncio.Task[Any]] = {}
        request_timeout = (
            int(bot.session.timeout + polling_timeout) if bot.session.timeout else None
        )
        failed = False
        try:
            while True:
                method = GetUpdates(
                    offset=window.offset,
                    # Telegram answers at once while an unconfirmed update waits anyway.
                    timeout=0 if window.busy else polling_timeout,
                    allowed_updates=allowed_updates,
                )
                try:
                    updates = await bot(method, request_timeout=request_timeout)
                except Exception as exc:  # the Bot API is down or unreachable: wait, go on
                    failed = True
                    log.error("getUpdates failed (%s: %s); retrying", type(exc).__name__, exc)
                    await backoff.asleep()
                    continue
                if failed:
                    log.info("getUpdates works again")
                    backoff.reset()
                    failed = False
                fresh = [u for u in updates if window.start(u.update_id)]
                for update in fresh:
                    running[update.update_id] = self._handle(bot, update, window, running, kwargs)
                if not fresh and running:
                    # Only updates still being handled came back: wait for one to finish.
                    await asyncio.wait(
                        list(running.values()),
                        timeout=BUSY_POLL,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
        finally:
            log.info(
                "polling stopped for @%s; %d update(s) still running", user.username, len(running)
            )

    def _handle(
        self,
        bot: Bot,
        update: Update,
        window: UpdateWindow,
        running: dict[int, asyncio.Task[Any]],
        kwargs: dict[str, Any],
    ) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._process_update(bot=bot, update=update, **kwargs))
        # aiogram's own set: keeps a reference to the task, like its polling does.
        self._handle_update_tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._handle_update_tasks.discard(finished)
            running.pop(update.update_id, None)
            window.finish(update.update_id)

        task.add_done_callback(done)
        return task
