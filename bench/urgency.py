"""Benchmark: urgent notices on time, and Telegram's whole allowance, under a backlog.

One OutboxSender (run() on the system clock, as in the bot) against the fake Bot API
(`tests/e2e/fakeapi.py`, real HTTP on 127.0.0.1) with Telegram's round trip (100 ms,
jittered by half either way) and its limits enforced (30 messages/s, 1/s per chat, 429
beyond). Students in 300 groups, one exam each (conference links posted). One command per
scenario:

- `mixed`: every student's day-before card due now (the exam is less than a day away) and
  their join call due `--join-after` seconds later (default 60). The issue's figure (join
  calls p99 790 s late) came from this. Ends when every join call is settled.
- `ahead`: every student's join call due within one minute, `--lead` seconds (default
  420) after the sender starts: only a sender that starts early can have them on time.
- `rate`: every student's card due now, and meanwhile "replies" (sendMessage to other
  chats through a Bot of their own, as the dispatcher's) at `--reply-rate`/s: how much
  of 30/s is used, and how many requests Telegram refuses (429), replies included.

Prints, for the join calls (or, in `rate`, the cards): lateness (arrival at the fake -
due time; negative = early) p50/p99/max, expired (dropped unsent), lost, duplicated; the
sustained rate of messages (all kinds) from the first to the last arrival and its fraction
of 30/s; requests answered 429 and their share of message requests. In `mixed` also the
lower bound of join-call lateness: an ideal sender that sends every join call first, from
the moment they exist, at exactly 30/s.

    .venv/bin/python bench/urgency.py mixed|ahead|rate [--students N] [--postgres DSN]
        [--fake-model window|bucket]

Runtime: about N / 28 s of sending per 10,000 notices' worth (10,000 students: `mixed`
~6 min when the join calls go first, ~15 min when they wait behind the cards; `ahead`
~7 min; `rate` with the default 5,000 ~3 min).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram import Bot  # noqa: E402  (after the path tweak)
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from bench.outbox import (  # noqa: E402
    EXAMS,
    STUDENT_USERS,
    TOKEN,
    drop,
    fresh_engine,
    join_call,
    out,
    seed_students,
)
from bot.app import create_bot, create_i18n  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.engine import create_sessionmaker  # noqa: E402
from bot.db.models import (  # noqa: E402
    Notice,
    NoticeStatus,
)
from bot.domain.reminders import NoticeKind, stamp  # noqa: E402
from bot.notify.sender import OutboxSender  # noqa: E402
from tests.e2e.fakeapi import Call, FakeBotAPI  # noqa: E402

TELEGRAM_RATE = 30
JOIN_MARK = "⏰"  # the join call's first character, in both languages
CARD_MARK = "📅"  # the day-before card's
REPLY_USERS = 5_000_000
MAX_RUN = 1_800.0  # seconds: a run that takes longer is cut off (and says so)


def card(
    exam_id: int, chat: int, student_id: int, start: datetime, due: datetime
) -> dict[str, Any]:
    row = join_call(exam_id, chat, chat, student_id=student_id, start=start, due=due)
    occurrence = f"{exam_id}:{student_id}:{stamp(start)}"
    return row | {"key": f"{NoticeKind.DAY_BEFORE}:{occurrence}", "kind": NoticeKind.DAY_BEFORE}


def make_sender(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], limiter: Any
) -> OutboxSender:
    if limiter is None:  # the code before the shared limiter: the sender paces itself
        return OutboxSender(
            create_bot(settings, retry=False),
            sessionmaker,
            clock=SystemClock(),
            settings=settings,
            i18n=create_i18n(settings),
        )
    return OutboxSender(
        create_bot(settings, retry=False, limiter=limiter),
        sessionmaker,
        clock=SystemClock(),
        settings=settings,
        i18n=create_i18n(settings),
        limiter=limiter,
    )


def shared_limiter(settings: Settings) -> Any:
    """The limiter replies and the outbox share, where the code has one (None before)."""
    if "limiter" not in inspect.signature(create_bot).parameters:
        return None
    from bot.notify.pacing import RateLimiter

    return RateLimiter(settings.send_rate)


async def settled(sessionmaker: async_sessionmaker[AsyncSession], kind: NoticeKind) -> bool:
    async with sessionmaker() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(
                Notice.kind == kind.value,
                Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.CLAIMED]),
            )
        )
    return not left


async def statuses(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, dict[str, int]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Notice.kind, Notice.status, func.count()).group_by(Notice.kind, Notice.status)
        )
        found: dict[str, dict[str, int]] = {}
        for kind, status, count in rows:
            found.setdefault(kind, {})[status] = count
        return found


async def run_sender(
    sender: OutboxSender,
    api: FakeBotAPI,
    done: Callable[[], Awaitable[bool]],
) -> float:
    """Runs the sender until `done()`; returns the seconds it took."""
    started = time.monotonic()
    running = asyncio.create_task(sender.run(), name="outbox-sender")
    try:
        last_report = started
        while not await done():
            if running.done():
                running.result()  # raises what stopped it
            if time.monotonic() - started > MAX_RUN:
                out(f"CUT OFF after {MAX_RUN:.0f} s")
                break
            if time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                sys.stderr.write(
                    f"  ... {api.sent_count} sent, {api.throttled} x 429 "
                    f"after {last_report - started:.0f} s\n"
                )
            await asyncio.sleep(1.0)
        return time.monotonic() - started
    finally:
        sender.stop()
        await running
        await sender.close()


def centiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0], ordered[0], ordered[0]
    p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98]
    return statistics.median(ordered), p99, ordered[-1]


def print_centiles(name: str, values: list[float], digits: int) -> None:
    for label, value in zip(("p50", "p99", "max"), centiles(values), strict=True):
        out(f"{f'{name}_{label}_s':<27}{value:.{digits}f}")


def report_kind(
    name: str,
    calls: list[Call],
    due: dict[int, datetime],
    expired: int,
) -> None:
    """Lateness, lost and duplicated for one kind of notice, by chat (one each)."""
    wall = time.time() - time.monotonic()
    per_chat = Counter(int(call.chat_id) for call in calls)
    first: dict[int, float] = {}
    for call in calls:
        first.setdefault(int(call.chat_id), call.at + wall)
    late = [at - due[chat].timestamp() for chat, at in first.items() if chat in due]
    out(f"{name} notices              {len(due)}")
    out(f"{name} delivered            {len(first)}")
    if late:
        print_centiles(f"{name} late", late, 1)
        out(f"{name} early_max_s          {max(0.0, -min(late)):.1f}")
    out(f"{name} expired              {expired}")
    out(f"{name} lost                 {len(due) - len(first) - expired}")
    out(f"{name} duplicated           {sum(n - 1 for n in per_chat.values() if n > 1)}")


class Statements:
    """SQL statements and commits the process sends to the database (bench's own
    `settled` look-ups included: one a second)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.statements = self.commits = 0
        engine = sessionmaker.kw["bind"].sync_engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1


