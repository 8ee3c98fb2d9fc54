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
"""

from __future__ import annotations

import collections
import sqlite3
from typing import TYPE_CHECKING, Any

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
            return await_(self._one_trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._one_trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _one_trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            result: _Result = await connection._execute(  # type: ignore[no-untyped-call]
                _run, connection, operation, parameters, many=many
            )
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
    """Also skips the hand-off of a rollback with nothing to roll back: the pool rolls
    back every connection given back, even one whose transaction the session has just
    committed, and sqlite3 would find no transaction and do nothing. "Nothing": no
    cursor was made (so no statement ran) since the last commit or rollback that
    returned; one cancelled midway leaves it unknown, and the rollback is handed off."""

    __slots__ = ("_settled",)
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: AsyncIODBAPIConnection) -> None:
        super().__init__(dbapi, connection)
        self._settled = False

    def cursor(self, server_side: bool = False) -> AsyncAdapt_dbapi_cursor:
        self._settled = False
        return super().cursor(server_side)

    def commit(self) -> None:
        super().commit()
        self._settled = True

    def rollback(self) -> None:
        if self._settled:
            return
        super().rollback()
        self._settled = True


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy's dialect sees it, its connections' cursors one-trip."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        plain = super().connect(*arg, **kw)
        return OneTripConnection(self, plain._connection)


def dbapi() -> OneTripDBAPI:
    """What `create_async_engine(..., module=...)` takes for an aiosqlite URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)
