"""Engine and session factory for SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql.dml import Insert as PgInsert
    from sqlalchemy.dialects.sqlite.dml import Insert as SqliteInsert


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A handler may wait on another's write for a moment; never fail with "locked".
        kwargs.setdefault("connect_args", {"timeout": 30})
        if parsed.get_driver_name() == "aiosqlite":
            # One thread hand-off per statement instead of four (bot.db.sqlite_trips).
            from bot.db.sqlite_trips import dbapi

            kwargs.setdefault("module", dbapi())
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    elif not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine.sync_engine.pool, engine.dialect)
    return engine


# A pooled PostgreSQL connection unused for longer than this is pinged before it is
# handed out (a server restarted meanwhile has closed it). SQLAlchemy's pool_pre_ping
# pings at every checkout: a round trip to the server and ~0.1 ms of CPU on every
# update's transaction, on a busy bot for connections given back milliseconds before.
# One that fails in use all the same (the server restarted within this second) fails
# as a disconnect: SQLAlchemy then recycles every connection the pool held, and the
# update is handled again once the database answers (bot.db.outage).
PING_AFTER_IDLE = 1.0
_RETURNED_AT = "examinator_returned_at"


def _ping_when_idle(pool: Any, dialect: Dialect) -> None:
    def checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE:
            return  # just connected, or back in the pool a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("a pooled connection did not answer a ping") from exc
        if not alive:
            raise DisconnectionError("a pooled connection did not answer a ping")

    event.listen(pool, "checkin", checkin)
    event.listen(pool, "checkout", checkout)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers go on while one update writes; NORMAL is durable enough with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    wal = (cursor.fetchone() or ("",))[0] == "wal"  # an in-memory database stays "memory"
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    if hasattr(dbapi_connection, "reads_here"):  # bot.db.sqlite_trips: reads without a hand-off
        dbapi_connection.reads_here = wal


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def run_outside_transaction(dsn: str, sql: str) -> None:
    """One PostgreSQL statement that cannot run in a transaction (CREATE/DROP DATABASE),
    on a plain asyncpg connection to the DSN's database; for tests and benchmarks."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(dsn)
    conn = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        database=url.database,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def dialect_insert(session: AsyncSession, table: Any) -> PgInsert | SqliteInsert:
    """An INSERT that takes ON CONFLICT DO NOTHING, in the session's dialect. Imported on
    first use: the PostgreSQL dialect's modules cost a SQLite deployment ~2 MB for good."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
