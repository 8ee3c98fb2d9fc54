"""Benchmark: updates handled per second by the full bot against a bare aiogram echo bot.

Both poll the same fake Bot API (`tests/e2e/fakeapi.py`, real HTTP on 127.0.0.1) with
Telegram's round trip (100 ms, jittered ±50 %) on every call, each as its own process:
(A) the real bot, `python -m bot run`, on a database seeded with 500 linked students
(SQLite in a temporary file; `--postgres DSN` for a throwaway PostgreSQL database made
next to the DSN's); (B) a bare aiogram 3 echo bot (`bench/echo_bot.py`), which answers
every message with one sendMessage and does nothing else. The runs alternate A B A B
(`--rounds`), so both see the same machine. In each run the students send N `/help` at
once, and once those are answered, N `/schedule` (the bare bot echoes both alike).

Printed per run and command: updates/s (N over the time from the updates offered to the
last reply answered), reply latency p50/p95/max (update offered -> its reply answered by
the fake, seen within 10 ms), updates fetched by getUpdates per update handled, and the
process's CPU milliseconds per update; at the end the medians and the full/bare ratio.
Targets (issue 11.4): ratio >= 0.5 for /help, >= 0.3 for /schedule; p95 < 1 s above the
round trip.

    .venv/bin/python bench/updates.py [--updates N] [--rounds R] [--postgres DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, text  # noqa: E402  (after the path tweak, so `bot` imports)
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import bot_env, out  # noqa: E402
from bench.outbox import STUDENT_USERS, TOKEN, seed_burst  # noqa: E402
from bot.db.engine import create_engine, create_sessionmaker  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Notice  # noqa: E402
from tests.e2e.fakeapi import FakeBotAPI  # noqa: E402

STUDENTS = 500
COMMANDS = ("/help", "/schedule")
WARM_UP_USER = 9_000_000  # not a student: /help answers anyone
LATENCY = 0.1
PG_DATABASE = "bench_updates"
ECHO_BOT = Path(__file__).resolve().parent / "echo_bot.py"


@dataclass
class Figures:
    per_second: float
    p50: float
    p95: float
    worst: float
    fetched_per_update: float
    cpu_ms_per_update: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def centile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def seed(database_url: str) -> None:
    """500 linked students over 300 groups, their exams three days ahead (so the outbox
    has nothing due during a run: its notices are deleted, and what the bot plans at
    start is due days later)."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        await seed_burst(sessionmaker, STUDENTS, datetime.now(UTC) + timedelta(days=3))
        async with sessionmaker.begin() as session:
            await session.execute(delete(Notice))
    finally:
        await engine.dispose()


async def postgres_database(dsn: str, *, drop_only: bool = False) -> str:
    """A fresh database beside the DSN's; returns its URL."""
    url = make_url(dsn)
    admin = create_engine(url.render_as_string(hide_password=False))
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
            if not drop_only:
                await conn.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    finally:
        await admin.dispose()
    return url.set(database=PG_DATABASE).render_as_string(hide_password=False)


async def start(
    command: tuple[str, ...], env: dict[str, str], directory: str, log: Path
) -> asyncio.subprocess.Process:
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            *command, cwd=directory, env=env, stdout=sink, stderr=asyncio.subprocess.STDOUT
        )


