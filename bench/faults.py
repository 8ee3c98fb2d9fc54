"""Benchmark: kill -9 the bot at random moments and count what was lost.

The real bot runs as a subprocess (`python -m bot`, long polling, SQLite by default)
against the fake Bot API (`tests/e2e/fakeapi.py`, real HTTP, Telegram's limits enforced).
Meanwhile:
- a burst of N join calls (default 1,000) is due at once in the outbox;
- M students (default 20) each link their account and file an absence statement with a
  photo, step by step, as a person would: each step waits for the bot's answer, and a
  step left unanswered for a while is sent again (what a person does when a bot is down).
The bot is killed with SIGKILL at K random moments (default 20) and restarted each time.

Printed at the end: join calls delivered, lost (a chat that never got its call) and
duplicated; statements the bot acknowledged ("submitted №N") and how many of those are
missing from the database, duplicated, or lack their document; the kills; the seconds.

    .venv/bin/python bench/faults.py [--notices N] [--students M] [--kills K] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402  (after the path tweak, so `bot` imports)
from sqlalchemy.orm import selectinload  # noqa: E402

from bench.common import Person, out, seed, wait_drained  # noqa: E402
from bench.outbox import STUDENT_USERS, TOKEN  # noqa: E402
from bot.db.engine import create_engine, create_sessionmaker  # noqa: E402
from bot.db.models import Statement  # noqa: E402
from tests.e2e.fakeapi import FakeBotAPI  # noqa: E402


async def run(
    notices: int, students: int, kills: int, seed_value: int, keep_log: Path | None = None
) -> None:
    rng = random.Random(seed_value)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/bot.db"
        await seed(database_url, notices, students)
        async with FakeBotAPI(token=TOKEN, bot_username="examinator_bench_bot") as api:
            api.enforce_limits(30, 1)
            env = {
                **os.environ,
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": api.base_url,
                "DATABASE_URL": database_url,
                "POLLING_TIMEOUT": "1",
                # Students retrying steps the kills swallowed are no password guessers.
                "LOGIN_ATTEMPTS_PER_HOUR": "1000",
                "FILES_DIR": f"{tmp}/files",
            }
            env.pop("REDIS_URL", None)

            bot_log = Path(tmp) / "bot.log"  # every run's output, for a bot that dies alone

            async def start_bot() -> asyncio.subprocess.Process:
                with bot_log.open("ab") as output:
                    return await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bot",
                        cwd=tmp,
                        env=env,
                        stdout=output,
                        stderr=asyncio.subprocess.STDOUT,
                    )

            process = await start_bot()
            people = [Person(api, i) for i in range(students)]
            tasks = [asyncio.create_task(p.run()) for p in people]
            # Kills at random moments over the first ~60 s (the burst takes ~40 s at 25/s).
            moments = sorted(rng.uniform(2.0, 60.0) for _ in range(kills))
            clock0 = time.monotonic()
            for moment in moments:
                await asyncio.sleep(max(0.0, moment - (time.monotonic() - clock0)))
                if process.returncode is not None:
                    tail = bot_log.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"the bot exited by itself ({process.returncode}):\n{tail}")
                process.send_signal(signal.SIGKILL)
                await process.wait()
                process = await start_bot()
            try:
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
            except BaseException:
                process.kill()  # no bot left running on a failed run
                await process.wait()
                raise
            finally:
                if keep_log is not None:
                    shutil.copyfile(bot_log, keep_log)
            # Let the outbox finish, then stop the bot cleanly.
            engine = create_engine(database_url)
            sessionmaker = create_sessionmaker(engine)
            # Only what is due: the students' own join calls fall due later.
            await wait_drained(sessionmaker, within=300)
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=30)

            burst_chats = range(STUDENT_USERS, STUDENT_USERS + notices)
            # The join calls only ("⏰ Join now"): the planner also sends each student the
            # exam card at start-up, a different notice.
            calls = Counter(
                c.chat_id
                for c in api.delivered()
                if isinstance(c.chat_id, int)
                and c.chat_id in burst_chats
                and "⏰" in str(c.params.get("text"))
            )
            lost = sum(1 for chat in burst_chats if calls.get(chat, 0) == 0)
            duplicated = sum(1 for chat in burst_chats if calls.get(chat, 0) > 1)
            async with sessionmaker() as session:
                stored = {
                    s.id: s
                    for s in await session.scalars(
                        select(Statement).options(selectinload(Statement.files))
                    )
                }
                per_student = Counter(s.student_id for s in stored.values())
            await engine.dispose()
            acknowledged = [p.acknowledged for p in people if p.acknowledged is not None]
            missing = sum(1 for n in acknowledged if n not in stored)
            without_document = sum(1 for n in acknowledged if n in stored and not stored[n].files)
            out(f"kills: {kills} (SIGKILL at random moments, each restarted), seed {seed_value}")
            out(
                f"join calls: {notices} due; delivered to {len(calls)} chats; "
                f"lost {lost}; duplicated {duplicated}"
            )
            out(
                f"statements: {len(acknowledged)} of {students} acknowledged; missing from the "
                f"database {missing}; students with more than one "
                f"{sum(1 for n in per_student.values() if n > 1)}; acknowledged without their "
                f"document {without_document}"
            )
            out(f"steps a student had to send again: {sum(p.resends for p in people)}")
            elapsed = time.monotonic() - started
            out(f"429s from the fake Telegram: {api.throttled}; seconds: {elapsed:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--notices", type=int, default=1_000)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-log", type=Path, help="copy the bot's output here at the end")
    args = parser.parse_args()
    asyncio.run(run(args.notices, args.students, args.kills, args.seed, args.keep_log))


if __name__ == "__main__":
    main()
