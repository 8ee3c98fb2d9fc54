"""Benchmark: the outbox sender delivering a burst of join calls within Telegram's limits.

Two runs against the fake Bot API (`tests/e2e/fakeapi.py`, real HTTP on 127.0.0.1):

1. Burst. N linked students (default 10,000) in 300 groups, one exam each, and every
   student's join call due at once. The fake enforces Telegram's limits (30 messages/s
   overall, 1/s per chat, 429 beyond); one OutboxSender at SEND_RATE (default 25/s)
   drains the outbox. Prints the notices, the elapsed time, the achieved rate and its
   fraction of SEND_RATE (target >= 0.95), 429s received, lost and duplicated deliveries
   (target 0 and 0) and peak RSS (target < 200 MB; the fake server runs in this process
   and is included). Importing aiogram alone takes ~130 MB of RSS, so the process starts
   near 200 MB before anything is sent: the growth over that baseline is printed too.
2. Lateness. 1,000 more notices due over the next ~10 s, no limits enforced, the sender
   running with run() in the background on the system clock. Prints p50/p99/max of
   (time the fake received the message - due_at) (target p99 < 2 s). Settings caps
   SEND_RATE at 30/s, far below 1,000 in 10 s, so this run raises it with model_copy
   (--late-rate, default 200/s): it measures waking up on time, not pacing.

Runtime: the burst takes N / SEND_RATE seconds, so about 400 s (7 minutes) at the default
10,000 students and 25/s, plus ~10 s of set-up and ~12 s for the lateness run;
--students 2000 takes about 1.5 minutes.

    .venv/bin/python bench/outbox.py [--students N] [--rate R] [--postgres DSN]

SQLite (a temporary file) by default; with --postgres, a throwaway schema
`bench_outbox` of that database (created and dropped here), never `public`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402  (after the path tweak)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from bot.app import create_bot, create_i18n  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.engine import create_engine, create_sessionmaker  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import (  # noqa: E402
    Discipline,
    Exam,
    Faculty,
    Group,
    Notice,
    NoticeStatus,
    Student,
    User,
)
from bot.domain.reminders import NoticeKind, stamp  # noqa: E402
from bot.notify.sender import OutboxSender  # noqa: E402
from tests.e2e.fakeapi import FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCH-token"
PG_SCHEMA = "bench_outbox"
EXAMS = 300
CHUNK = 2_000
STUDENT_USERS = 1_000_000  # user id (= chat) of student i: STUDENT_USERS + i
LATE_USERS = 2_000_000
SURNAMES = ("Иванов", "Смирнова", "Кузнецов", "Попова", "Васильев", "Петрова", "Соколов")


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


async def insert_rows(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for part in chunks(rows):
        await session.execute(insert(model), list(part))


async def fresh_engine(directory: Path, dsn: str | None) -> AsyncEngine:
    if dsn is None:
        engine = create_engine(f"sqlite+aiosqlite:///{directory / 'bench.db'}")
    else:
        engine = create_engine(dsn, connect_args={"server_settings": {"search_path": PG_SCHEMA}})
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            await conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    await upgrade(engine)
    return engine


async def drop(engine: AsyncEngine) -> None:
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    await engine.dispose()


def join_call(
    exam_id: int, chat: int, user_id: int, *, student_id: int | None, start: datetime, due: datetime
) -> dict[str, Any]:
    who = student_id if student_id is not None else f"u{user_id}"
    return {
        "key": f"{NoticeKind.JOIN_CALL}:{exam_id}:{who}:{stamp(start)}",
        "kind": NoticeKind.JOIN_CALL.value,
        "chat_id": chat,
        "user_id": user_id,
        "exam_id": exam_id,
        "student_id": student_id,
        "payload": {"start": start.isoformat()},
        "due_at": due,
        "expires_at": start,
        "status": NoticeStatus.PENDING.value,
        "attempts": 0,
    }


async def seed_burst(
    sessionmaker: async_sessionmaker[AsyncSession], students: int, start: datetime
) -> list[int]:
    """300 groups with one exam each, `students` linked students, their join calls due now.
    Returns the exam ids."""
    now = datetime.now(UTC)

    def due_now(exam: int, user: int, student: int) -> list[dict[str, Any]]:
        return [join_call(exam, user, user, student_id=student, start=start, due=now)]

    return await seed_students(sessionmaker, students, start, due_now)


async def seed_students(
    sessionmaker: async_sessionmaker[AsyncSession],
    students: int,
    start: datetime,
    notices: Callable[[int, int, int], list[dict[str, Any]]],
) -> list[int]:
    """300 groups with one exam each at `start` (links posted), `students` linked students,
    and `notices(exam, user, student)` for each. Returns the exam ids."""
    now = datetime.now(UTC)
    async with sessionmaker.begin() as session:
        faculty = Faculty(name="Лечебный факультет")
        session.add(faculty)
        await session.flush()
        await insert_rows(
            session, Group, [{"faculty_id": faculty.id, "name": f"{i:04d}"} for i in range(EXAMS)]
        )
        await insert_rows(session, Discipline, [{"name": f"Дисциплина {i}"} for i in range(EXAMS)])
        groups = list(await session.scalars(select(Group.id).order_by(Group.id)))
        disciplines = list(await session.scalars(select(Discipline.id).order_by(Discipline.id)))
        await insert_rows(
            session,
            Exam,
            [
                {
                    "group_id": group,
                    "discipline_id": discipline,
                    "kind": "exam",
                    "form": "test",
                    "starts_at": start,
                    "duration_min": 90,
                    "link": f"https://my.mts-link.ru/j/71234/{group}",
                    "moodle_url": f"https://moodle.example-med.ru/course/view.php?id={group}",
                }
                for group, discipline in zip(groups, disciplines, strict=True)
            ],
        )
        rows = await session.execute(select(Exam.group_id, Exam.id).order_by(Exam.id))
        exams = {group: exam for group, exam in rows}
        await insert_rows(
            session,
            User,
            [
                {
                    "id": STUDENT_USERS + i,
                    "first_name": f"s{i}",
                    "locale": "ru" if i % 3 else "en",
                    "tz": "Asia/Yekaterinburg" if i % 5 == 0 else None,
                    "is_active": True,
                }
                for i in range(students)
            ],
        )
        await insert_rows(
            session,
            Student,
            [
                {
                    "group_id": groups[i % EXAMS],
                    "full_name": f"{SURNAMES[i % len(SURNAMES)]} Студент {i}",
                    "surname_key": SURNAMES[i % len(SURNAMES)].lower(),
                    "record_book": f"B{i:07d}",
                    "user_id": STUDENT_USERS + i,
                    "linked_at": now,
                }
                for i in range(students)
            ],
        )
        linked = await session.execute(select(Student.id, Student.group_id, Student.user_id))
        await insert_rows(
            session,
            Notice,
            [
                row
                for student_id, group, user_id in linked
                if user_id is not None
                for row in notices(exams[group], user_id, student_id)
            ],
        )
    return list(exams.values())


def new_sender(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> OutboxSender:
    bot = create_bot(settings, retry=False)
    return OutboxSender(
        bot, sessionmaker, clock=SystemClock(), settings=settings, i18n=create_i18n(settings)
    )


async def unfinished(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.CLAIMED]))
        )
    return count or 0


async def statuses(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Notice.status, func.count()).group_by(Notice.status))
        return {status: count for status, count in rows}


async def progress(api: FakeBotAPI, total: int, started: float) -> None:
    while True:
        await asyncio.sleep(30)
        sys.stderr.write(
            f"  ... {api.sent_count}/{total} sent after {time.monotonic() - started:.0f} s\n"
        )


async def burst(
    api: FakeBotAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    students: int,
) -> list[int]:
    start = datetime.now(UTC) + max(timedelta(minutes=30), timedelta(seconds=3 * students / 25))
    seeding = time.perf_counter()
    exams = await seed_burst(sessionmaker, students, start)
    out(f"burst seed_s            {time.perf_counter() - seeding:.1f}")
    out(f"burst rss_before_mb     {current_rss_mb():.1f}")

    api.enforce_limits(30, 1)
    sender = OutboxSender(
        create_bot(settings, retry=False),
        sessionmaker,
        clock=SystemClock(),
        settings=settings,
        i18n=create_i18n(settings),
    )
    started = time.monotonic()
    reporter = asyncio.create_task(progress(api, students, started))
    try:
        while True:
            await sender.drain()
            if not await unfinished(sessionmaker):
                break
            await asyncio.sleep(0.5)  # a notice backing off after an error: wait for it
        elapsed = time.monotonic() - started
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        await sender.close()

    chats = {STUDENT_USERS + i for i in range(students)}
    per_chat = Counter(int(call.chat_id) for call in api.delivered())
    lost = sum(1 for chat in chats if per_chat[chat] == 0)
    duplicates = sum(count - 1 for chat, count in per_chat.items() if chat in chats and count > 1)
    arrivals = [call.at for call in api.delivered()]
    rate = students / elapsed
    steady = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    out(f"burst notices           {students}")
    out(f"burst exams             {len(exams)}")
    out(f"burst send_rate         {settings.send_rate:g}")
    out(f"burst elapsed_s         {elapsed:.1f}")
    out(f"burst rate_msgs_per_s   {rate:.2f}")
    out(f"burst rate_fraction     {rate / settings.send_rate:.3f}")
    out(f"burst first_to_last_per_s {steady:.2f}")
    out(f"burst throttled_429     {api.throttled}")
    out(f"burst lost              {lost}")
    out(f"burst duplicates        {duplicates}")
    out(f"burst statuses          {await statuses(sessionmaker)}")
    out(f"burst sender_stats      {sender.stats}")
    out(f"burst peak_rss_mb       {peak_rss_mb():.1f}")
    return exams


async def lateness(
    api: FakeBotAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    exams: list[int],
    count: int,
    spread: float,
) -> None:
    api.stop_enforcing()
    sender = OutboxSender(
        create_bot(settings, retry=False),
        sessionmaker,
        clock=SystemClock(),
        settings=settings,
        i18n=create_i18n(settings),
    )
    running = asyncio.create_task(sender.run(), name="outbox-sender")
    try:
        await asyncio.sleep(0.5)  # the sender is idle now, asleep until woken
        start = datetime.now(UTC) + timedelta(hours=1)
        first_due = datetime.now(UTC) + timedelta(seconds=1)
        due = {
            LATE_USERS + i: first_due + timedelta(seconds=spread * i / count) for i in range(count)
        }
        async with sessionmaker.begin() as session:
            await insert_rows(
                session,
                User,
                [{"id": chat, "first_name": f"l{chat}", "locale": "ru"} for chat in due],
            )
            await insert_rows(
                session,
                Notice,
                [
                    join_call(
                        exams[i % len(exams)], chat, chat, student_id=None, start=start, due=at
                    )
                    for i, (chat, at) in enumerate(due.items())
                ],
            )
        mark = api.mark()
        sender.wake()  # as the unit of work does after a commit that planned notices
        deadline = time.monotonic() + spread + 60
        for chat in due:  # in due order: by the last one, nearly all are in
            await api.wait_for(
                "sendMessage",
                chat_id=chat,
                predicate=lambda call: call.ok,
                after=mark,
                timeout=max(deadline - time.monotonic(), 0.1),
            )
    finally:
        sender.stop()
        await running
        await sender.close()

    wall_offset = time.time() - time.monotonic()
    late = sorted(
        call.at + wall_offset - due[int(call.chat_id)].timestamp()
        for call in api.delivered()
        if int(call.chat_id) in due
    )
    out(f"late notices            {count} over {spread:g} s")
    out(f"late send_rate          {settings.send_rate:g} (model_copy; Settings allows <= 30)")
    out(f"late delivered          {len(late)}")
    if late:
        centiles = statistics.quantiles(late, n=100, method="inclusive")
        out(f"late p50_s              {statistics.median(late):.3f}")
        out(f"late p99_s              {centiles[98]:.3f}")
        out(f"late max_s              {late[-1]:.3f}")
        out(f"late min_s              {late[0]:.3f}")
    out(f"peak_rss_mb             {peak_rss_mb():.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--students", type=int, default=10_000, help="notices in the burst")
    parser.add_argument("--rate", type=float, default=25, help="SEND_RATE of the burst (<= 30)")
    parser.add_argument("--late", type=int, default=1_000, help="notices in the lateness run")
    parser.add_argument("--spread", type=float, default=10.0, help="their due times span (s)")
    parser.add_argument("--late-rate", type=float, default=200.0, help="SEND_RATE for them")
    parser.add_argument(
        "--postgres", metavar="DSN", help="postgresql+asyncpg://… instead of SQLite"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    baseline = current_rss_mb()
    out(f"rss_after_imports_mb    {baseline:.1f}")

    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        engine = await fresh_engine(Path(tmp), args.postgres)
        try:
            async with FakeBotAPI(token=TOKEN) as api:
                settings = Settings(
                    bot_token=TOKEN,
                    telegram_api_url=api.base_url,
                    database_url=engine.url.render_as_string(hide_password=False),
                    send_rate=args.rate,
                    _env_file=None,
                )
                sessionmaker = create_sessionmaker(engine)
                out(f"backend                 {engine.dialect.name}")
                exams = await burst(api, sessionmaker, settings, args.students)
                fast = settings.model_copy(update={"send_rate": args.late_rate})
                await lateness(
                    api, sessionmaker, fast, exams=exams, count=args.late, spread=args.spread
                )
                out(f"rss_growth_mb           {peak_rss_mb() - baseline:.1f}")
        finally:
            await drop(engine)


if __name__ == "__main__":
    asyncio.run(main())
