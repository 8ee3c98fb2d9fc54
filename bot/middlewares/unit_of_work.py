"""One database transaction per update, handled at most once, tracked until it finishes;
and what the update says to Telegram goes out after its commit.

Telegram re-sends updates after a restart (aiogram keeps the polling offset in memory
only), so the ids of handled updates are committed together with the handler's own
changes: either both are kept, or the update is handled again. The row is added at the
commit, not at the start: on SQLite the first write takes the database's one write lock
until the commit, and most updates only read (a burst of /help or /schedule then queued
on that lock). A locking read (`FOR UPDATE`), which SQLite has no row locks for, writes
the row first and so runs under the write lock, as every update used to.

An update that wrote nothing (/help, /schedule, a page turned) is not remembered at all:
its transaction is only rolled back. Handling it again is harmless (the same answer), so
a write and a commit for each of the most common updates bought nothing; and an update
cut short by a kill after its handler but before its answer went out is answered at the
next start instead of being skipped as done. The polling inbox forgets it once finished
(bot.polling), also at a clean stop.

Commit, then speak (bot.middlewares.held): the sends, edits and callback answers a
handler makes are held while it runs and released in order after the commit, once the
session is closed. So no transaction (SQLite's write lock, PostgreSQL's row locks) waits
on Telegram; a rolled-back update has told nobody anything; and a reply Telegram fails
cannot undo what the update recorded: a message goes through the durable outbox instead
(bot.notify.stored_replies), a failed edit or callback answer is logged. An update that
wrote anything keeps its messages in the outbox in its own transaction (`WROTE`, noted by
the session events below), so a kill between the commit and the release loses no
answer either; one that only read stores nothing. Edits asked for as the latest state
(the roll) go to the edit coalescer, at the chat's pace (bot.notify.edits). A handler
needing a result from Telegram (a message id to keep) gets it in an `after_commit` step
with its own short transaction.

What an update plans for the outbox sender, its services say on the `Outbox` made here
and handed to the handlers as data (bot.services.outbox); the sender is woken after the
commit if anything was planned.

When the database goes away (PostgreSQL restarting), the update is neither failed nor
remembered: its transaction is rolled back, its held replies dropped, it waits until the
database answers again and is handled again from the start (bot.db.outage); likewise
when SQLite stayed locked beyond its busy timeout. The few requests a handler waits on
(a file to download) are not held: when the Bot API fails one (5xx, a timeout, 429
beyond the retries), the update is handled again once getMe answers, for up to
`API_PATIENCE` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.types import TelegramObject, Update, User
from sqlalchemy import bindparam, event, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from bot.db.fsm import STATE_UNREAD, WROTE, stored_state_key, update_session
from bot.db.models import FsmRecord, ProcessedUpdate, utcnow
from bot.db.outage import database_busy, database_unavailable, wait_for_database
from bot.middlewares.held import (
    EditSink,
    HeldReplies,
    durable,
    held_replies,
    hold_replies,
    release,
    unavailable,
)
from bot.notify.stored_replies import ReplyStore
from bot.services.actors import ROLES_READ, Roles, roles_of, roles_query
from bot.services.outbox import Outbox

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# An update handled again this many times while the database answers each time in
# between is failed after all: the error is not the outage it looked like.
OUTAGE_RETRIES = 5
# The Bot API failing replies: the update is handled again once getMe answers, asked at
# pauses from the first, doubling up to the longest (or Telegram's retry_after), for up to
# `API_PATIENCE` seconds after the first failure; then it fails as any other.
API_FIRST_PAUSE = 2.0
API_LONGEST_PAUSE = 10.0
API_PATIENCE = 600.0


class BotApiWatch:
    """Waits until the Bot API answers again: one getMe at a time, however many updates
    wait (a held update is handled again only then, so that it does not take SQLite's
    write lock for a reply bound to fail)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._up_at = 0.0  # time.monotonic() of the last getMe answered

    async def wait(self, bot: Bot, since: float, deadline: float) -> bool:
        """True once the Bot API answered after `since`; False at `deadline` before."""
        pause = API_FIRST_PAUSE
        async with self._lock:
            while self._up_at < since:
                if time.monotonic() + pause > deadline:
                    return False
                await asyncio.sleep(pause)
                pause = min(pause * 2, API_LONGEST_PAUSE)
                try:
                    await bot.get_me()
                except TelegramRetryAfter as exc:
                    pause = max(pause, float(exc.retry_after))
                except (TelegramServerError, TelegramNetworkError):
                    pass
                except Exception:  # any other answer: it is reachable
                    self._up_at = time.monotonic()
                else:
                    self._up_at = time.monotonic()
        return True


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


