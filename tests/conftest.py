"""Fixtures for every test layer: a throwaway PostgreSQL database for this run.

TEST_POSTGRES_DSN names a server and a database to connect to; each test run creates its
own database beside it (named after the process), so two runs on one server (a CI clone
and a developer's run) never drop each other's tables. It is dropped at the end.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db.engine import create_engine, run_outside_transaction
from bot.db.migrate import upgrade

POSTGRES_DSN_ENV = "TEST_POSTGRES_DSN"


@pytest.fixture(scope="session", autouse=True)
def plain_http_sessions() -> Iterator[None]:
    """What aiogram's session spends on TLS the fake Bot API does not speak: it loads the
    CA bundle afresh for every Bot (load_verify_locations, ~15 ms of CPU; a bot start
    makes four), here one context per set of arguments, made once (the same
    verification); and it waits 250 ms after each close for TLS connections to shut down
    (every bot stop), here not: the connections to the fake are plain HTTP, closed with
    the aiohttp session. (The wait once hid a stop closing Redis and the Bot under an
    update still running; the stop now waits for whole updates: tests/e2e/test_process.py.)"""
    from aiogram.client.session import aiohttp as aiogram_aiohttp  # not for the unit tests

    async def close_at_once(self: aiogram_aiohttp.AiohttpSession) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)  # the transports' close callbacks run

    make = ssl.create_default_context
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            aiogram_aiohttp, "ssl", SimpleNamespace(create_default_context=functools.cache(make))
        )
        patch.setattr(aiogram_aiohttp.AiohttpSession, "close", close_at_once)
        yield


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str | None]:
    dsn = os.environ.get(POSTGRES_DSN_ENV)
    if not dsn:
        yield None
        return
    name = f"{make_url(dsn).database}_run{os.getpid()}"
    asyncio.run(run_outside_transaction(dsn, f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(run_outside_transaction(dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(dsn).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run_outside_transaction(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the migrations' head, made once per test process: each test
    starts from a copy of it instead of running the migrations again (the bot's start then
    finds it at head, as a restarted bot does). A fresh database's own start is tested by
    tests/integration/test_migrations.py and the process tests."""
    path = tmp_path_factory.mktemp("template") / "bot.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            async with engine.begin() as conn:  # everything in the main file, none in -wal
                await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        finally:
            await engine.dispose()

    # First asked for inside a test's running loop: a thread with a loop of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate()).result()
    return path
