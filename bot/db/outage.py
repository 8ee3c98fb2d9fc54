"""A database that went away (PostgreSQL restarting, its host rebooting): telling that
from other errors, and waiting until it answers again.

An update that meets such an error is not failed: it waits here and is handled again
once the database is back (bot.middlewares.unit_of_work, bot.db.fsm), rather than being
answered "something went wrong" and lost. Only one probe per engine runs at a time,
however many updates wait: they are woken together by its success.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import weakref
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

FIRST_DELAY = 0.5  # seconds between probes at first, doubling up to
LONGEST_DELAY = 2.0
# SQLSTATEs of a server going away: class 08 (connection exception), 57P01 admin
# shutdown ("terminating connection due to administrator command"), 57P02 crash shutdown,
# 57P03 cannot connect now ("the database system is starting up / shutting down").
_GONE_PREFIXES = ("08", "57P01", "57P02", "57P03")


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached now (rather than that the
    statement or the data is wrong): a connection refused or reset, a connection the pool
    found dead, a server shutting down or starting up."""
    if isinstance(error, ConnectionError | socket.gaierror):
        return True  # asyncpg raises these as they are while connecting
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    cause: BaseException | None = error.orig
    while cause is not None:
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_GONE_PREFIXES):
            return True
        cause = cause.__cause__
    return False


def database_busy(error: BaseException) -> bool:
    """SQLite's "database is locked": another connection held the write lock for longer
    than the busy timeout (a transaction left open across a request that hangs)."""
    if not isinstance(error, OperationalError):
        return False
    return "database is locked" in str(error.orig) or "database is busy" in str(error.orig)


@dataclass
class _Watch:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    up_at: float = 0.0  # time.monotonic() of the last probe that got an answer


_watches: weakref.WeakKeyDictionary[Engine, _Watch] = weakref.WeakKeyDictionary()


async def _answers(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        log.debug("the database does not answer yet: %r", exc)
        return False
    return True


async def wait_for_database(engine: AsyncEngine) -> float:
    """Returns once the database answers (at once if it does); the seconds waited."""
    watch = _watches.get(engine.sync_engine)
    if watch is None:
        watch = _watches[engine.sync_engine] = _Watch()
    since = time.monotonic()
    delay = FIRST_DELAY
    async with watch.lock:
        while watch.up_at < since:  # nobody saw it answer since this caller began to wait
            if await _answers(engine):
                watch.up_at = time.monotonic()
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_DELAY)
    return time.monotonic() - since
