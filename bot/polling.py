"""Long polling through a durable inbox: an update is confirmed to Telegram only once it
is kept in the database, and each one is fetched and parsed once.

aiogram's polling confirms every update it has fetched on its next `getUpdates` (the
offset moves past it), while the handlers run as tasks: a process killed then has told
Telegram it has updates it never handled, and they are gone (a student's message left
unanswered, a statement step lost). Telegram has no other way to confirm than that
offset, and the offset confirms everything below it. So the updates are kept where a
kill cannot reach them before the offset moves past them:

- each page `getUpdates` returns is written to `inbox_updates` (the update's JSON, dumped
  from the parsed update) in one short transaction, and only then does the next long poll
  ask with the offset past it; Telegram never hands out the same update twice, and
  nothing is parsed again (the old way held the offset at the oldest update running and
  fetched its page of up to 100 again every 0.2 s: ~75 updates parsed per one handled);
- the updates then run as tasks, at most `MAX_RUNNING` at work at once (in the order
  fetched, so one user's updates start in order; one whose work is done and whose
  answers are on their way to Telegram gives its slot to the next), at most `MAX_HELD`
  fetched and not yet finished (beyond that the loop stops fetching: Telegram keeps the
  rest);
- an update finished (handled, skipped as a repeat, failed and remembered by the unit of
  work, or dropped by the flood guard) is deleted from the inbox in the next write of
  the loop, together with the next page: no extra write per update on the handler's
  path. Whether an update was handled is known by its `processed_updates` row, committed
  with the handler's own changes (bot.middlewares.unit_of_work);
- at start, the inbox rows with no `processed_updates` row are handled first (those a
  kill or a stop left running or waiting); the rest are deleted. An update that only
  read has no such row (the unit of work keeps none), so a clean stop deletes the rows
  of those finished since the last page (`finish_updates`): only a kill makes one be
  answered twice.

Why not delete the row in the handler's own commit: that would add a write to every
update's transaction and tie the unit of work to polling (webhook mode has no inbox);
a row deleted late costs only a repeat recognised at the next start (or an update the
flood guard dropped, handled after all). A page the database refused to keep is not
confirmed: the same offset is asked again after a pause.
Webhook mode has the same guarantee by answering Telegram only after the commit
(bot.webhook).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.methods import GetUpdates
from aiogram.types import TelegramObject, Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import dialect_insert
from bot.db.fsm import STATE_UNREAD
from bot.db.models import InboxUpdate, ProcessedUpdate
from bot.middlewares.held import work_done

log = logging.getLogger(__name__)

# Handlers at work at once: enough to overlap their waits on Telegram. More would only
# queue for the database's connections (the pool holds 15; a wait for one fails after
# 30 s, and on SQLite a wait for the write lock after its busy timeout). An update whose
# answers are on their way after its commit no longer counts: a round trip to Telegram
# is ~100 ms, and 64 slots held through it capped a burst near 640 updates a second.
MAX_RUNNING = 64
# Fetched and not finished, in memory: five pages of Telegram's 100.
MAX_HELD = 500


class Inbox:
    """The `inbox_updates` table: updates fetched from Telegram and not yet finished."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def keep(self, updates: Sequence[Update], finished: Iterable[int]) -> None:
        """One transaction: the new updates kept, the finished ones forgotten."""
        done = list(finished)
        if not updates and not done:
            return
        async with self._sessionmaker.begin() as session:
            if done:
                await session.execute(delete(InboxUpdate).where(InboxUpdate.update_id.in_(done)))
            if updates:
                rows = [
                    {
                        "update_id": u.update_id,
                        "payload": u.model_dump_json(by_alias=True, exclude_unset=True),
                    }
                    for u in updates
                ]
                # Already there: Telegram sent again one kept before a kill.
                await session.execute(
                    dialect_insert(session, InboxUpdate).on_conflict_do_nothing(
                        index_elements=["update_id"]
                    ),
                    rows,
                )

    async def unfinished(self, bot: Bot) -> list[Update]:
        """Kept and not handled, oldest first; the handled ones are deleted."""
        async with self._sessionmaker.begin() as session:
            handled = select(ProcessedUpdate.update_id).where(
                ProcessedUpdate.update_id == InboxUpdate.update_id
            )
            await session.execute(delete(InboxUpdate).where(handled.exists()))
            rows = await session.execute(
                select(InboxUpdate.payload).order_by(InboxUpdate.update_id)
            )
            return [
                Update.model_validate_json(payload, context={"bot": bot})
                for payload in rows.scalars()
            ]


