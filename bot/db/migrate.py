"""Applying Alembic migrations from code (at start-up and by `python -m bot db upgrade`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


# Replicas starting together (compose, a rolling update) all run the migrations: on
# PostgreSQL the first takes this transaction-scoped advisory lock, the others wait for its
# commit and then find the schema at head. SQLite serialises writers by itself.
MIGRATION_LOCK = 0x6578616D  # "exam"

# Alembic keeps its running context in module globals: two upgrades interleaving in one
# process (possible on an async driver) would tear each other's context down.
_one_at_a_time = asyncio.Lock()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with _one_at_a_time, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(run)