# An update's first read, one statement built once (building a statement cost as much as
# running it): whether it was handled before, its dialogue state when that is kept in this
# database, and its user with their roles (bot.middlewares.actor takes them from here).
_HANDLED = exists().where(ProcessedUpdate.update_id == bindparam("update_id"))
_STATE = select(FsmRecord.state).where(FsmRecord.key == bindparam("key")).scalar_subquery()
_FIRST_READS = {
    # (with the user's roles, with the state): the statement
    (False, False): select(_HANDLED),
    (False, True): select(_HANDLED, _STATE),
    (True, False): roles_query(_HANDLED),
    (True, True): roles_query(_HANDLED, _STATE),
}
ROLES_WITH = 5  # the columns of roles_query before ours


async def first_read(
    session: AsyncSession, update_id: int, *, state_key: str | None, user_id: int | None
) -> tuple[bool, str | None, Roles | None]:
    """Handled before?, the dialogue state (None unless `state_key`), and the user's roles
    (None for no user, or one not seen yet: the actor middleware makes their row)."""
    params: dict[str, object] = {"update_id": update_id}
    if state_key is not None:
        params["key"] = state_key
    if user_id is not None:
        params["user_id"] = user_id
        statement = _FIRST_READS[True, state_key is not None]
        row = (await session.execute(statement, params)).first()
        if row is not None:
            state = row[ROLES_WITH + 1] if state_key is not None else None
            return bool(row[ROLES_WITH]), state, roles_of(row)
        del params["user_id"]  # not seen yet: no row to carry ours
    row = (await session.execute(_FIRST_READS[False, state_key is not None], params)).one()
    return bool(row[0]), row[1] if state_key is not None else None, None


# session.info keys: the update id whose ProcessedUpdate row this session adds at its
# commit; and WROTE (bot.db.fsm): whether the update wrote anything else (False until it
# does; a dialogue kept in Redis says so through bot.db.fsm.WritesNoted).
UNCLAIMED = "unclaimed_update"


# A Core INSERT on the session's connection, not an ORM object: the unit of work's flush
# of one row cost an update more CPU than all its other writes (usually none).
_CLAIM = insert(ProcessedUpdate)


def claim(session: Session) -> None:
    """Writes the update's ProcessedUpdate row, once, in the session's transaction."""
    update_id = session.info.pop(UNCLAIMED, None)
    if update_id is not None:
        session.connection().execute(_CLAIM, {"update_id": update_id, "processed_at": utcnow()})


def claim_and_commit(session: Session) -> None:
    """The update's row and the commit, in one hand-off from async code (each await of
    the session is a greenlet switch of its own)."""
    claim(session)
    session.commit()


@event.listens_for(Session, "do_orm_execute")
def _write_lock_before_locking_read(state: ORMExecuteState) -> None:
    """SQLite has no row locks: a `FOR UPDATE` read there (a roll's marks, a statement's
    step) must run under the database's write lock, as it did when every update wrote
    its ProcessedUpdate row first. So the row is written (and the lock taken) before it.
    PostgreSQL locks the rows themselves."""
    session = state.session
    if (
        UNCLAIMED in session.info
        and state.is_select
        and getattr(state.statement, "_for_update_arg", None) is not None  # no public accessor
        and session.get_bind().dialect.name == "sqlite"
    ):
        claim(session)


@event.listens_for(Session, "do_orm_execute")
def _note_statement_write(state: ORMExecuteState) -> None:
    """A statement that is not a SELECT (a bulk insert or update, raw SQL) writes."""
    info = state.session.info
    if info.get(WROTE) is False and not state.is_select:
        info[WROTE] = True


def _changes(session: Session) -> bool:
    """Rows the session adds, deletes or changes, other than the update's ProcessedUpdate."""
    return any(
        not isinstance(row, ProcessedUpdate) for row in (*session.new, *session.deleted)
    ) or any(session.is_modified(row) for row in session.dirty)


@event.listens_for(Session, "after_flush")
def _note_flush_write(session: Session, _context: object) -> None:
    """A flush that changed a row other than the update's ProcessedUpdate writes."""
    if session.info.get(WROTE) is False and _changes(session):
        session.info[WROTE] = True


def wrote(session: Session) -> bool:
    """Did the update write anything: flushed, executed, or still pending for its commit?"""
    return bool(session.info.get(WROTE)) or _changes(session)


