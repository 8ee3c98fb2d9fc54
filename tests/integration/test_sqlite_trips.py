"""SQLite's statements in one hand-off to aiosqlite's thread each, and reads in none
(bot.db.sqlite_trips): the same rows, counts, ids and errors as the plain adapter, the
one hand-off, and a read that neither waits for a writer nor stays in the loop once
found slow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.db import sqlite_trips
from bot.db.engine import create_engine
from bot.db.sqlite_trips import OneTripCursor

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)"


async def made(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.execute(text(SCHEMA))
    return engine


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """The bot's engine and a plain aiosqlite one, each on a database of its own."""
    ours = await made(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ours.db'}"))
    plain = await made(create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}"))
    yield ours, plain
    await ours.dispose()
    await plain.dispose()


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function handed to an aiosqlite thread."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def session_of_work(engine: AsyncEngine) -> dict[str, Any]:
    """Inserts (one, many, RETURNING), updates, selects and deletes: what each answered."""
    seen: dict[str, Any] = {}
    async with engine.begin() as conn:
        one = await conn.execute(insert(table()).values(name="a", n=1))
        seen["inserted"] = (tuple(one.inserted_primary_key or ()), one.rowcount)
        many = await conn.execute(insert(table()), [{"name": f"m{i}", "n": i} for i in range(5)])
        seen["many"] = many.rowcount
        returned = await conn.execute(
            insert(table()).values(name="r", n=9).returning(text("id"), text("name"))
        )
        seen["returning"] = [tuple(r) for r in returned]
        changed = await conn.execute(update(table()).where(text("n < 3")).values(n=0))
        seen["updated"] = changed.rowcount
        rows = await conn.execute(select(text("id, name, n")).select_from(table()).order_by("id"))
        seen["keys"] = list(rows.keys())
        seen["rows"] = [tuple(r) for r in rows]
        seen["first"] = (await conn.execute(text("SELECT name FROM t WHERE n = 9"))).first()
        seen["none"] = (await conn.execute(text("SELECT name FROM t WHERE n = 99"))).first()
        gone = await conn.execute(text("DELETE FROM t WHERE n = 0"))
        seen["deleted"] = gone.rowcount
        streamed = await conn.stream(text("SELECT name FROM t ORDER BY id"))
        seen["streamed"] = [r[0] async for r in streamed]
    return seen


def table() -> Any:
    from sqlalchemy import Column, Integer, MetaData, String, Table

    return Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String),
        Column("n", Integer),
    )


async def test_the_same_answers_as_the_plain_adapter(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    ours, plain = engines
    async with ours.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, aiosqlite.Connection)
        assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)  # type: ignore[union-attr]
    answers = await session_of_work(ours)
    assert answers == await session_of_work(plain)
    assert answers["inserted"] == ((1,), 1)
    assert answers["many"] == 5
    assert answers["returning"] == [(7, "r")]
    assert answers["updated"] == 4  # a (1), m0, m1, m2
    assert answers["keys"] == ["id", "name", "n"]
    assert answers["rows"][:5] == [
        (1, "a", 0),
        (2, "m0", 0),
        (3, "m1", 0),
        (4, "m2", 0),
        (5, "m3", 3),
    ]
    assert answers["first"] == ("r",)
    assert answers["none"] is None
    assert answers["deleted"] == 4
    assert answers["streamed"] == ["m3", "m4", "r"]


async def test_one_hand_off_per_write_and_none_per_read(
    engines: tuple[AsyncEngine, AsyncEngine], hand_offs: list[str]
) -> None:
    ours, plain = engines
    for engine, per_read, per_write in ((ours, 0, 1), (plain, 4, 3)):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))  # the connection is made and checked
            hand_offs.clear()
            for _ in range(10):
                assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
            assert len(hand_offs) == 10 * per_read, hand_offs
            hand_offs.clear()
            for i in range(10):
                await conn.execute(text("INSERT INTO t (name, n) VALUES (:n, 1)"), {"n": f"w{i}"})
            assert len(hand_offs) == 10 * per_write, hand_offs
            await conn.rollback()


