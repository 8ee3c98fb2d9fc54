"""Fixtures for every test layer: a throwaway PostgreSQL database for this run.

TEST_POSTGRES_DSN names a server and a database to connect to; each test run creates its
own database beside it (named after the process), so two runs on one server (a CI clone
and a developer's run) never drop each other's tables. It is dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from bot.db.engine import run_outside_transaction

POSTGRES_DSN_ENV = "TEST_POSTGRES_DSN"


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
