"""Benchmark: the running bot's idle memory with 10,000 students, against aiogram's own.

Prints the RSS of a process that only does `import aiogram, aiogram.types` (the floor any
aiogram bot stands on), and of `python -m bot run` polling the fake Bot API (100 ms
jittered latency) once it has started and gone idle, with STUDENTS linked students in 300
groups, an exam each group in 20 days and their notices already planned. Target: the bot
idle at most 40 MB above aiogram's import.

    .venv/bin/python bench/memory.py [--students N] [--postgres DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import bot_env, start_bot  # noqa: E402  (after the path tweak)
from bench.import_schedule import (  # noqa: E402
    link_students,
    pg_database,
    roster_csv,
    schedule_csv,
)
from bench.outbox import TOKEN  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.engine import create_engine, create_sessionmaker  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.services.imports import import_roster, import_schedule  # noqa: E402
from bot.services.outbox import Outbox  # noqa: E402
from bot.services.reminders import plan_upcoming  # noqa: E402
from tests.e2e.fakeapi import FakeBotAPI  # noqa: E402

IDLE_POLLS = 5  # getUpdates calls after start-up before the bot counts as idle
SAMPLES = 5  # RSS readings, one a second, once idle (the largest is printed)


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def aiogram_rss_mb() -> float:
    code = (
        "import aiogram, aiogram.types\n"
        "from pathlib import Path\n"
        "line = next(l for l in Path('/proc/self/status').read_text().splitlines()"
        " if l.startswith('VmRSS:'))\n"
        "print(int(line.split()[1]) / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


async def seed(database_url: str, students: int) -> None:
    engine = create_engine(database_url)
    settings = Settings(_env_file=None, database_url=database_url)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker.begin() as session:
            await import_roster(session, "roster.csv", roster_csv(students).encode())
        await link_students(database_url, students)
        first_day = datetime.now(UTC).date() + timedelta(days=20)
        async with sessionmaker.begin() as session:
            content = schedule_csv(300, first_day).encode()
            await import_schedule(session, "schedule.csv", content, tz=settings.tz)
        async with sessionmaker.begin() as session:
            await plan_upcoming(session, datetime.now(UTC), settings, outbox=Outbox())
    finally:
        await engine.dispose()


async def idle_rss(database_url: str, directory: str) -> tuple[float, float]:
    """(seconds to idle, the bot's largest RSS over SAMPLES seconds of idling)."""
    async with FakeBotAPI(token=TOKEN, latency=0.1, jitter=0.5) as api:
        env = bot_env(api, database_url, directory)
        started = time.monotonic()
        bot = await start_bot(env, directory)
        try:
            while sum(c.method.lower() == "getupdates" for c in api.calls) < IDLE_POLLS:
                if bot.returncode is not None:
                    raise RuntimeError(f"the bot exited with {bot.returncode}")
                if time.monotonic() - started > 120:
                    raise RuntimeError("the bot did not start polling within 120 s")
                await asyncio.sleep(0.2)
            to_idle = time.monotonic() - started
            readings = []
            for _ in range(SAMPLES):
                readings.append(rss_mb(bot.pid))
                await asyncio.sleep(1)
            return to_idle, max(readings)
        finally:
            bot.terminate()
            await bot.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--postgres", metavar="DSN", help="postgresql+asyncpg://… instead")
    args = parser.parse_args()
    floor = aiogram_rss_mb()
    out(f"aiogram_import_rss_mb   {floor:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        if args.postgres:
            url = await pg_database(args.postgres, create=True)
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        try:
            await seed(url, args.students)
            to_idle, rss = await idle_rss(url, tmp)
        finally:
            if args.postgres:
                await pg_database(args.postgres, create=False)
    out(f"students                {args.students}")
    out(f"start_to_idle_s         {to_idle:.1f}")
    out(f"bot_idle_rss_mb         {rss:.1f}")
    out(f"above_aiogram_mb        {rss - floor:.1f}  (target <= 40)")


if __name__ == "__main__":
    asyncio.run(main())