async def test_a_read_does_not_wait_for_another_connections_write(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """WAL: while one transaction holds the write lock, a read in the loop's thread sees
    what was committed, at once (the loop is never held by a writer)."""
    ours, _plain = engines
    async with ours.begin() as conn:
        await conn.execute(text("INSERT INTO t (name, n) VALUES ('committed', 1)"))
    async with ours.begin() as writer:
        await writer.execute(text("INSERT INTO t (name, n) VALUES ('pending', 2)"))
        async with ours.connect() as reader:
            read = reader.execute(text("SELECT name FROM t ORDER BY id"))
            names = (await asyncio.wait_for(read, timeout=1)).scalars().all()
    assert names == ["committed"]
    async with ours.connect() as reader:
        names = (await reader.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["committed", "pending"]


async def test_a_read_waits_behind_a_cancelled_statement_still_in_the_thread(
    engines: tuple[AsyncEngine, AsyncEngine], hand_offs: list[str]
) -> None:
    """A cancelled caller leaves its statement running in aiosqlite's thread: a read on
    that connection then queues behind it there instead of using the connection from
    the loop's thread at the same time."""
    ours, _plain = engines
    slow = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)"
        " SELECT count(*) FROM c"
    )
    async with ours.connect() as conn:
        raw = (await conn.get_raw_connection()).dbapi_connection
        assert raw is not None

        def run(sql: str) -> list[Any]:
            cursor = raw.cursor()
            cursor.execute(sql)
            rows = list(cursor.fetchall())
            cursor.close()
            return rows

        assert await conn.run_sync(lambda _: run("SELECT 1")) == [(1,)]
        hand_offs.clear()
        cancelled = asyncio.create_task(conn.run_sync(lambda _: run(slow)))
        await asyncio.sleep(0.05)  # it is in the thread now
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert not raw.idle
        assert await conn.run_sync(lambda _: run("SELECT 2")) == [(2,)]
        assert hand_offs == ["_run", "_run"]  # the slow one, then the read behind it
        assert raw.idle
        hand_offs.clear()
        assert await conn.run_sync(lambda _: run("SELECT 3")) == [(3,)]
        assert hand_offs == []  # here again
        await conn.rollback()


async def test_after_a_stream_the_connections_reads_stay_in_the_thread(
    engines: tuple[AsyncEngine, AsyncEngine], hand_offs: list[str]
) -> None:
    """A server-side cursor's calls go to the thread uncounted: a read could meet one."""
    ours, _plain = engines
    async with ours.connect() as conn:
        streamed = await conn.stream(text("SELECT count(*) FROM t"))
        assert [r[0] async for r in streamed] == [0]
        hand_offs.clear()
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        assert hand_offs == ["_run"]
        await conn.rollback()


async def test_a_slow_read_goes_to_the_thread_from_then_on(
    engines: tuple[AsyncEngine, AsyncEngine],
    hand_offs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours, _plain = engines
    monkeypatch.setattr(sqlite_trips, "SLOW_READ", 0.0)  # every read is "slow"
    monkeypatch.setattr(sqlite_trips, "_slow_reads", set())
    slow = "SELECT count(*) FROM t WHERE n > 0"
    async with ours.connect() as conn:
        await conn.execute(text("SELECT 1"))
        hand_offs.clear()
        assert (await conn.execute(text(slow))).scalar() == 0  # found slow, here
        assert hand_offs == []
        for _ in range(3):
            assert (await conn.execute(text(slow))).scalar() == 0
        assert hand_offs == ["_run"] * 3
    assert slow in sqlite_trips._slow_reads


async def test_without_wal_every_read_goes_to_the_thread(hand_offs: list[str]) -> None:
    """An in-memory database has no WAL: a read there could wait for a writer, and must
    not hold the event loop while it does."""
    engine = await made(create_engine("sqlite+aiosqlite:///:memory:"))
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).dbapi_connection
            assert getattr(raw, "reads_here", None) is False
            hand_offs.clear()
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
            assert hand_offs == ["_run"]
    finally:
        await engine.dispose()


