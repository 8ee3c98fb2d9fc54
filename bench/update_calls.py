"""Benchmark: what one update costs the bot in-process, counted rather than timed.

The handlers' fast tier (tests/handlers: the real application, every Bot answered at
once in-process, SQLite) is fed a linked student's updates: /help and /schedule (they
only read), and the /tz dialogue (each step writes: the dialogue's state, the zone). Per
update it prints the Python function calls (cProfile), the SQL statements sent to the
database and the CPU milliseconds (noisy on a shared machine; the counts are not).

    .venv/bin/python bench/update_calls.py [--updates N]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402  (after the path tweak)

from bench.common import out  # noqa: E402
from tests.e2e.conftest import MovableClock  # noqa: E402
from tests.handlers.conftest import FastBot, open_fast  # noqa: E402

COMMANDS = {
    "/help": ["/help"],
    "/schedule": ["/schedule"],
    "/tz dialogue": ["/tz", "Asia/Novosibirsk", "/tz", "Asia/Yekaterinburg"],
}


async def measure(fast: FastBot, texts: list[str], updates: int) -> tuple[float, float, float]:
    user = fast.user(500_001)
    for i in range(20):  # warm caches and the dialogue
        await fast.send(user, texts[i % len(texts)])
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    engine = fast.app.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    # The kept replies settle as in production (a second's worth at a time), not after
    # each update as the fast tier's tests ask; what is left is settled in the count.
    replies = getattr(fast.app, "replies", None)
    fast.app.replies = None
    profile = cProfile.Profile()
    started = time.process_time()
    profile.enable()
    for i in range(updates):
        await fast.send(user, texts[i % len(texts)])
    if replies is not None:
        await replies.settled()
    profile.disable()
    fast.app.replies = replies
    cpu = time.process_time() - started
    event.remove(engine, "before_cursor_execute", count)
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    return calls / updates, statements / updates, cpu / updates * 1000


async def main(updates: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "empty.db"
        template.touch()  # the application migrates it
        work = Path(folder) / "run"
        work.mkdir()
        clock = MovableClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
        async with open_fast(work, template, clock) as fast:
            await fast.link(fast.user(500_001), "2611022", "Каримов")
            for name, texts in COMMANDS.items():
                calls, statements, cpu = await measure(fast, texts, updates)
                out(
                    f"{name:13} {calls:8.0f} Python calls/upd  {statements:5.2f} SQL "
                    f"statements/upd  cpu {cpu:5.2f} ms/upd"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200)
    asyncio.run(main(parser.parse_args().updates))