async def wait_for_polling(api: FakeBotAPI, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until the process has polled and answered a warm-up /help."""
    warm = api.user(WARM_UP_USER, language_code="en")
    mark = api.mark()
    deadline = time.monotonic() + 180  # imports take long on a busy machine
    while not any(c.method == "getUpdates" for c in api.calls[mark:]):
        if process.returncode is not None or time.monotonic() > deadline:
            raise SystemExit(f"the bot did not start:\n{tail(log)}")
        await asyncio.sleep(0.1)
    after = api.mark()
    warm.send("/help")
    await api.next_message(warm.id, after=after, timeout=30)


async def feed(api: FakeBotAPI, pid: int, command: str, count: int) -> Figures:
    """`count` updates from as many students at once; waits for every reply."""
    users = [api.user(STUDENT_USERS + i % STUDENTS, language_code="en") for i in range(count)]
    mark = api.mark()
    replied_before = {u.id: len(api.delivered(u.id)) for u in users}
    cpu0 = cpu_seconds(pid)
    offered = time.monotonic()
    for user in users:
        user.send(command)
    deadline = offered + 600
    # Seen by polling the fake's record every 10 ms: a reply counts once Telegram has
    # answered it (the fake records a call after its round trip).
    answered: dict[int, float] = {}
    waiting = {u.id for u in users}
    while waiting:
        now = time.monotonic()
        done = {u for u in waiting if len(api.delivered(u)) > replied_before[u]}
        answered.update(dict.fromkeys(done, now))
        waiting -= done
        if now > deadline:
            raise SystemExit(f"{len(waiting)} of {count} {command} left unanswered")
        await asyncio.sleep(0.01)
    cpu = cpu_seconds(pid) - cpu0
    latencies = sorted(at - offered for at in answered.values())
    fetched = sum(
        len(c.result or []) for c in api.calls[mark:] if c.method == "getUpdates" and c.ok
    )
    return Figures(
        per_second=count / latencies[-1],
        p50=statistics.median(latencies),
        p95=centile(latencies, 95),
        worst=latencies[-1],
        fetched_per_update=fetched / count,
        cpu_ms_per_update=cpu * 1000 / count,
    )


async def one_run(
    api: FakeBotAPI, command: tuple[str, ...], env: dict[str, str], tmp: str, count: int
) -> dict[str, Figures]:
    log = Path(tmp) / "bot.log"
    process = await start(command, env, tmp, log)
    try:
        await wait_for_polling(api, process, log)
        return {c: await feed(api, process.pid, c, count) for c in COMMANDS}
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


def show(kind: str, run: int, figures: dict[str, Figures]) -> None:
    for name, f in figures.items():
        out(
            f"{kind:<4} run {run} {name:<9} {f.per_second:7.1f} upd/s  p50 {f.p50:5.2f} s  "
            f"p95 {f.p95:5.2f} s  max {f.worst:5.2f} s  fetched/upd {f.fetched_per_update:5.2f}  "
            f"cpu {f.cpu_ms_per_update:5.1f} ms/upd"
        )


async def run(count: int, rounds: int, postgres: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-updates-") as tmp:
        database_url = (
            await postgres_database(postgres) if postgres else f"sqlite+aiosqlite:///{tmp}/bot.db"
        )
        try:
            await seed(database_url)
            async with FakeBotAPI(token=TOKEN, latency=LATENCY, jitter=0.5) as api:
                env = bot_env(api, database_url, tmp)
                full = (sys.executable, "-m", "bot", "run")
                bare = (sys.executable, str(ECHO_BOT))
                out(
                    f"backend {make_url(database_url).get_backend_name()}; {count} updates per "
                    f"command from {STUDENTS} students; round trip {LATENCY * 1000:.0f} ms ±50 %"
                )
                results: dict[str, list[dict[str, Figures]]] = {"full": [], "bare": []}
                for run_number in range(1, rounds + 1):
                    for kind, command in (("full", full), ("bare", bare)):
                        figures = await one_run(api, command, env, tmp, count)
                        results[kind].append(figures)
                        show(kind, run_number, figures)
                summarise(results)
        finally:
            if postgres:
                await postgres_database(postgres, drop_only=True)


def summarise(results: dict[str, list[dict[str, Figures]]]) -> None:
    out("medians over the runs:")
    for name in COMMANDS:
        full = [r[name] for r in results["full"]]
        bare = [r[name] for r in results["bare"]]
        full_rate = statistics.median(f.per_second for f in full)
        bare_rate = statistics.median(f.per_second for f in bare)
        out(
            f"  {name:<9} full {full_rate:6.1f} upd/s (p50 "
            f"{statistics.median(f.p50 for f in full):.2f} s, p95 "
            f"{statistics.median(f.p95 for f in full):.2f} s, cpu "
            f"{statistics.median(f.cpu_ms_per_update for f in full):.1f} ms/upd, fetched/upd "
            f"{statistics.median(f.fetched_per_update for f in full):.2f}); bare "
            f"{bare_rate:6.1f} upd/s (p95 {statistics.median(f.p95 for f in bare):.2f} s); "
            f"full/bare {full_rate / bare_rate:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=STUDENTS, help="per command and run")
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs")
    parser.add_argument("--postgres", metavar="DSN", help="postgresql+asyncpg://… to test on")
    args = parser.parse_args()
    asyncio.run(run(args.updates, args.rounds, args.postgres))


if __name__ == "__main__":
    main()
