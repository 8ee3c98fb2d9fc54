"""Work that one replica at a time should do, on PostgreSQL's advisory locks.

Several bot processes may share one PostgreSQL database (webhook mode behind a load
balancer). Background chores (keeping files, progress messages, the semester's
retention) are safe to repeat but wasteful to run side by side, so each round of a chore
runs in one replica; the others skip it and look again next round. The lock is
transaction-scoped on a connection of its own: a replica that dies mid-chore drops it
with its connection. SQLite has one process by design: always granted there.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def lock_key(name: str) -> int:
    """A stable 32-bit key for a name (advisory locks take a bigint)."""
    return zlib.crc32(f"examinator:{name}".encode())


@asynccontextmanager
async def one_replica(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Yields True if this process holds `name` until the block ends, False if another
    one is doing it now."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    async with engine.connect() as conn, conn.begin():
        held = await conn.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
        )
        yield bool(held)
