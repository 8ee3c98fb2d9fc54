"""SQLite through aiosqlite in one thread hand-off per statement instead of four.

aiosqlite runs the sqlite3 connection in a thread of its own and hands it every call
through a queue: the call is queued, the thread wakes, runs it, and wakes the event loop
back with the result. SQLAlchemy's adapter makes four such calls for every SELECT
(make a cursor, execute, fetch all, close the cursor) and three for a write; each
round trip is two thread wake-ups and two greenlet switches, and for an update that
only reads (a /help, a /schedule) they were most of its database time.

Here one function does all four in the connection's thread (the same thread, the same
sqlite3 calls in the same order, so the results, the errors and the locking are those of
the plain adapter) and hands back the description, the rows, the row count and the last
row id. The cursor keeps no sqlite3 cursor open between calls: every result is fetched
whole, as the plain adapter's already were. Server-side cursors (`stream()`) keep the
plain adapter's way. Used by `bot.db.engine.create_engine` for every SQLite engine.

A SELECT does not go to the thread at all: it runs in the caller's (the event loop's)
thread, on the same sqlite3 connection. The hand-off costs far more than a read does
(about 0.15 ms of CPU against a few microseconds for an update's indexed reads), and in
WAL mode a read takes no lock and never waits for a writer, so it cannot stall the loop
on another connection's transaction. A read runs here only while nothing of its
connection's is in the thread (counted: a statement whose caller was cancelled runs on
there); otherwise it queues behind in the thread. So the connection is used by one
thread at a time, as sqlite3 requires; it is opened with `check_same_thread=False` to
allow the two. A read that costs more than `SLOW_READ` of CPU (a report over the whole
session) goes to the thread from then on, so long reads keep running beside the loop.
A commit or rollback with no transaction open (all an update that only read leaves)
is not handed off either: sqlite3 would find nothing to do.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

if TYPE_CHECKING:
    from sqlalchemy.connectors.asyncio import (
        AsyncAdapt_dbapi_connection,
        AsyncAdapt_dbapi_cursor,
        AsyncIODBAPIConnection,
    )

_Result = tuple[Any, list[Any], int, int | None]
_T = TypeVar("_T")

# A read costing more CPU than this (seconds) in the loop's thread is handed off from then
# on. CPU, not the clock: a busy machine's preemption must not send the hot reads away.
SLOW_READ = 0.002
# The SQL of reads found slow (bounded: statements built with literals could be many).
_slow_reads: set[str] = set()
_SLOW_READS_KEPT = 1_000


def _runs_inline(operation: str) -> bool:
    """A plain read not yet found slow. Writes (and a WITH that may prefix one) take
    SQLite's write lock, which may mean waiting: those always go to the thread."""
    return operation[:6].upper() == "SELECT" and operation not in _slow_reads


def _noted_if_slow(operation: str, started: float) -> None:
    if time.thread_time() - started > SLOW_READ and len(_slow_reads) < _SLOW_READS_KEPT:
        _slow_reads.add(operation)


def _run(
    connection: aiosqlite.Connection, operation: str, parameters: Any, *, many: bool
) -> _Result:
    """In the connection's thread: what the plain adapter does in four hand-offs."""
    cursor = connection._conn.cursor()  # the sqlite3 connection, in its own thread
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A DBAPI cursor whose every execute is one call into aiosqlite's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No sqlite3 cursor is made here (the plain adapter's first hand-off).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            adapt: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
            if adapt.reads_here and adapt.idle and _runs_inline(operation):
                return await_(self._read_here(operation, parameters))
            return await_(self._one_trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _read_here(self, operation: str, parameters: Any) -> None:
        """The read in this thread, with no hand-off. A coroutine all the same, though it
        never waits: SQLAlchemy's AsyncConnection insists that a statement awaited."""
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        started = time.thread_time()
        try:
            result = _run(connection, operation, parameters, many=False)
        finally:
            _noted_if_slow(operation, started)
        self._keep(result)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._one_trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _one_trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        # Whatever it is, it may leave a transaction open (or be cancelled midway).
        adapt: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        adapt._settled = False
        async with adapt._execute_mutex:
            connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            result: _Result = await adapt.in_thread(
                _run, connection, operation, parameters, many=many
            )
        self._keep(result)

    def _keep(self, result: _Result) -> None:
        self._description, rows, self._rowcount, self._lastrowid = result
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing is open: the sqlite3 cursor was closed in its thread."""

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        """sqlite3 ignores it too."""

    def nextset(self) -> None:
        raise sqlite3.NotSupportedError("SQLite returns one result set")


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Also skips the hand-off of a rollback with nothing to roll back (the pool rolls
    back every connection given back, even one whose transaction the session has just
    committed or that only read), and of a commit with nothing to commit (a transaction
    that only read): sqlite3 would find no transaction and do nothing.
    "Nothing": no statement went to the thread since the last commit or rollback that
    returned (a read run here opens no transaction: sqlite3 begins one only before a
    write); one cancelled midway leaves it unknown, and the rollback is handed off."""

    __slots__ = ("_done", "_handed", "_settled", "reads_here")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: AsyncIODBAPIConnection) -> None:
        super().__init__(dbapi, connection)
        self._settled = False
        # Reads run in the loop's thread only once the database is known to be in WAL
        # mode (bot.db.engine says so after its pragmas): with a rollback journal a read
        # may wait for a writer, and must not hold the loop while it does.
        self.reads_here = False
        # Calls handed to aiosqlite's thread, and those it has finished: each counter has
        # one writer (the loop's thread, the worker's), so they never lose a step.
        self._handed = 0
        self._done = 0

    @property
    def idle(self) -> bool:
        """Nothing of this connection's is in aiosqlite's thread: a statement whose
        caller was cancelled runs on there, and a read here must not meet it. (A trip
        holds the adapter's mutex only while it is counted handed and not done.)"""
        return self._handed == self._done

    async def in_thread(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """fn(*args, **kwargs) in aiosqlite's thread, counted (see `idle`)."""

        def counted() -> _T:
            try:
                return fn(*args, **kwargs)
            finally:
                self._done += 1

        counted.__name__ = getattr(fn, "__name__", "counted")
        self._handed += 1
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        return await connection._execute(counted)  # type: ignore[no-any-return,no-untyped-call]

    def cursor(self, server_side: bool = False) -> AsyncAdapt_dbapi_cursor:
        if server_side:
            # The plain adapter's cursor (`stream()`; the bot has none): its calls go to
            # the thread uncounted, so this connection's reads stay there from now on.
            self._settled = False
            self.reads_here = False
        return super().cursor(server_side)

    def commit(self) -> None:
        if self._settled:  # a transaction that only read here: nothing to commit
            return
        self._settle("commit")

    def rollback(self) -> None:
        if self._settled:
            return
        self._settle("rollback")

    def _settle(self, how: str) -> None:
        """The plain adapter's commit or rollback, counted as a call in the thread."""
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            await_(self.in_thread(getattr(connection._conn, how)))
        except Exception as error:
            self._handle_exception(error)
        self._settled = True


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy's dialect sees it, its connections' cursors one-trip."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        # Reads run in the event loop's thread, everything else in aiosqlite's; never
        # both at once on one connection (see the module's docstring).
        kw["check_same_thread"] = False
        plain = super().connect(*arg, **kw)
        return OneTripConnection(self, plain._connection)


def dbapi() -> OneTripDBAPI:
    """What `create_async_engine(..., module=...)` takes for an aiosqlite URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)