async def test_errors_are_the_drivers_and_roll_back(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    ours, _plain = engines
    async with ours.begin() as conn:
        await conn.execute(text("INSERT INTO t (name, n) VALUES ('x', 1)"))
    with pytest.raises(IntegrityError):
        async with ours.begin() as conn:
            await conn.execute(text("INSERT INTO t (name, n) VALUES ('y', 2)"))
            await conn.execute(text("INSERT INTO t (name, n) VALUES ('x', 3)"))
    with pytest.raises(OperationalError, match="no such table"):
        async with ours.connect() as conn:
            await conn.execute(text("SELECT * FROM nowhere"))
    async with ours.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t ORDER BY name"))).scalars().all()
    assert names == ["x"]  # 'y' went with its transaction's rollback


async def test_a_locked_database_is_the_drivers_operational_error(tmp_path: Path) -> None:
    """bot.db.outage tells a busy SQLite by sqlite3's "database is locked"."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}"
    first = await made(create_engine(url))
    second = create_engine(url, connect_args={"timeout": 0.1})
    try:
        async with first.begin() as holder:
            await holder.execute(text("INSERT INTO t (name, n) VALUES ('held', 1)"))
            with pytest.raises(OperationalError, match="database is locked"):
                async with second.begin() as conn:
                    await conn.execute(text("INSERT INTO t (name, n) VALUES ('late', 2)"))
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_rollback_with_nothing_to_roll_back_is_not_handed_off(
    engines: tuple[AsyncEngine, AsyncEngine], hand_offs: list[str]
) -> None:
    """The pool rolls back each connection given back, even one just committed."""
    ours, _plain = engines
    async with ours.connect() as conn:
        raw = (await conn.get_raw_connection()).dbapi_connection
        assert raw is not None

        def statement(sql: str) -> None:
            cursor = raw.cursor()
            cursor.execute(sql)
            cursor.close()

        await conn.run_sync(lambda _: statement("INSERT INTO t (name, n) VALUES ('kept', 1)"))
        await conn.run_sync(lambda _: raw.commit())
        hand_offs.clear()
        await conn.run_sync(lambda _: raw.rollback())
        assert hand_offs == []  # nothing ran since the commit
        await conn.run_sync(lambda _: statement("INSERT INTO t (name, n) VALUES ('gone', 2)"))
        await conn.run_sync(lambda _: raw.rollback())
        assert hand_offs == ["_run", "rollback"]
        await conn.run_sync(lambda _: raw.rollback())
        assert hand_offs == ["_run", "rollback"]  # rolled back already
        await conn.run_sync(lambda _: statement("SELECT 1"))
        await conn.run_sync(lambda _: raw.rollback())
        assert hand_offs == ["_run", "rollback"]  # a read opens no transaction
        await conn.run_sync(lambda _: statement("UPDATE t SET n = 3 WHERE name = 'nobody'"))
        await conn.run_sync(lambda _: raw.rollback())
        assert hand_offs == ["_run", "rollback", "_run", "rollback"]  # a write, even of none
    async with ours.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["kept"]


async def test_a_transaction_that_only_read_commits_without_a_hand_off(
    engines: tuple[AsyncEngine, AsyncEngine], hand_offs: list[str]
) -> None:
    ours, _plain = engines
    async with ours.begin() as conn:
        await conn.execute(text("SELECT count(*) FROM t"))
        hand_offs.clear()
    assert hand_offs == []  # the commit had nothing to do
    async with ours.begin() as conn:
        await conn.execute(text("SELECT count(*) FROM t"))
        await conn.execute(text("INSERT INTO t (name, n) VALUES ('written', 1)"))
        hand_offs.clear()
    assert hand_offs == ["commit"]
    async with ours.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["written"]  # committed: the rollback at its return took nothing