class Runner:
    """Starts fetched updates as tasks, `limit` at a time in the order given, and
    collects the ids of those finished."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, limit: int, data: dict[str, Any]) -> None:  # noqa: PLR0917
        self._dispatcher = dispatcher
        self._bot = bot
        self._limit = limit
        self._data = data  # the workflow data every update is handled with
        self._held: set[int] = set()  # fetched, not finished
        self._waiting: deque[Update] = deque()
        self._working: set[int] = set()  # holding a running slot: started, work not done
        self._finished: list[int] = []
        self._room = asyncio.Event()
        self._room.set()
        self._stopped = False

    @property
    def held(self) -> int:
        return len(self._held)

    def take_finished(self) -> list[int]:
        finished, self._finished = self._finished, []
        return finished

    def give_back(self, finished: list[int]) -> None:
        """Not forgotten after all (the write failed): forgotten with the next one."""
        self._finished.extend(finished)

    def new(self, updates: Iterable[Update]) -> list[Update]:
        """Those not held already (Telegram sending again one kept before a restart)."""
        return [u for u in updates if u.update_id not in self._held]

    def add(self, updates: Iterable[Update]) -> None:
        for update in updates:
            self._held.add(update.update_id)
            self._waiting.append(update)
        self._start_waiting()
        if len(self._held) >= MAX_HELD:
            self._room.clear()

    async def wait_for_room(self) -> None:
        await self._room.wait()

    def stop(self) -> None:
        """No more starts: what waits stays in the inbox for the next start."""
        self._stopped = True
        self._waiting.clear()

    def _start_waiting(self) -> None:
        while self._waiting and len(self._working) < self._limit and not self._stopped:
            update = self._waiting.popleft()
            self._working.add(update.update_id)
            context = contextvars.copy_context()
            context.run(work_done.set, functools.partial(self._work_done, update.update_id))
            task = asyncio.create_task(
                self._dispatcher._process_update(bot=self._bot, update=update, **self._data),
                context=context,
            )
            # aiogram's own set: keeps a reference to the task, like its polling does.
            self._dispatcher._handle_update_tasks.add(task)
            task.add_done_callback(functools.partial(self._done, update.update_id))

    def _work_done(self, update_id: int) -> None:
        """Its slot is free: what is left is waiting for Telegram to take its answers (it
        is still held, and finished only once they are answered)."""
        if update_id in self._working:
            self._working.discard(update_id)
            self._start_waiting()

    def _done(self, update_id: int, task: asyncio.Task[Any]) -> None:
        self._dispatcher._handle_update_tasks.discard(task)
        self._working.discard(update_id)
        self._held.discard(update_id)
        if not task.cancelled():  # cancelled: not handled, it stays in the inbox
            self._finished.append(update_id)
        if len(self._held) < MAX_HELD:
            self._room.set()
        self._start_waiting()


class StateLockMiddleware(FSMContextMiddleware):
    """aiogram's FSM middleware without its read of the dialogue state: it takes the
    user's lock and gives handlers their FSMContext, and the unit of work reads the state
    inside the update's transaction (bot.middlewares.unit_of_work). aiogram reads it here,
    before any transaction: one more transaction (a connection taken and given back) for
    every update."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        context = self.resolve_event_context(data["bot"], data)
        data["fsm_storage"] = self.storage
        if context is None:
            return await handler(event, data)
        async with self.events_isolation.lock(key=context.key):
            data["state"] = context
            data[STATE_UNREAD] = True
            return await handler(event, data)


