"""One replica at a time runs a chore's round (bot.db.locks, bot.notify.chores)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine
from bot.db.locks import one_replica
from bot.notify.chores import Chore, Chores


async def test_a_chore_runs_in_one_replica_at_a_time(engine: AsyncEngine) -> None:
    # A second engine: another process's connections.
    other = create_engine(engine.url.render_as_string(hide_password=False))
    entered = asyncio.Event()
    release = asyncio.Event()
    runs: list[str] = []

    def chore(replica: str) -> Chore:
        async def run() -> int:
            runs.append(replica)
            entered.set()
            await release.wait()
            return 1

        return run

    first = Chores([("retention", chore("a"))], guard=lambda name: one_replica(engine, name))
    second = Chores([("retention", chore("b"))], guard=lambda name: one_replica(other, name))
    try:
        running = asyncio.create_task(first.run_once())
        await asyncio.wait_for(entered.wait(), 10)
        if engine.dialect.name == "postgresql":
            await second.run_once()  # the other replica skips the round ...
            assert runs == ["a"]
            release.set()
            await running
            await second.run_once()  # ... and takes the next one
            assert runs == ["a", "b"]
        else:  # one process by design: never held back
            release.set()
            await running
            await second.run_once()
            assert runs == ["a", "b"]
        async with one_replica(engine, "retention") as mine:  # released after the round
            assert mine
    finally:
        release.set()
        await other.dispose()
