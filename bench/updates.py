"""Benchmark: the full bot against a bare aiogram echo bot, under Telegram's limits and
without them.

Both poll the same fake Bot API (`tests/e2e/fakeapi.py`, real HTTP on 127.0.0.1) with
Telegram's round trip (100 ms, jittered ±50 %) on every call, each as its own process:
the real bot, `python -m bot run`, on a database seeded with 500 linked students (SQLite
in a temporary file; `--postgres DSN` for a throwaway PostgreSQL database made next to
the DSN's), and a bare aiogram 3 echo bot (`bench/echo_bot.py`), which answers every
message with one sendMessage and does nothing else. In each run the students send N
`/help` at once, and once those are settled, N `/schedule` (the bare bot echoes both).

Two modes, each alternating full and bare (A B A B, `--rounds` pairs):

- `paced` — what an exam morning looks like: the fake enforces Telegram's flood limits
  (30 messages/s in all, per chat, 429 beyond) for both bots. Printed: replies delivered
  and their rate, replies lost (the bare bot drops a reply answered 429; the full bot
  waits for a slot and retries), reply latency p50/p95. 500 replies at 30/s take at least
  16.7 s, so the p95 of a burst of 500 cannot be below ~16 s for any bot that loses none.
- `cost` — the bot's own cost: the fake's limits off, and the full bot run through
  `bench/unpaced_bot.py` (its send limiter swapped for one that never waits; production
  code and defaults untouched), so neither bot is held by a send rate. Printed: updates/s,
  the full/bare ratio (targets, issue 11.4: >= 0.5 for /help, >= 0.3 for /schedule) and
  the CPU milliseconds per update of each process.

Latency is from the update offered to its reply answered by the fake (seen within
10 ms); "fetched/upd" counts updates getUpdates handed out per update handled. A command
is settled when every student has a reply, or when every one has had an answer to a
send and nothing was sent for QUIET seconds (those still without a reply are lost), or
after a deadline: the bench always ends and prints.

    .venv/bin/python bench/updates.py [--updates N] [--rounds R] [--mode paced|cost|both]
        [--postgres DSN] [--command /help|/schedule ...] [--spread SECONDS]

`--spread S` offers the N updates evenly over S seconds instead of at once (500 students
within a few seconds, not within the same millisecond); each latency is then from its
own update's offering, and replies/s is the rate they were answered at, not the bot's
capacity (the full/bare ratio means something only at once).

With BENCH_PROFILE=<file> in the environment, the full bot of the cost mode writes its
cProfile statistics there (bench/unpaced_bot.py).
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
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, Pace  # noqa: E402

STUDENTS = 500
COMMANDS = ("/help", "/schedule")
MODES = ("paced", "cost")
WARM_UP_USER = 9_000_000  # not a student: /help answers anyone
LATENCY = 0.1
PG_DATABASE = f"bench_updates_{os.getpid()}"  # two runs at once keep apart
HERE = Path(__file__).resolve().parent
ECHO_BOT = HERE / "echo_bot.py"
UNPACED_BOT = HERE / "unpaced_bot.py"
QUIET = 5.0  # seconds without a send after which a reply not there is counted lost
START_TIMEOUT = 180.0  # imports take long on a busy machine
STOP_TIMEOUT = 30.0


@dataclass
class Figures:
    offered: int
    delivered: int
    per_second: float  # replies delivered a second
    p50: float
    p95: float
    worst: float
    fetched_per_update: float
    cpu_ms_per_update: float
    throttled: int  # sends answered 429
    timed_out: bool

    @property
    def lost(self) -> int:
        return self.offered - self.delivered


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def centile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
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
    deadline = time.monotonic() + START_TIMEOUT
    while not any(c.method == "getUpdates" for c in api.calls[mark:]):
        if process.returncode is not None or time.monotonic() > deadline:
            raise SystemExit(f"the bot did not start:\n{tail(log)}")
        await asyncio.sleep(0.1)
    after = api.mark()
    warm.send("/help")
    await api.next_message(warm.id, after=after, timeout=60)


async def offer(users: list[FakeUser], command: str, spread: float, sent: dict[int, float]) -> None:
    """Each user sends `command`: all at once, or evenly over `spread` seconds."""
    started = time.monotonic()
    for i, user in enumerate(users):
        if spread > 0:
            await asyncio.sleep(max(0.0, started + i * spread / len(users) - time.monotonic()))
        sent[user.id] = time.monotonic()
        user.send(command)


async def feed(api: FakeBotAPI, pid: int, command: str, count: int, spread: float = 0.0) -> Figures:
    """`count` updates from as many students, at once or evenly over `spread` seconds;
    waits until they are settled. Latency: from each update's own offering."""
    users = [api.user(STUDENT_USERS + i, language_code="en") for i in range(count)]
    ids = {u.id for u in users}
    mark = api.mark()
    replied_before = {u.id: len(api.delivered(u.id)) for u in users}
    cpu0 = cpu_seconds(pid)
    offered = time.monotonic()
    sent: dict[int, float] = {}
    offering = asyncio.create_task(offer(users, command, spread, sent))
    if spread <= 0:
        await offering
    deadline = offered + spread + 60 + count / 5  # 500 at 30/s take 17 s; beyond: stuck
    # Seen by polling the fake's record every 10 ms: a reply counts once Telegram has
    # answered it (the fake records a call after its round trip).
    answered: dict[int, float] = {}
    attempted: set[int] = set()  # chats that had an answer to a send, 429 or not
    throttled = 0
    scanned = mark
    last_send = offered
    waiting = set(ids)
    timed_out = False
    while waiting:
        now = time.monotonic()
        calls = api.calls
        for call in calls[scanned:]:
            if call.method in ("sendMessage", "sendDocument", "sendPhoto"):
                last_send = now
                chat = int(call.chat_id) if call.chat_id is not None else 0
                if chat in ids:
                    attempted.add(chat)
                    if not call.ok and call.error and call.error.get("error_code") == 429:
                        throttled += 1
        scanned = len(calls)
        done = {u for u in waiting if len(api.delivered(u)) > replied_before[u]}
        answered.update(dict.fromkeys(done, now))
        waiting -= done
        if waiting and attempted >= ids and now - last_send > QUIET:
            break  # every one was answered or refused, and nothing more comes: lost
        if now > deadline:
            timed_out = True
            break
        await asyncio.sleep(0.01)
    await offering
    cpu = cpu_seconds(pid) - cpu0
    latencies = sorted(at - sent[user] for user, at in answered.items())
    span = max(answered.values()) - offered if answered else 0.0
    fetched = sum(
        len(c.result or []) for c in api.calls[mark:] if c.method == "getUpdates" and c.ok
    )
    last = latencies[-1] if latencies else float("nan")
    return Figures(
        offered=count,
        delivered=len(latencies),
        per_second=len(latencies) / span if span > 0 else 0.0,
        p50=statistics.median(latencies) if latencies else float("nan"),
        p95=centile(latencies, 95),
        worst=last,
        fetched_per_update=fetched / count,
        cpu_ms_per_update=cpu * 1000 / count,
        throttled=throttled,
        timed_out=timed_out,
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=STOP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()


async def one_run(
    api: FakeBotAPI,
    command: tuple[str, ...],
    env: dict[str, str],
    tmp: str,
    count: int,
    texts: tuple[str, ...] = COMMANDS,
    spread: float = 0.0,
) -> dict[str, Figures]:
    log = Path(tmp) / "bot.log"
    process = await start(command, env, tmp, log)
    try:
        await wait_for_polling(api, process, log)
        return {c: await feed(api, process.pid, c, count, spread) for c in texts}
    finally:
        await stop(process)


def show(mode: str, kind: str, run: int, figures: dict[str, Figures]) -> None:
    for name, f in figures.items():
        out(
            f"{mode:<5} {kind:<4} run {run} {name:<9} {f.per_second:6.1f} replies/s  "
            f"{f.delivered}/{f.offered} delivered, {f.lost} lost, {f.throttled}x429  "
            f"p50 {f.p50:5.2f} s  p95 {f.p95:5.2f} s  max {f.worst:5.2f} s  "
            f"cpu {f.cpu_ms_per_update:5.1f} ms/upd  fetched/upd {f.fetched_per_update:4.2f}"
            + ("  TIMED OUT" if f.timed_out else "")
        )


def commands(mode: str) -> dict[str, tuple[str, ...]]:
    """The full bot (unpaced when its cost is measured) and the bare one, in run order."""
    full = (
        (sys.executable, str(UNPACED_BOT))
        if mode == "cost"
        else (sys.executable, "-m", "bot", "run")
    )
    return {"full": full, "bare": (sys.executable, str(ECHO_BOT))}


async def run(
    count: int,
    rounds: int,
    modes: tuple[str, ...],
    postgres: str | None,
    texts: tuple[str, ...] = COMMANDS,
    spread: float = 0.0,
) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-updates-") as tmp:
        database_url = (
            await postgres_database(postgres) if postgres else f"sqlite+aiosqlite:///{tmp}/bot.db"
        )
        try:
            await seed(database_url)
            async with FakeBotAPI(token=TOKEN, latency=LATENCY, jitter=0.5) as api:
                env = bot_env(api, database_url, tmp)
                out(
                    f"backend {make_url(database_url).get_backend_name()}; {count} updates per "
                    f"command from {STUDENTS} students; round trip {LATENCY * 1000:.0f} ms ±50 %; "
                    f"load average {os.getloadavg()[0]:.2f}"
                    + (
                        f"; offered evenly over {spread:g} s ({count / spread:.0f}/s)"
                        if spread > 0
                        else "; offered at once"
                    )
                )
                for mode in modes:
                    api.pace = Pace() if mode == "paced" else None
                    results: dict[str, list[dict[str, Figures]]] = {"full": [], "bare": []}
                    for run_number in range(1, rounds + 1):
                        for kind, command in commands(mode).items():
                            figures = await one_run(api, command, env, tmp, count, texts, spread)
                            results[kind].append(figures)
                            show(mode, kind, run_number, figures)
                    summarise(mode, results, texts, at_once=spread <= 0)
        finally:
            if postgres:
                await postgres_database(postgres, drop_only=True)


def summarise(
    mode: str,
    results: dict[str, list[dict[str, Figures]]],
    texts: tuple[str, ...] = COMMANDS,
    *,
    at_once: bool = True,
) -> None:
    """Medians; the full/bare ratio of the cost mode only when offered at once (over a
    spread both answer as fast as they are asked)."""
    out(f"{mode}: medians over the runs (load average {os.getloadavg()[0]:.2f}):")
    for name in texts:
        full = [r[name] for r in results["full"]]
        bare = [r[name] for r in results["bare"]]

        def median(figures: list[Figures], attribute: str) -> float:
            return float(statistics.median(getattr(f, attribute) for f in figures))

        full_rate = median(full, "per_second")
        bare_rate = median(bare, "per_second")
        line = (
            f"  {name:<9} full {full_rate:6.1f}/s, lost {median(full, 'lost'):.0f}, p50 "
            f"{median(full, 'p50'):.2f} s, p95 {median(full, 'p95'):.2f} s, cpu "
            f"{median(full, 'cpu_ms_per_update'):.1f} ms/upd; bare {bare_rate:6.1f}/s, lost "
            f"{median(bare, 'lost'):.0f}, p95 {median(bare, 'p95'):.2f} s, cpu "
            f"{median(bare, 'cpu_ms_per_update'):.1f} ms/upd"
        )
        if mode == "cost" and at_once:
            target = 0.5 if name == "/help" else 0.3
            ratio = full_rate / bare_rate if bare_rate else float("nan")
            line += f"; full/bare {ratio:.2f} (target >= {target})"
        out(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--updates",
        type=int,
        default=STUDENTS,
        help=f"per command and run, one a student (at most {STUDENTS})",
    )
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs per mode")
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--postgres", metavar="DSN", help="postgresql+asyncpg://… to test on")
    parser.add_argument(
        "--spread",
        type=float,
        default=0.0,
        help="offer the updates evenly over this many seconds (0: all at once)",
    )
    parser.add_argument(
        "--command", choices=COMMANDS, action="append", help="only this one (may be repeated)"
    )
    args = parser.parse_args()
    if not 0 < args.updates <= STUDENTS:
        # Replies are told apart by chat: a second update from one student would be
        # counted as lost.
        parser.error(f"--updates must be 1 to {STUDENTS} (one update a student)")
    modes = MODES if args.mode == "both" else (args.mode,)
    texts = tuple(args.command) if args.command else COMMANDS
    asyncio.run(run(args.updates, args.rounds, modes, args.postgres, texts, args.spread))


if __name__ == "__main__":
    main()
