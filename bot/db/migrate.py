"""Applying Alembic migrations from code (at start-up and by `python -m bot db upgrade`)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision(?:\s*:[^=]*)?\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]*)?\s*=(.*)$", re.M)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

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


def head_revision() -> str | None:
    """The newest migration's revision, read from the files as text; None when they do not
    make one plain chain (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def at_head(engine: AsyncEngine) -> bool:
    """Whether the database already is at the newest migration."""
    head = head_revision()
    if head is None:
        return False
    try:
        async with engine.connect() as conn:
            versions = list(await conn.scalars(text("SELECT version_num FROM alembic_version")))
    except DBAPIError:  # a new database: no version table yet
        return False
    return versions == [head]


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    # Every start and every CLI command comes here, and nearly always there is nothing to
    # do: Alembic (~0.3 s to import, ~10 MB kept for the process's life) only when there is.
    if revision == "head" and await at_head(engine):
        return

    def run(connection: Connection) -> None:
        from alembic import command

        command.upgrade(alembic_config(connection), revision)

    async with _one_at_a_time, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(run)