class ConfirmingDispatcher(Dispatcher):
    """A Dispatcher whose polling confirms updates only once they are kept in the inbox.

    It also leaves closing the FSM storage to the application: aiogram registers that as
    its first shutdown step, before ours waits for the updates still running, which then
    found the storage (a Redis connection) closed under them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The polling's inbox and runner, while it polls and until finish_updates.
        self._inbox: Inbox | None = None
        self._runner: Runner | None = None
        self.shutdown.handlers = [h for h in self.shutdown.handlers if h.callback != self.fsm.close]
        if self.fsm in self.update.outer_middleware:
            self.update.outer_middleware.unregister(self.fsm)
            self.fsm = StateLockMiddleware(
                storage=self.fsm.storage,
                events_isolation=self.fsm.events_isolation,
                strategy=self.fsm.strategy,
            )
            self.update.outer_middleware(self.fsm)

    async def finish_updates(self, grace: float) -> int:
        """Polling has stopped: the updates still running get `grace` seconds to finish
        whole, the user's lock given back and any error answered, not only their handler
        (the unit of work's count ends inside the lock). Those still running then are
        cancelled here, while the storage, the database and the Bot are still open: rolled
        back, not confirmed (they stay in the inbox), handled again after the restart.
        Returns how many were cut short.

        Then the finished ones are deleted from the inbox: one that only read has no
        `processed_updates` row, and the next start would answer it again."""
        running = set(self._handle_update_tasks)
        cut: set[asyncio.Task[Any]] = set()
        if running:
            log.info("waiting for %d running update(s) to finish", len(running))
            _done, cut = await asyncio.wait(running, timeout=grace)
            for task in cut:
                task.cancel()
            await asyncio.gather(*cut, return_exceptions=True)
            if cut:
                log.warning(
                    "%d update(s) cut short at shutdown: handled again at the next start",
                    len(cut),
                )
        await self._forget_finished()
        return len(cut)

    async def _forget_finished(self) -> None:
        inbox, runner = self._inbox, self._runner
        self._inbox = self._runner = None
        if inbox is None or runner is None:
            return
        try:
            await inbox.keep([], runner.take_finished())
        except Exception as exc:  # the database away: those that only read come again
            log.warning("finished updates not forgotten (%s); some may be answered again", exc)

    async def _polling(  # noqa: PLR0917 (aiogram's Dispatcher._polling, overridden as it is)
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
        inbox = Inbox(self.workflow_data["sessionmaker"])
        runner = Runner(self, bot, tasks_concurrency_limit or MAX_RUNNING, kwargs)
        self._inbox, self._runner = inbox, runner
        replayed = await inbox.unfinished(bot)
        log.info(
            "polling for @%s (id %d) through the inbox; %d update(s) kept from before",
            user.username,
            bot.id,
            len(replayed),
        )
        runner.add(replayed)
        try:
            await self._poll(
                bot,
                inbox,
                runner=runner,
                polling_timeout=polling_timeout,
                backoff_config=backoff_config,
                allowed_updates=allowed_updates,
            )
        finally:
            runner.stop()
            log.info("polling stopped for @%s; %d update(s) still held", user.username, runner.held)

    async def _poll(
        self,
        bot: Bot,
        inbox: Inbox,
        *,
        runner: Runner,
        polling_timeout: int,
        backoff_config: BackoffConfig,
        allowed_updates: list[str] | None,
    ) -> None:
        backoff = Backoff(config=backoff_config)
        request_timeout = (
            int(bot.session.timeout + polling_timeout) if bot.session.timeout else None
        )
        offset: int | None = None
        failed = False
        while True:
            await runner.wait_for_room()
            method = GetUpdates(
                offset=offset,
                timeout=polling_timeout,
                limit=min(100, MAX_HELD - runner.held),
                allowed_updates=allowed_updates,
            )
            finished = runner.take_finished()
            try:
                updates = await bot(method, request_timeout=request_timeout)
                fresh = runner.new(updates)
                await inbox.keep(fresh, finished)
            except asyncio.CancelledError:  # stopped: forgotten at the stop (finish_updates)
                runner.give_back(finished)
                raise
            except Exception as exc:  # the Bot API or the database is down: wait, go on
                runner.give_back(finished)
                failed = True
                log.error("polling failed (%s: %s); retrying", type(exc).__name__, exc)
                await backoff.asleep()
                continue
            if failed:
                log.info("polling works again")
                backoff.reset()
                failed = False
            if updates:
                # As aiogram does: past the last one fetched (Telegram starts a new random
                # sequence after a week without updates). Kept: the next poll confirms them.
                offset = updates[-1].update_id + 1
            runner.add(fresh)
