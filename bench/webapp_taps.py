"""Benchmark: a teacher marks 40 students in the Mini App at 5 taps/s, while the roll is
also open in chat, against a Telegram that answers in 100 ms (jittered) and paces edits
at ~1/s per chat (429 beyond).

The real bot (the same Application as `python -m bot`: long polling, SQLite, the Mini
App's own server) against the fake Bot API; the taps are HTTP requests with signed
initData, each answered once its mark is committed. Prints: marks saved (must be all),
tap -> saved (the request's round trip) p50/p95/max, the time from the last tap to the
chat's roll message showing every mark (through the edit coalescer), and the 429s.

    .venv/bin/python bench/webapp_taps.py [--students 40] [--rate 5] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402  (after the path tweak)
from sqlalchemy import func, select  # noqa: E402

from bench.roll import seed  # noqa: E402
from bench.roll_taps import (  # noqa: E402
    TEACHER_USER,
    TOKEN,
    FixedClock,
    TimedFakeBotAPI,
    final_state,
    link_teacher,
    out,
    pct,
    student_ids,
)
from bot.app import build_application  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.models import RollEntry  # noqa: E402
from tests.e2e.test_roll import open_roll  # noqa: E402
from tests.webapp_auth import sign_init_data  # noqa: E402


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
                webapp_url="https://desk.example.org/app/",
                webapp_host="127.0.0.1",
                webapp_port=0,
                _env_file=None,
            )
            clock = FixedClock()
            app = build_application(settings, clock=clock)
            await app.prepare()
            polling = asyncio.create_task(app.run_polling(handle_signals=False))
            try:
                while app.webapp_server is None or app.webapp_server.port is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                base = f"http://127.0.0.1:{app.webapp_server.port}"
                init_data = sign_init_data(TOKEN, TEACHER_USER, auth_date=clock.now())
                await measure(api, app.sessionmaker, base, init_data, exam_id, students, rate)
            finally:
                await app.dispatcher.stop_polling()
                await polling


async def measure(
    api: TimedFakeBotAPI,
    sessionmaker: Any,
    base: str,
    init_data: str,
    exam_id: int,
    students: int,
    rate: float,
) -> None:
    teacher = api.user(TEACHER_USER, language_code="en")
    roll = await open_roll(api, teacher, "Латинский язык")  # the console in chat, too
    ids = await student_ids(sessionmaker, exam_id)
    api.enforce_limits(edits=True)
    before = len(api.calls)
    headers = {"Authorization": f"tma {init_data}"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def tap(student: int) -> tuple[int, float]:
            tapped = time.monotonic()
            async with http.post(
                f"{base}/app/api/roll/{exam_id}/mark",
                json={"student_id": student, "mark": "present"},
            ) as response:
                await response.read()
                return response.status, time.monotonic() - tapped

        taps: list[asyncio.Task[tuple[int, float]]] = []
        for n, student in enumerate(ids[:students]):
            taps.append(asyncio.create_task(tap(student)))
            if n + 1 < students:
                await asyncio.sleep(1 / rate)
        results = await asyncio.gather(*taps)
    shown_after = await final_state(api, roll["message_id"], students, limit=60)
    await api.idle(quiet=1.0, timeout=60)
    async with sessionmaker() as session:
        saved = await session.scalar(
            select(func.count())
            .select_from(RollEntry)
            .where(RollEntry.exam_id == exam_id, RollEntry.mark == "present")
        )
    times = [seconds for status, seconds in results if status == 200]
    refused = [status for status, _seconds in results if status != 200]
    calls = api.calls[before:]
    edits_429 = sum(1 for c in calls if c.method.startswith("edit") and _throttled(c))
    other_429 = sum(1 for c in calls if not c.method.startswith("edit") and _throttled(c))
    latency_ms = api.latency * 1000
    out(f"taps in the Mini App: {students} at {rate:g}/s; latency {latency_ms:.0f} ms ±50 %")
    out(f"marks saved: {saved}/{students}; refused taps: {len(refused)} {refused[:5]}")
    if times:
        out(
            f"tap -> saved (request answered after its commit): p50 "
            f"{statistics.median(times) * 1000:.0f} ms, p95 {pct(times, 0.95) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms"
        )
    out(f"last tap -> the chat's roll shows all {students} marks: {shown_after:.2f} s")
    out(f"429s: {edits_429} on edits, {other_429} on other calls")


def _throttled(call: Any) -> bool:
    return call.error is not None and call.error.get("error_code") == 429


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--rate", type=float, default=5.0, help="taps per second")
    parser.add_argument("--latency", type=float, default=0.1, help="Bot API round trip, s")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the figures only
    asyncio.run(run(args.students, args.rate, args.latency))


if __name__ == "__main__":
    main()