class UnitOfWorkMiddleware(BaseMiddleware):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        in_flight: InFlight,
        on_planned: Callable[[], None] | None = None,
        *,
        outbox: ReplyStore | None = None,
        edits: EditSink | None = None,
    ) -> None:
        """`outbox` keeps the messages of an update that wrote something with it, and
        those Telegram failed after the commit (without one they are said after the
        commit only, and logged as lost when Telegram fails them); `edits` sends the
        latest-state edits (without one they go out with the other replies)."""
        self._sessionmaker = sessionmaker
        self._in_flight = in_flight
        self._on_planned = on_planned
        self._outbox = outbox
        self._edits = edits
        self._bot_api = BotApiWatch()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        with self._in_flight:
            try:
                return await self._handle_through_outages(handler, event, data)
            finally:
                self._in_flight.finished.append(event.update_id)

    async def _handle_through_outages(
        self, handler: Handler, event: Update, data: dict[str, Any]
    ) -> Any:
        retries = 0
        api_deadline: float | None = None  # set at the first failure of the Bot API

        def again(error: BaseException) -> bool:
            if database_unavailable(error) or database_busy(error):
                return retries < OUTAGE_RETRIES
            return unavailable(error) and (api_deadline is None or time.monotonic() < api_deadline)

        while True:
            try:
                return await self._handle(handler, event, data, again=again)
            except Exception as exc:
                if not again(exc):
                    raise
                if database_unavailable(exc) or database_busy(exc):
                    retries += 1
                    await self._wait_for_database(event, exc)
                    continue
                failed_at = time.monotonic()
                if api_deadline is None:
                    api_deadline = failed_at + API_PATIENCE
                if not await self._wait_for_bot_api(
                    event, exc, data, since=failed_at, deadline=api_deadline
                ):
                    await self._remember(event.update_id)
                    raise

    async def _wait_for_database(self, event: Update, error: Exception) -> None:
        log.warning(
            "update %s: the database is %s (%s); it is handled again once the database answers",
            event.update_id,
            "locked" if database_busy(error) else "unavailable",
            error.__class__.__name__,
        )
        waited = await wait_for_database(self._sessionmaker.kw["bind"])
        log.info("update %s: the database answers (waited %.1f s)", event.update_id, waited)

    async def _wait_for_bot_api(
        self,
        event: Update,
        error: Exception,
        data: dict[str, Any],
        *,
        since: float,
        deadline: float,
    ) -> bool:
        log.warning(
            "update %s: the Bot API is unavailable (%s); it is handled again once it answers",
            event.update_id,
            error.__class__.__name__,
        )
        if not await self._bot_api.wait(data["bot"], since, deadline):
            log.warning("update %s: the Bot API is still unavailable; given up", event.update_id)
            return False
        log.info(
            "update %s: the Bot API answers (waited %.0f s)",
            event.update_id,
            time.monotonic() - since,
        )
        return True

    async def _handle(
        self,
        handler: Handler,
        event: Update,
        data: dict[str, Any],
        *,
        again: Callable[[BaseException], bool],
    ) -> Any:
        """Once; an error that `again` says is retried is neither remembered nor kept.
        The replies go out after the commit, with the session closed."""
        hold_replies(data["bot"])
        held = HeldReplies()
        async with self._sessionmaker() as session:
            key = stored_state_key(data["state"]) if data.get(STATE_UNREAD) else None
            user: User | None = data.get("event_from_user")
            handled, state, data[ROLES_READ] = await first_read(
                session,
                event.update_id,
                state_key=key,
                user_id=user.id if user and not user.is_bot else None,
            )
            if handled:
                log.info("update %s was handled before; skipped", event.update_id)
                return None
            data["session"] = session
            # What the update plans for the outbox, said by the services it calls.
            outbox = data["outbox"] = Outbox()
            # Added at the commit (or at a locking read on SQLite), not now: on SQLite the
            # first write takes the database's one write lock until the commit, and an
            # update that only reads (most of them) would hold it through all its work.
            session.info[UNCLAIMED] = event.update_id
            session.info[WROTE] = False
            token = update_session.set(session)
            speaking = held_replies.set(held)
            try:
                # The dialogue state, in this transaction (bot.polling.StateLockMiddleware
                # leaves it to us; aiogram's own middleware has read it already).
                if data.get(STATE_UNREAD):
                    data["raw_state"] = (
                        state if key is not None else await data["state"].get_state()
                    )
                result = await handler(event, data)
            except Exception as exc:
                if again(exc):
                    # Nothing to remember it by: it is handled again (above).
                    with contextlib.suppress(Exception):
                        await session.rollback()
                    raise
                await session.rollback()
                await self._remember(event.update_id)
                raise
            finally:
                # What it said is dropped with a rollback; anything said from here on
                # (a task it left running) is not held.
                held.open = False
                held_replies.reset(speaking)
                update_session.reset(token)
            if wrote(session.sync_session):
                if self._outbox is not None:
                    # Kept with what it wrote: a kill before they go out loses no answer.
                    await self._keep_replies(session, held)
                await session.run_sync(claim_and_commit)
            # Else nothing to keep: the session's close rolls its reads back.
        # Only now can the sender see the new notices: wake it after the commit.
        if outbox.wakes_sender and self._on_planned is not None:
            self._on_planned()
        await release(held, outbox=self._outbox, edits=self._edits)
        return result

    async def _keep_replies(self, session: AsyncSession, held: HeldReplies) -> None:
        assert self._outbox is not None
        replies = durable(held)
        if not replies:
            return
        kept = await self._outbox.keep_in(
            session, [(reply.bot, message) for reply, message in replies]
        )
        for reply, message in replies:
            reply.kept = kept[int(message.chat_id)]

    async def _remember(self, update_id: int) -> None:
        # A failing update is not retried after a restart: it would only fail again.
        async with self._sessionmaker.begin() as session:
            await session.merge(ProcessedUpdate(update_id=update_id))