def report_rate(
    api: FakeBotAPI,
    elapsed: float,
    cpu_before: float = 0.0,
    counted: Statements | None = None,
    limiter: Any = None,
    *,
    backlog: list[Call] | None = None,
) -> None:
    """`backlog`: the notices the sender had waiting from the start; the rate is also
    given from the first of them to the last at the fake (all messages counted), which
    leaves out the replies alone before the sender's first and after its last."""
    delivered = api.delivered()
    arrivals = [call.at for call in delivered]
    requests = sum(
        1
        for call in api.calls
        if call.method.lower() in {"sendmessage", "senddocument", "sendphoto", "sendmediagroup"}
    )
    steady = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    out(f"elapsed_s                  {elapsed:.1f}")
    # On a shared machine the process may get less CPU than it needs: say how much it had
    # (while sending: the bot's sender and replies, and the fake Bot API in this process).
    cpu = time.process_time() - cpu_before
    per_message = 1000 * cpu / max(len(delivered), 1)
    out(f"process_cpu_s              {cpu:.1f} ({per_message:.1f} ms a message, fake included)")
    out(f"messages_delivered         {len(delivered)}")
    if counted is not None:
        each = max(len(delivered), 1)
        out(
            f"sql_per_message            {counted.statements / each:.2f} statements, "
            f"{counted.commits / each:.2f} commits"
        )
    if limiter is not None:
        out(f"limiter_allowance_end      {limiter.allowance:.2f} (starts at the rate)")
        if hasattr(limiter, "fastest_trip"):
            out(
                f"limiter_round_trip_s       {limiter.round_trip:.3f} on average, "
                f"{limiter.fastest_trip:.3f} the fastest"
            )
    out(f"sustained_rate_per_s       {steady:.2f}")
    out(f"sustained_fraction_of_30   {steady / TELEGRAM_RATE:.3f}")
    if backlog and len(backlog) > 1:
        start, end = min(c.at for c in backlog), max(c.at for c in backlog)
        within = sum(1 for at in arrivals if start <= at <= end)
        during = (within - 1) / (end - start)
        out(
            f"backlog_rate_per_s         {during:.2f} ({during / TELEGRAM_RATE:.3f} of 30; "
            f"first to last card)"
        )
    out(f"requests                   {requests}")
    out(f"throttled_429              {api.throttled}")
    out(f"throttled_share            {api.throttled / max(requests, 1):.4f}")


