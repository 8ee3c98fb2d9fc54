"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine, run_outside_transaction
from bot.db.migrate import MIGRATIONS, alembic_config, at_head, head_revision, upgrade
from bot.db.models import Base


def head() -> str:
    """The one head of the migrations (raises if two branches were left unchained)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_the_migrations_form_one_chain() -> None:
    # Each revision names its predecessor; the newest is the number of the last file.
    newest = max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
    assert head() == newest


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []


async def test_upgrade_twice_is_a_no_op(engine: AsyncEngine) -> None:
    await upgrade(engine)  # the fixture already upgraded once
    async with engine.connect() as conn:
        version = await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    assert version == head()


async def test_replicas_migrating_at_once_both_start(postgres_dsn: str | None) -> None:
    """Two processes run `db upgrade` on an empty PostgreSQL database together (replicas
    starting at once): the advisory lock lets one build the schema, the other finds it."""
    if not postgres_dsn:
        pytest.skip("PostgreSQL not configured: set TEST_POSTGRES_DSN")
    url = make_url(postgres_dsn)
    name = f"{url.database}_migrate"
    await run_outside_transaction(postgres_dsn, f'DROP DATABASE IF EXISTS "{name}"')
    await run_outside_transaction(postgres_dsn, f'CREATE DATABASE "{name}"')
    try:
        env = {
            **os.environ,
            "DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
            "BOT_TOKEN": "123456:migrate",
        }
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "db",
                "upgrade",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        outputs = await asyncio.gather(*(p.communicate() for p in processes))
        for process, (output, _) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, output.decode()
        engine = create_engine(env["DATABASE_URL"])
        try:
            async with engine.connect() as conn:
                version = await conn.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
        finally:
            await engine.dispose()
        assert version == head()
    finally:
        await run_outside_transaction(
            postgres_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )


def test_head_read_from_the_files_is_alembics() -> None:
    """upgrade() skips Alembic when the database is at the head read from the files as
    text: that head must be the one Alembic itself finds."""
    head = head_revision()
    assert head is not None
    assert head == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_a_database_behind_the_head_is_still_migrated(engine: AsyncEngine) -> None:
    assert await at_head(engine)

    def one_back(sync: Connection) -> None:
        command.downgrade(alembic_config(sync), "-1")

    async with engine.begin() as conn:
        await conn.run_sync(one_back)
    assert not await at_head(engine)
    await upgrade(engine)
    assert await at_head(engine)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []
