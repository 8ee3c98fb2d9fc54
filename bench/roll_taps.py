"""Benchmark: a teacher taps 40 names on the roll at 2 taps/s, against a Telegram that
answers in 100 ms (jittered), paces edits at ~1/s per chat (429 beyond) and refuses a
callback answer given later than 15 s after the press ("query is too old").

The real bot (the same Application as `python -m bot`, long polling, SQLite) against the
fake Bot API. Prints: marks saved in the database (must be all of them), the tap spinner
(press -> the callback answer reaching Telegram) p50/p95/max and the presses never
answered, the time from the last tap to the roll message showing every mark, and the
429s (edits and the rest).

    .venv/bin/python bench/roll_taps.py [--students 40] [--rate 2] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, update  # noqa: E402  (after the path tweak)

from bench.roll import START, seed  # noqa: E402
from bot.app import build_application  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.engine import create_engine, create_sessionmaker  # noqa: E402
from bot.db.models import Exam, RollEntry, Student, Teacher, User  # noqa: E402
from bot.domain.roll import MarkAction  # noqa: E402
from bot.keyboards.callbacks import RollMarkCB  # noqa: E402
from tests.e2e.fakeapi import Call, FakeBotAPI  # noqa: E402
from tests.e2e.test_roll import open_roll  # noqa: E402

TOKEN = "123456:TEST-token"
TEACHER_USER = 700_001
CALLBACK_LIFETIME = 15.0
MARKED = re.compile(r"^\d+\. ✅ ", re.MULTILINE)


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class TimedFakeBotAPI(FakeBotAPI):
    """Notes when each call was answered (the spinner stops then; an update is fetched)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answered_at: dict[int, float] = {}

    def _record(self, call: Call, polling: bool = False) -> None:
        self.answered_at[id(call)] = time.monotonic()
        super()._record(call, polling)


class FixedClock:
    """The exam began five minutes ago, for the whole run."""

    def now(self) -> Any:
        return START + timedelta(minutes=5)


async def link_teacher(url: str, teacher_id: int) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            session.add(User(id=TEACHER_USER, first_name="Ольга", locale="en"))
            await session.flush()
            await session.execute(
                update(Teacher).where(Teacher.id == teacher_id).values(user_id=TEACHER_USER)
            )
    finally:
        await engine.dispose()


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def answered(
    api: TimedFakeBotAPI, update: dict[str, Any], pressed: float
) -> tuple[float | None, float | None]:
    """Seconds from the press to the bot fetching the update, and to the first callback
    answer Telegram accepted; None if it never came (refused as too old, or not sent)."""
    query_id = update["callback_query"]["id"]
    try:
        answer = await api.wait_for(
            "answerCallbackQuery",
            predicate=lambda c: c.ok and c.params.get("callback_query_id") == query_id,
            timeout=CALLBACK_LIFETIME + 5,
        )
    except AssertionError:
        return None, None
    fetch = next(
        (
            c
            for c in api.calls
            if c.method == "getUpdates"
            and c.ok
            and any(u["update_id"] == update["update_id"] for u in c.result or [])
        ),
        None,
    )
    fetched = None if fetch is None else api.answered_at[id(fetch)] - pressed
    return fetched, api.answered_at[id(answer)] - pressed