async def report_end(
    api: FakeBotAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: OutboxSender,
    elapsed: float,
) -> None:
    report_rate(api, elapsed)
    out(f"statuses                   {await statuses(sessionmaker)}")
    out(f"sender_stats               {sender.stats}")


def by_mark(api: FakeBotAPI, mark: str) -> list[Call]:
    return [c for c in api.delivered() if str(c.params.get("text", "")).startswith(mark)]


async def expired(sessionmaker: async_sessionmaker[AsyncSession], kind: NoticeKind) -> int:
    found = await statuses(sessionmaker)
    return found.get(kind.value, {}).get(NoticeStatus.DROPPED.value, 0)


async def mixed(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, args: Any
) -> None:
    now = datetime.now(UTC)
    join_due = now + timedelta(seconds=args.join_after)
    start = join_due + settings.join_early_lead

    def notices(exam: int, chat: int, student: int) -> list[dict[str, Any]]:
        return [
            card(exam, chat, student, start, now),
            join_call(exam, chat, chat, student_id=student, start=start, due=join_due),
        ]

    await seed_students(sessionmaker, args.students, start, notices)
    out(
        f"scenario                   mixed: {args.students} cards due now + join calls due "
        f"{args.join_after:g} s later"
    )
    limiter = shared_limiter(settings)
    sender = make_sender(settings, sessionmaker, limiter)
    created = time.time()
    limit(api, args)
    elapsed = await run_sender(sender, api, lambda: settled(sessionmaker, NoticeKind.JOIN_CALL))
    due = {STUDENT_USERS + i: join_due for i in range(args.students)}
    report_kind(
        "join", by_mark(api, JOIN_MARK), due, await expired(sessionmaker, NoticeKind.JOIN_CALL)
    )
    ideal = [
        max(0.0, created + (k + 1) / TELEGRAM_RATE - join_due.timestamp())
        for k in range(args.students)
    ]
    _, ideal_p99, ideal_max = centiles(ideal)
    out(f"join bound_p99_s           {ideal_p99:.1f}  (all join calls first, at 30/s)")
    out(f"join bound_max_s           {ideal_max:.1f}")
    out(f"cards delivered            {len(by_mark(api, CARD_MARK))} (so far)")
    await report_end(api, sessionmaker, sender, elapsed)


async def ahead(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, args: Any
) -> None:
    now = datetime.now(UTC)
    first = now + timedelta(seconds=args.lead)
    due: dict[int, datetime] = {}

    def notices(exam: int, chat: int, student: int) -> list[dict[str, Any]]:
        # Due within one minute: the 300 exams start over a minute's span.
        at = first + timedelta(seconds=60 * (exam % EXAMS) / EXAMS)
        due[chat] = at
        return [
            join_call(
                exam, chat, chat, student_id=student, start=at + settings.join_early_lead, due=at
            )
        ]

    await seed_students(sessionmaker, args.students, first + settings.join_early_lead, notices)
    out(
        f"scenario                   ahead: {args.students} join calls due within one minute, "
        f"from {args.lead:g} s on"
    )
    limiter = shared_limiter(settings)
    sender = make_sender(settings, sessionmaker, limiter)
    limit(api, args)
    elapsed = await run_sender(sender, api, lambda: settled(sessionmaker, NoticeKind.JOIN_CALL))
    report_kind(
        "join", by_mark(api, JOIN_MARK), due, await expired(sessionmaker, NoticeKind.JOIN_CALL)
    )
    await report_end(api, sessionmaker, sender, elapsed)


async def replies(bot: Bot, rate: float, stop: asyncio.Event, waits: list[float]) -> int:
    """Replies to ever new chats at `rate`/s, each in a task of its own, until `stop`."""
    tasks: set[asyncio.Task[None]] = set()
    sent = 0

    async def reply(chat: int) -> None:
        asked = time.monotonic()
        await bot.send_message(chat, "Ваше заявление сохранено &amp; принято")
        waits.append(time.monotonic() - asked)

    while not stop.is_set():
        task = asyncio.create_task(reply(REPLY_USERS + sent))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks, return_exceptions=True)
    return sent


