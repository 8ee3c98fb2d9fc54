"""Benchmark: the Bot API or PostgreSQL goes away mid-run; does everything resume?

The real bot runs as a subprocess (`python -m bot run`, long polling, JSON logs) against
the fake Bot API (`tests/e2e/fakeapi.py`, Telegram's limits enforced), as in
bench/faults.py: N join calls due at once (the exam is two hours away, so none expires
during the run; the planner adds each student's exam card at start-up) and M students
linking their account and filing an absence statement step by step (bench/common.py;
they wait the outage out before sending a step again, --step-wait to press sooner).
Once the burst is under way:

api (SQLite): for each mode the Bot API fails every method, getUpdates included, for
  --outage-seconds (default 60), then recovers:
  - 500: every request answers 500 at once;
  - timeout: every request hangs until the outage ends (or the bot's HTTP timeout, 60 s,
    gives up first), then answers 500;
  - 429: every request answers 429 "retry after --retry-after" (default 5).
  --expiring students (default 5) of an exam starting half-way through the outage have
  their card and join call fall due in it: dropped by design ("an outage must not
  deliver a join call late"), counted apart from the burst.
postgres: a private PostgreSQL cluster of this script's own (initdb in a temporary
  directory, a free port, trust auth; removed at the end, also on Ctrl-C), never the
  machine's shared one. Two runs: `pg_ctl restart -m fast` mid-burst, and PostgreSQL
  stopped for --pg-down-seconds (default 15), then started.

Meanwhile --probes strangers (default 5) send /help once each (api: while the outage
lasts; postgres: while the database is down).

Printed per run: notices due, delivered, lost, duplicated; seconds from the end of the
outage to the first and the last of them delivered; whether the bot process stayed up
(restarted by this script if it ever exits, and counted); probes answered after it,
answered "Sorry, something went wrong" (that update is gone: it was confirmed to
Telegram) or never; api: the expired ones, the bot's requests during the outage (total,
per second, the busiest second), the sending rate after it; both: error records in the
bot's log (and the busiest second: a crash loop shows there), updates that failed,
statements acknowledged, missing, duplicated. A figures table closes the run.

    .venv/bin/python bench/outages.py [--mode api|postgres|all] [--outage-seconds S]
        [--pg-down-seconds D] [--notices N] [--students M] [--seed S] [--keep-logs DIR]

About 2 minutes a Bot API mode and 1 to 4 minutes a PostgreSQL run at the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402  (after the path tweak, so `bot` imports)

from bench.common import (  # noqa: E402
    CARD_MARK,
    JOIN_MARK,
    Person,
    bot_env,
    deliveries,
    notice_statuses,
    out,
    read_json_log,
    seed,
    start_bot,
    statement_figures,
    unfinished,
    wait_drained,
)
from bench.outbox import TOKEN  # noqa: E402
from bot.db.engine import create_engine, create_sessionmaker, run_outside_transaction  # noqa: E402
from bot.db.models import (  # noqa: E402
    Discipline,
    Exam,
    Group,
    Notice,
    NoticeStatus,
    Student,
    User,
)
from bot.domain.reminders import student_notices  # noqa: E402
from tests.e2e.fakeapi import FakeBotAPI  # noqa: E402

API_MODES = ("500", "timeout", "429")
PROBES = 5_000_000  # user ids of the probes (strangers sending /help)
EXPIRING = 6_000_000  # user ids (= chats) of the join calls that expire in the outage
HELP_MARK = "/help"  # in the /help answer, in both languages
SORRY_MARK = "Sorry, something went wrong"  # the error handler's answer (the probes: en)
SEND_RATE = 30  # the bot's default SEND_RATE, for the expected drain time
LEAD_SENT = 60  # notices delivered before the outage begins


@dataclass
class Probe:
    user_id: int
    sent_at: float = 0.0  # time.monotonic()
    mark: int = 0  # api.mark() just before sending

    def answer(self, api: FakeBotAPI) -> tuple[str, float | None]:
        """("answered" | "sorry" | "unanswered", when the first answer arrived)."""
        for call in api.calls[self.mark :]:
            if call.ok and call.method == "sendMessage" and call.chat_id == self.user_id:
                text = str(call.params.get("text"))
                return ("sorry" if SORRY_MARK in text else "answered"), call.at
        return "unanswered", None


@dataclass
class Figures:
    name: str
    values: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, value: object) -> None:
        self.values[key] = str(value)
        out(f"  {key:<34} {value}")


class Watchdog:
    """Keeps the bot running: notes each exit (a crash) and starts it again."""

    def __init__(self, env: dict[str, str], directory: str, log: Path) -> None:
        self.env, self.directory, self.log = env, directory, log
        self.process: asyncio.subprocess.Process | None = None
        self.exits: list[tuple[float, int | None]] = []  # (time.monotonic(), code)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self.process = await start_bot(self.env, self.directory, self.log)
        _running.add(self.process.pid)
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while not self._stopping:
            assert self.process is not None
            code = await self.process.wait()
            _running.discard(self.process.pid)
            if self._stopping:
                return
            self.exits.append((time.monotonic(), code))
            out(f"  !! the bot exited with {code}; starting it again")
            await asyncio.sleep(1)
            self.process = await start_bot(self.env, self.directory, self.log)
            _running.add(self.process.pid)

    async def stop(self) -> int | None:
        """SIGTERM, then its exit code (None if it had to be killed)."""
        self._stopping = True
        process = self.process
        if process is None:
            return None
        code: int | None
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(process.wait(), timeout=40)
        except TimeoutError:
            process.kill()
            await process.wait()
            code = None
        _running.discard(process.pid)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return code


# Bot processes still running: killed on the way out whatever happens (Ctrl-C included).
_running: set[int] = set()


def _kill_leftovers() -> None:
    for pid in list(_running):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _running.clear()


# -- a private PostgreSQL cluster ------------------------------------------------------------


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise SystemExit("PostgreSQL binaries (initdb, pg_ctl) not found under /usr/lib/postgresql")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """A throwaway cluster in a temporary directory, on a free port of 127.0.0.1, trust
    authentication; as root its files belong to `postgres` (initdb refuses root)."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="examinator-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=50"
        )
        self.started = False

    def _command(self, tool: str, *args: str) -> list[str]:
        return [*self.prefix, str(self.bin / tool), *args]

    def pg_ctl(self, *args: str) -> list[str]:
        return self._command(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", *args
        )

    def start_command(self) -> list[str]:
        return self.pg_ctl("-o", self.options, "start")

    def init(self) -> None:
        subprocess.run(
            self._command(
                "initdb",
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(self.start_command(), check=True, stdout=subprocess.DEVNULL)
        self.started = True

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def cleanup(self) -> None:
        if self.started and (self.data / "postmaster.pid").exists():
            subprocess.run(
                self.pg_ctl("-m", "immediate", "stop"),
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        shutil.rmtree(self.dir, ignore_errors=True)


async def run_command(command: Sequence[str]) -> None:
    """A command, awaited without blocking the event loop (the fake API lives in it)."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {err.decode(errors='replace')}")


# -- measuring -----------------------------------------------------------------------------


def busiest_second(moments: Sequence[float]) -> int:
    """The most of `moments` (seconds) within any one second."""
    ordered = sorted(moments)
    best, low = 0, 0
    for high, moment in enumerate(ordered):
        while ordered[low] <= moment - 1.0:
            low += 1
        best = max(best, high - low + 1)
    return best


def error_records(records: Sequence[dict[str, Any]], start: float, end: float) -> list[float]:
    """When the bot logged an error (or a traceback) between `start` and `end` (epoch s)."""
    return [
        r["at"]
        for r in records
        if start <= r["at"] <= end and (r.get("level") in {"ERROR", "CRITICAL"} or "exception" in r)
    ]


def messages_like(records: Sequence[dict[str, Any]], text: str, start: float, end: float) -> int:
    return sum(1 for r in records if start <= r["at"] <= end and text in str(r.get("message")))


def step_wait(args: argparse.Namespace) -> float:
    """How long a person waits for an answer before sending the step again: patient
    people (by default) wait the outage out; with --step-wait 15 they press again every
    15 s, and their repeats are then handled in turn after it (a record-book number sent
    twice is taken the second time for the surname: a failed attempt)."""
    if args.step_wait:
        return float(args.step_wait)
    return float(max(args.outage_seconds, args.pg_down_seconds)) + 30.0


async def add_expiring(database_url: str, count: int, outage: float) -> None:
    """An exam of its own starting half-way through the outage, `count` linked students,
    and their exam card and join call as the planner makes them (same keys), due two
    seconds from now: they fall due in the outage and expire in it (both kinds expire at
    the start), so by design they are never sent."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            group = await session.scalar(select(Group).order_by(Group.id).limit(1))
            assert group is not None
            now = datetime.now(UTC)
            start = now + timedelta(seconds=outage / 2)
            late_group = Group(faculty_id=group.faculty_id, name="expiring")
            discipline = Discipline(name="Expiring")
            session.add_all([late_group, discipline])
            await session.flush()
            exam = Exam(
                group_id=late_group.id,
                discipline_id=discipline.id,
                kind="exam",
                form="test",
                starts_at=start,
                duration_min=90,
                link="https://my.mts-link.ru/j/expiring",
            )
            users = [
                User(id=EXPIRING + i, first_name="x", locale="en", is_active=True)
                for i in range(count)
            ]
            session.add_all([exam, *users])
            await session.flush()
            students = [
                Student(
                    group_id=late_group.id,
                    full_name=f"Опоздалов {i}",
                    surname_key="опоздалов",
                    record_book=f"E{i:05d}",
                    user_id=user.id,
                    linked_at=now,
                )
                for i, user in enumerate(users)
            ]
            session.add_all(students)
            await session.flush()
            lead = timedelta(hours=24)
            for student in students:
                for planned in student_notices(
                    exam.id,
                    student.id,
                    "exam",
                    start=start,
                    now=now,
                    day_lead=lead,
                    join_lead=timedelta(minutes=15),
                ):
                    session.add(
                        Notice(
                            key=planned.key,
                            kind=planned.kind.value,
                            chat_id=student.user_id,
                            user_id=student.user_id,
                            exam_id=exam.id,
                            student_id=student.id,
                            payload=planned.payload,
                            due_at=now + timedelta(seconds=2),
                            expires_at=planned.expires_at,
                            status=NoticeStatus.PENDING.value,
                            attempts=0,
                        )
                    )
    finally:
        await engine.dispose()


async def expiring_figures(database_url: str, api: FakeBotAPI, count: int) -> tuple[int, int]:
    """(dropped as expired, delivered) of the notices that expire in the outage."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            dropped = len(
                list(
                    await session.scalars(
                        select(Notice.id).where(
                            Notice.chat_id >= EXPIRING,
                            Notice.chat_id < EXPIRING + count,
                            Notice.status == NoticeStatus.DROPPED,
                            Notice.last_error == "expired",
                        )
                    )
                )
            )
    finally:
        await engine.dispose()
    delivered = sum(
        1
        for c in api.delivered()
        if isinstance(c.chat_id, int) and EXPIRING <= c.chat_id < EXPIRING + count
    )
    return dropped, delivered


async def wait_sent(api: FakeBotAPI, count: int, within: float = 120) -> None:
    """Until the bot has delivered `count` messages (the burst is under way)."""
    deadline = time.monotonic() + within
    while True:
        if api.sent_count >= count or time.monotonic() >= deadline:
            return
        await asyncio.sleep(0.2)


async def send_probes(
    api: FakeBotAPI, probes: list[Probe], moments: Sequence[float], t0: float
) -> None:
    """Each probe sends /help once, at t0 + its moment (monotonic seconds)."""
    for probe, moment in sorted(zip(probes, moments, strict=True), key=lambda pm: pm[1]):
        await asyncio.sleep(max(0.0, t0 + moment - time.monotonic()))
        user = api.user(probe.user_id, language_code="en")
        probe.mark = api.mark()
        probe.sent_at = time.monotonic()
        user.send("/help")


async def wait_probes(api: FakeBotAPI, probes: Sequence[Probe], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(p.answer(api)[0] != "unanswered" for p in probes):
            return
        await asyncio.sleep(0.5)


async def finish_people(tasks: Sequence[asyncio.Task[None]], within: float) -> int:
    """Waits for the people; returns how many had not finished (then cancelled)."""
    done, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return len(pending)


def report_common(
    figures: Figures,
    api: FakeBotAPI,
    notices: int,
    *,
    end: float,
    watchdog: Watchdog,
    probes: Sequence[Probe],
) -> None:
    """Notices, resume times, process, probes: alike in both kinds of run."""
    joins = deliveries(api, notices, JOIN_MARK)
    cards = deliveries(api, notices, CARD_MARK)
    figures.add("notices due (join calls + cards)", joins.due + cards.due)
    figures.add("delivered", joins.delivered + cards.delivered)
    figures.add("lost (never delivered)", joins.lost + cards.lost)
    figures.add("duplicated", joins.duplicated + cards.duplicated)
    after = [c.at for c in joins.calls + cards.calls if c.at >= end]
    figures.add("resume: first notice after (s)", f"{min(after) - end:.1f}" if after else "-")
    figures.add("resume: last notice after (s)", f"{max(after) - end:.1f}" if after else "-")
    figures.add("bot exits (crash/restart)", len(watchdog.exits))
    outcomes = Counter(p.answer(api)[0] for p in probes)
    late = [at - end for p in probes if (at := p.answer(api)[1]) is not None and at >= end - 0.001]
    figures.add(
        "probes answered / sorry / never",
        f"{outcomes['answered']} / {outcomes['sorry']} / {outcomes['unanswered']} of {len(probes)}",
    )
    figures.add(
        "probes answered after end (s)",
        f"{min(late):.1f}..{max(late):.1f}" if late else "-",
    )


# -- the Bot API outage --------------------------------------------------------------------


async def api_run(mode: str, args: argparse.Namespace, rng: random.Random) -> Figures:
    figures = Figures(f"api {mode}")
    out(f"\n== Bot API outage: {mode}, {args.outage_seconds:g} s (SQLite)")
    seconds = float(args.outage_seconds)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/bot.db"
        await seed(database_url, args.notices, args.students)
        log = Path(tmp) / "bot.log"
        async with FakeBotAPI(token=TOKEN, bot_username="examinator_bench_bot") as api:
            api.enforce_limits(30, 1)
            env = bot_env(api, database_url, tmp, LOG_FORMAT="json")
            watchdog = Watchdog(env, tmp, log)
            await watchdog.start()
            people = [Person(api, i, step_wait(args)) for i in range(args.students)]
            tasks = [asyncio.create_task(p.run()) for p in people]
            try:
                await wait_sent(api, LEAD_SENT)
                engine = create_engine(database_url)
                sessionmaker = create_sessionmaker(engine)
                # Inserted just before: a reply hanging in the outage ("timeout") may hold
                # SQLite's write lock for as long (see the figure "database locked").
                await add_expiring(database_url, args.expiring, seconds)
                t0, wall0 = time.monotonic(), time.time()
                api.outage(mode, seconds, updates=True, retry_after=args.retry_after)
                probes = [Probe(PROBES + i) for i in range(args.probes)]
                moments = [rng.uniform(0.1 * seconds, 0.9 * seconds) for _ in probes]
                probing = asyncio.create_task(send_probes(api, probes, moments, t0))
                await asyncio.sleep(max(0.0, t0 + seconds - 1 - time.monotonic()))
                backlog = await unfinished(sessionmaker)
                await asyncio.sleep(max(0.0, t0 + seconds - time.monotonic()))
                end, wall_end = t0 + seconds, wall0 + seconds
                after_end = api.mark()
                await probing
                stuck = await finish_people(tasks, within=300)
                left = await wait_drained(sessionmaker, within=300)
                await wait_probes(api, probes, within=max(0.0, end + 90 - time.monotonic()))
                alive = watchdog.process is not None and watchdog.process.returncode is None
                statements = await statement_figures(sessionmaker, people)
                statuses = await notice_statuses(sessionmaker)
                await engine.dispose()
            finally:
                for task in tasks:
                    task.cancel()
                code = await watchdog.stop()
            expired, expired_sent = await expiring_figures(database_url, api, args.expiring)

        records = read_json_log(log)
        during = [c for c in api.calls if t0 <= c.at < end]
        polls = sum(1 for c in during if c.method.lower() == "getupdates")
        report_common(figures, api, args.notices, end=end, watchdog=watchdog, probes=probes)
        figures.add("expired in the outage (by design)", f"{expired} of {2 * args.expiring}")
        figures.add("expired ones delivered anyway", expired_sent)
        figures.add(
            "backlog at the end / drain at 25/s",
            f"{backlog} / {backlog / SEND_RATE:.0f} s",
        )
        figures.add(
            "requests in outage (getUpdates)",
            f"{len(during)} ({polls}) = {len(during) / seconds:.2f}/s",
        )
        figures.add("busiest second of the outage", busiest_second([c.at for c in during]))
        drained = sorted(
            c.at
            for c in deliveries(api, args.notices, JOIN_MARK).calls
            + deliveries(api, args.notices, CARD_MARK).calls
            if c.at >= end
        )
        rate = (len(drained) - 1) / (drained[-1] - drained[0]) if len(drained) > 1 else 0.0
        figures.add("sending rate after it (notices/s)", f"{rate:.1f}")
        figures.add(
            "429s to the bot after it",
            sum(1 for c in api.calls[after_end:] if c.error and c.error.get("error_code") == 429),
        )
        figures.add(
            '"database is locked" records',
            sum(
                1
                for r in records
                if "database is locked" in str(r.get("message")) + str(r.get("exception", ""))
            ),
        )
        errors = error_records(records, wall0, wall_end)
        figures.add("error records in outage (peak/s)", f"{len(errors)} ({busiest_second(errors)})")
        figures.add(
            "sender pauses / getUpdates fails logged",
            f"{messages_like(records, 'Bot API unavailable', wall0, wall_end)} / "
            f"{messages_like(records, 'getUpdates failed', wall0, wall_end)}",
        )
        figures.add(
            "updates failed (handler error)",
            sum(1 for r in records if r.get("outcome") == "error"),
        )
        figures.add(
            "statements acked / missing / dup",
            f"{statements.acknowledged}/{statements.people} / {statements.missing} / "
            f"{statements.more_than_one}",
        )
        figures.add("steps sent again by people", statements.resends)
        figures.add("people not finished", stuck)
        figures.add("left pending at the end", left)
        figures.add("bot alive at the end; exit code", f"{alive}; {code}")
        figures.add("notice statuses", statuses)
        keep_log(args, log, f"api-{mode}")
    return figures


# -- the PostgreSQL restart ----------------------------------------------------------------


async def postgres_run(
    variant: str, cluster: PrivatePostgres, args: argparse.Namespace, rng: random.Random
) -> Figures:
    down = float(args.pg_down_seconds)
    title = "restart -m fast" if variant == "restart" else f"down {down:g} s"
    figures = Figures(f"pg {title}")
    out(f"\n== PostgreSQL {title}")
    database = f"bench_{variant}"
    admin = cluster.url("postgres")
    await run_outside_transaction(admin, f"DROP DATABASE IF EXISTS {database}")
    await run_outside_transaction(admin, f"CREATE DATABASE {database}")
    database_url = cluster.url(database)
    with tempfile.TemporaryDirectory() as tmp:
        await seed(database_url, args.notices, args.students)
        log = Path(tmp) / "bot.log"
        async with FakeBotAPI(token=TOKEN, bot_username="examinator_bench_bot") as api:
            api.enforce_limits(30, 1)
            env = bot_env(api, database_url, tmp, LOG_FORMAT="json")
            watchdog = Watchdog(env, tmp, log)
            await watchdog.start()
            people = [Person(api, i, step_wait(args)) for i in range(args.students)]
            tasks = [asyncio.create_task(p.run()) for p in people]
            probes = [Probe(PROBES + i) for i in range(args.probes)]
            try:
                await wait_sent(api, LEAD_SENT)
                t0, wall0 = time.monotonic(), time.time()
                if variant == "restart":
                    # The probes arrive while the restart is under way.
                    moments = [0.05 * i for i in range(len(probes))]
                    probing = asyncio.create_task(send_probes(api, probes, moments, t0))
                    await run_command(cluster.pg_ctl("-m", "fast", "restart"))
                else:
                    await run_command(cluster.pg_ctl("-m", "fast", "stop"))
                    stopped = time.monotonic()
                    moments = [
                        stopped - t0 + rng.uniform(1.0, max(1.0, down - 1.0)) for _ in probes
                    ]
                    probing = asyncio.create_task(send_probes(api, probes, moments, t0))
                    await asyncio.sleep(max(0.0, stopped + down - time.monotonic()))
                    await run_command(cluster.start_command())
                end = time.monotonic()
                wall_end = wall0 + (end - t0)
                await probing
                stuck = await finish_people(tasks, within=300)
                engine = create_engine(database_url)
                sessionmaker = create_sessionmaker(engine)
                left = await wait_drained(sessionmaker, within=300)
                await wait_probes(api, probes, within=max(0.0, end + 60 - time.monotonic()))
                alive = watchdog.process is not None and watchdog.process.returncode is None
                statements = await statement_figures(sessionmaker, people)
                statuses = await notice_statuses(sessionmaker)
                await engine.dispose()
            finally:
                for task in tasks:
                    task.cancel()
                code = await watchdog.stop()

        records = read_json_log(log)
        figures.add("database unavailable for (s)", f"{end - t0:.1f}")
        report_common(figures, api, args.notices, end=end, watchdog=watchdog, probes=probes)
        # The window: the outage and the half-minute after it (reconnecting).
        window_end = wall_end + 30
        errors = error_records(records, wall0, window_end)
        figures.add(
            "error records, outage+30 s (peak/s)", f"{len(errors)} ({busiest_second(errors)})"
        )
        figures.add(
            '"outbox sender failed" records',
            messages_like(records, "outbox sender failed", wall0, window_end),
        )
        figures.add(
            "updates failed (handler error)",
            sum(1 for r in records if r.get("outcome") == "error"),
        )
        figures.add(
            "statements acked / missing / dup",
            f"{statements.acknowledged}/{statements.people} / {statements.missing} / "
            f"{statements.more_than_one}",
        )
        figures.add("steps sent again by people", statements.resends)
        figures.add("people not finished", stuck)
        figures.add("left pending at the end", left)
        figures.add("bot alive at the end; exit code", f"{alive}; {code}")
        figures.add("notice statuses", statuses)
        keep_log(args, log, f"pg-{variant}")
    return figures


def keep_log(args: argparse.Namespace, log: Path, name: str) -> None:
    if args.keep_logs and log.exists():
        kept = Path(args.keep_logs) / f"bot-{name}.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, kept)


# -- the whole run -------------------------------------------------------------------------


def table(results: Sequence[Figures]) -> None:
    if not results:
        return
    keys: list[str] = []
    for figures in results:
        keys += [k for k in figures.values if k not in keys and k != "notice statuses"]
    width = max(len(k) for k in keys)
    columns = [max(len(f.name), *(len(v) for v in f.values.values())) for f in results]
    columns = [min(c, 24) for c in columns]
    out("\nFigures")
    out(
        " " * width
        + "  "
        + "  ".join(f.name.ljust(c) for f, c in zip(results, columns, strict=True))
    )
    for key in keys:
        cells = "  ".join(
            f.values.get(key, "").ljust(c) for f, c in zip(results, columns, strict=True)
        )
        out(f"{key.ljust(width)}  {cells}")


@contextlib.contextmanager
def private_postgres(wanted: bool) -> Iterator[PrivatePostgres | None]:
    if not wanted:
        yield None
        return
    cluster = PrivatePostgres()
    try:
        cluster.init()
        out(f"private PostgreSQL on 127.0.0.1:{cluster.port}, data in {cluster.data}")
        yield cluster
    finally:
        cluster.cleanup()


async def run(args: argparse.Namespace, cluster: PrivatePostgres | None) -> None:
    rng = random.Random(args.seed)
    started = time.monotonic()
    results: list[Figures] = []
    try:
        if args.mode in ("api", "all"):
            for mode in args.api_modes.split(","):
                results.append(await api_run(mode.strip(), args, rng))
        if cluster is not None:
            for variant in ("restart", "down"):
                results.append(await postgres_run(variant, cluster, args, rng))
    finally:
        table(results)
        out(
            f"\nnotices {args.notices}, students {args.students}, probes {args.probes}, "
            f"seed {args.seed}; seconds: {time.monotonic() - started:.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mode", choices=("api", "postgres", "all"), default="all")
    parser.add_argument(
        "--api-modes", default=",".join(API_MODES), help="comma-separated: 500,timeout,429"
    )
    parser.add_argument("--outage-seconds", type=float, default=60.0)
    parser.add_argument("--pg-down-seconds", type=float, default=15.0)
    parser.add_argument("--retry-after", type=int, default=5, help="the 429 mode's retry_after")
    parser.add_argument("--notices", type=int, default=300)
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--expiring", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--step-wait",
        type=float,
        default=0.0,
        help="seconds a person waits for an answer before sending again (default: the "
        "outage + 30 s)",
    )
    parser.add_argument("--keep-logs", default="", help="a directory to copy the bot's logs to")
    args = parser.parse_args()
    for mode in args.api_modes.split(","):
        if mode.strip() not in API_MODES:
            parser.error(f"--api-modes: {mode!r} is not one of {', '.join(API_MODES)}")
    # SIGTERM like Ctrl-C, so that the cluster and the bot are cleaned up either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with private_postgres(args.mode in ("postgres", "all")) as cluster:
            asyncio.run(run(args, cluster))
    except KeyboardInterrupt:
        out("interrupted")
        sys.exit(130)
    finally:
        _kill_leftovers()


if __name__ == "__main__":
    main()