async def final_state(api: FakeBotAPI, message_id: int, students: int, limit: float) -> float:
    """Seconds until the roll message (as Telegram holds it) shows every mark."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        shown = next((m for m in api.messages(TEACHER_USER) if m["message_id"] == message_id), None)
        if shown is not None and len(MARKED.findall(shown.get("text", ""))) == students:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    return float("inf")


async def run(students: int, rate: float, latency: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        exam_id, teacher_id = await seed(url, students)
        await link_teacher(url, teacher_id)
        async with TimedFakeBotAPI(token=TOKEN, latency=latency, jitter=0.5, seed=7) as api:
            settings = Settings(
                bot_token=TOKEN,
                telegram_api_url=api.base_url,
                database_url=url,
                polling_timeout=1,
                files_dir=Path(tmp) / "files",
                journal_dir=Path(tmp) / "journal",
                _env_file=None,
            )
            app = build_application(settings, clock=FixedClock())
            await app.prepare()
            polling = asyncio.create_task(app.run_polling(handle_signals=False))
            try:
                await measure(api, app.sessionmaker, exam_id, students, rate)
            finally:
                await app.dispatcher.stop_polling()
                await polling


async def measure(
    api: TimedFakeBotAPI, sessionmaker: Any, exam_id: int, students: int, rate: float
) -> None:
    teacher = api.user(TEACHER_USER, language_code="en")
    roll = await open_roll(api, teacher, "Латинский язык")
    ids = await student_ids(sessionmaker, exam_id)
    api.enforce_limits(edits=True)
    api.callback_timeout = CALLBACK_LIFETIME
    before = len(api.calls)
    waiters: list[asyncio.Task[tuple[float | None, float | None]]] = []
    for n, student in enumerate(ids[:students]):
        data = RollMarkCB(
            exam_id=exam_id, student_id=student, page=0, mark=MarkAction.PRESENT
        ).pack()
        pressed = time.monotonic()
        update = teacher.click(roll, data)
        waiters.append(asyncio.create_task(answered(api, update, pressed)))
        if n + 1 < students:
            await asyncio.sleep(1 / rate)
    shown_after = await final_state(api, roll["message_id"], students, limit=60)
    timings = await asyncio.gather(*waiters)
    spinners = [spinner for _fetched, spinner in timings]
    fetches = [fetched for fetched, _spinner in timings if fetched is not None]
    await api.idle(quiet=1.0, timeout=60)
    async with sessionmaker() as session:
        saved = await session.scalar(
            select(func.count())
            .select_from(RollEntry)
            .where(RollEntry.exam_id == exam_id, RollEntry.mark == "present")
        )
    calls = api.calls[before:]
    edits_429 = sum(1 for c in calls if c.method.startswith("edit") and _throttled(c))
    other_429 = sum(1 for c in calls if not c.method.startswith("edit") and _throttled(c))
    done = [s for s in spinners if s is not None]
    out(f"taps: {students} at {rate:g}/s; Telegram latency {api.latency * 1000:.0f} ms ±50 %")
    out(f"marks saved: {saved}/{students}")
    if done:
        out(
            f"spinner (press -> answer): p50 {statistics.median(done):.2f} s, "
            f"p95 {pct(done, 0.95):.2f} s, max {max(done):.2f} s; "
            f"never answered: {len(spinners) - len(done)}"
        )
    else:
        out(f"spinner: no press answered ({len(spinners)} presses)")
    if fetches:
        out(
            f"  of which press -> update fetched by polling: p50 {statistics.median(fetches):.2f}"
            f" s, p95 {pct(fetches, 0.95):.2f} s, max {max(fetches):.2f} s"
        )
    out(f"last tap -> roll shows all {students} marks: {shown_after:.2f} s")
    out(f"429s: {edits_429} on edits, {other_429} on other calls")


def _throttled(call: Any) -> bool:
    return call.error is not None and call.error.get("error_code") == 429


async def student_ids(sessionmaker: Any, exam_id: int) -> list[int]:
    """The roll's order: the group's students by name."""
    async with sessionmaker() as session:
        group = await session.scalar(select(Exam.group_id).where(Exam.id == exam_id))
        return list(
            await session.scalars(
                select(Student.id).where(Student.group_id == group).order_by(Student.full_name)
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--rate", type=float, default=2.0, help="taps per second")
    parser.add_argument("--latency", type=float, default=0.1, help="Bot API round trip, s")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the figures only
    asyncio.run(run(args.students, args.rate, args.latency))


if __name__ == "__main__":
    main()
