"""Database fixtures: every integration test runs on SQLite and on PostgreSQL.

PostgreSQL runs only when TEST_POSTGRES_DSN is set (for example
`postgresql+asyncpg://postgres@127.0.0.1:5432/test`). The run gets its own database
(tests/conftest.py), whose `public` schema is dropped and recreated for every test.
SQLite starts from a copy of a database migrated once per test process.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade

POSTGRES_DSN_ENV = "TEST_POSTGRES_DSN"


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_dsn: str | None
) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        # A copy of the migrated template (tests/conftest.py): at head, so the upgrade
        # below finds nothing to do; migrating afresh cost ~0.1 s a test.
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), tmp_path / "test.db")
        db = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    else:
        dsn = postgres_dsn
        if not dsn:
            pytest.skip(
                f"PostgreSQL not configured: set {POSTGRES_DSN_ENV}, "
                "e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test"
            )
        db = create_engine(dsn)
    try:
        if db.dialect.name == "postgresql":
            async with db.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(db)
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(engine)() as db_session:
        yield db_session
