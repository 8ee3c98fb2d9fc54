"""PostgreSQL's pooled connections are pinged only after a while unused (bot.db.engine):
a busy bot reuses them without a round trip, and one the server closed meanwhile (a
restart) is replaced before anyone uses it; one closed within that while fails as a
disconnect, which the unit of work waits out (bot.db.outage), and the pool starts over.
Needs TEST_POSTGRES_DSN (skipped without)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import engine as engine_module
from bot.db.engine import create_engine
from bot.db.outage import database_unavailable


@pytest.fixture
async def pg(postgres_dsn: str | None) -> AsyncIterator[AsyncEngine]:
    if not postgres_dsn:
        pytest.skip("PostgreSQL not configured: set TEST_POSTGRES_DSN")
    engine = create_engine(postgres_dsn, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def pings(pg: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    made: list[int] = []
    do_ping = pg.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        made.append(1)
        return do_ping(dbapi_connection)

    monkeypatch.setattr(pg.dialect, "do_ping", counted)
    return made


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def kill(dsn_engine: AsyncEngine, pid: int) -> None:
    other = create_engine(dsn_engine.url.render_as_string(hide_password=False))
    try:
        async with other.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def test_a_connection_back_a_moment_ago_is_not_pinged(
    pg: AsyncEngine, pings: list[int]
) -> None:
    first = await backend_pid(pg)
    for _ in range(5):
        assert await backend_pid(pg) == first  # the same connection, reused
    assert pings == []


async def test_an_idle_connection_the_server_closed_is_replaced_unseen(
    pg: AsyncEngine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await backend_pid(pg)
    await kill(pg, first)  # as a restart does
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)  # it waited long enough
    second = await backend_pid(pg)  # no error: the ping found it dead, a new one is made
    assert second != first
    assert pings == [1]


async def test_one_closed_within_the_while_fails_as_the_database_away_then_recovers(
    pg: AsyncEngine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 3600.0)
    first = await backend_pid(pg)
    await kill(pg, first)
    with pytest.raises(DBAPIError) as failed:
        await backend_pid(pg)
    assert database_unavailable(failed.value)  # the unit of work handles the update again
    assert await backend_pid(pg) != first  # the pool let the dead one go
    assert pings == []
