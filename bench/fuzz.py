"""Benchmark: hostile and odd updates fed to the real dispatcher (in process, the bot
talking to the fake Bot API), 10,000 by default; see tests/e2e/fuzzing.py for what is
drawn and what is checked.

Prints plain figures: updates fed, unhandled exceptions (the error router's "update N
failed" and any other error logged or raised), seconds spent in the dispatcher and in
all, and the database consistency check afterwards. Exits non-zero if either found
something; the first failures are printed with their updates.

    .venv/bin/python bench/fuzz.py [--updates N] [--seed N] [--postgres DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402  (after the path tweak, so `bot` imports)

from bot.db.engine import run_outside_transaction  # noqa: E402
from tests.e2e.fakeapi import FakeBotAPI  # noqa: E402
from tests.e2e.fuzzing import FuzzWorld, fuzz_settings, updates  # noqa: E402

SHOWN_FAILURES = 5


def show(line: str) -> None:
    sys.stdout.write(line + "\n")


async def open_world(api: FakeBotAPI, url: str, files: Path) -> FuzzWorld:
    await api.start()
    return await FuzzWorld.open(fuzz_settings(api, url, files), api)


def run(count: int, url: str, files: Path, chosen_seed: int) -> tuple[FuzzWorld, list[str]]:
    loop = asyncio.new_event_loop()
    api = FakeBotAPI()
    world = loop.run_until_complete(open_world(api, url, files))
    try:
        # Drawn by hypothesis but only generated: a failure is counted and the run goes
        # on, rather than stopping to shrink it.
        @seed(chosen_seed)
        @settings(
            max_examples=count,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(updates())
        def feed(draft: dict[str, object]) -> None:
            loop.run_until_complete(world.feed(draft))

        feed()
        problems = loop.run_until_complete(world.check())
    finally:
        loop.run_until_complete(world.close())
        loop.run_until_complete(api.stop())
        loop.close()
    return world, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261223)
    parser.add_argument("--postgres", metavar="DSN", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'fuzz.db'}"
        name = ""
        if args.postgres:
            name = f"{make_url(args.postgres).database}_fuzz"
            asyncio.run(run_outside_transaction(args.postgres, f'DROP DATABASE IF EXISTS "{name}"'))
            asyncio.run(run_outside_transaction(args.postgres, f'CREATE DATABASE "{name}"'))
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        try:
            world, problems = run(args.updates, url, Path(tmp) / "files", args.seed)
        finally:
            if name:
                drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                asyncio.run(run_outside_transaction(args.postgres, drop))
    report = world.report
    database = "PostgreSQL" if args.postgres else "SQLite"
    show(f"updates fed:            {report.fed} ({database}, seed {args.seed})")
    show(f"unhandled exceptions:   {len(report.failures)}")
    show(f"seconds in dispatcher:  {report.seconds:.1f}")
    show(f"seconds in all:         {time.perf_counter() - began:.1f}")
    show(f"consistency check:      {'ok' if not problems else f'{len(problems)} problem(s)'}")
    for problem in problems:
        show(f"  - {problem}")
    for failure in report.failures[:SHOWN_FAILURES]:
        show(f"  ! {failure}")
    return 1 if problems or report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