async def rate(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, args: Any
) -> None:
    now = datetime.now(UTC)
    start = now + timedelta(hours=3)

    def notices(exam: int, chat: int, student: int) -> list[dict[str, Any]]:
        return [card(exam, chat, student, start, now)]

    await seed_students(sessionmaker, args.students, start, notices)
    out(
        f"scenario                   rate: {args.students} cards due now + replies at "
        f"{args.reply_rate:g}/s"
    )
    limiter = shared_limiter(settings)
    sender = make_sender(settings, sessionmaker, limiter)
    reply_bot = create_bot(settings) if limiter is None else create_bot(settings, limiter=limiter)
    limit(api, args)
    stop = asyncio.Event()
    waits: list[float] = []
    counted = Statements(sessionmaker)
    cpu_before = time.process_time()
    replying = asyncio.create_task(replies(reply_bot, args.reply_rate, stop, waits))
    try:
        elapsed = await run_sender(
            sender, api, lambda: settled(sessionmaker, NoticeKind.DAY_BEFORE)
        )
    finally:
        stop.set()
        asked = await replying
        await reply_bot.session.close()
    due = {STUDENT_USERS + i: now for i in range(args.students)}
    report_kind(
        "card", by_mark(api, CARD_MARK), due, await expired(sessionmaker, NoticeKind.DAY_BEFORE)
    )
    out(f"replies asked              {asked}")
    out(f"replies delivered          {len(waits)}")
    if waits:
        print_centiles("replies wait", waits, 2)
    report_rate(api, elapsed, cpu_before, counted, limiter, backlog=by_mark(api, CARD_MARK))
    out(f"sender_stats               {sender.stats}")


def limit(api: FakeBotAPI, args: Any) -> None:
    """Telegram's limits as the fake's model has them: `window` (the default), at most 30
    arrivals in any one second, and one a second per chat, strictly (enforce_limits),
    over the buckets; `bucket`, the buckets alone (FakeBotAPI's Pace, as most end-to-end
    tests: 30 at once, refilled 30 a second; 10 at once per chat, 1 a second)."""
    if args.fake_model == "window":
        api.enforce_limits(TELEGRAM_RATE, 1)


SCENARIOS = {"mixed": mixed, "ahead": ahead, "rate": rate}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--students", type=int, help="students (10,000; 5,000 in `rate`)")
    parser.add_argument("--join-after", type=float, default=60.0, help="mixed: seconds")
    parser.add_argument("--lead", type=float, default=420.0, help="ahead: seconds")
    parser.add_argument("--reply-rate", type=float, default=3.0, help="rate: replies per s")
    parser.add_argument("--send-rate", type=float, help="SEND_RATE (default: the setting's)")
    parser.add_argument(
        "--fake-model",
        choices=("window", "bucket"),
        default="window",
        help="Telegram's limits in the fake: a sliding second (default) or token buckets",
    )
    parser.add_argument(
        "--postgres", metavar="DSN", help="postgresql+asyncpg://… instead of SQLite"
    )
    args = parser.parse_args()
    if args.students is None:
        args.students = 5_000 if args.scenario == "rate" else 10_000
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-urgency-") as tmp:
        engine = await fresh_engine(Path(tmp), args.postgres)
        try:
            async with FakeBotAPI(token=TOKEN, latency=0.1, jitter=0.5) as api:
                extra = {} if args.send_rate is None else {"send_rate": args.send_rate}
                settings = Settings(
                    bot_token=TOKEN,
                    telegram_api_url=api.base_url,
                    database_url=engine.url.render_as_string(hide_password=False),
                    journal_dir=Path(tmp) / "journal",
                    _env_file=None,
                    **extra,
                )
                out(f"backend                    {engine.dialect.name}")
                out(f"send_rate                  {settings.send_rate:g}")
                limits = (
                    "limits 30/s, 1/s/chat (sliding second)"
                    if args.fake_model == "window"
                    else "token buckets 30 + 30/s, 10 + 1/s/chat"
                )
                out(f"fake                       latency 0.1 s, jitter 0.5, {limits}")
                await SCENARIOS[args.scenario](api, create_sessionmaker(engine), settings, args)
        finally:
            with contextlib.suppress(Exception):
                await drop(engine)


if __name__ == "__main__":
    asyncio.run(main())
