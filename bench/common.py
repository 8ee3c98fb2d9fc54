"""What the fault benchmarks share (bench/faults.py, bench/outages.py).

The real bot as a subprocess (`python -m bot`, long polling) against the fake Bot API
(`tests/e2e/fakeapi.py`); a seeded database with a burst of due join calls and students
who link their account and file an absence statement step by step, as people would; and
the counting at the end: notices delivered, lost, duplicated; statements acknowledged
and missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402  (after the path tweak, so `bot` imports)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from bench.outbox import STUDENT_USERS, TOKEN, seed_burst  # noqa: E402
from bot.db.engine import create_engine, create_sessionmaker  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Group, Notice, NoticeStatus, Statement, Student  # noqa: E402
from tests.e2e.fakeapi import Call, FakeBotAPI, FakeUser, button  # noqa: E402

JOINERS = 3_000_000  # user ids of the students who link and file a statement
STEP_WAIT = 15.0  # seconds a "person" waits for an answer before sending again
SUBMITTED = re.compile(r"№(\d+)")
JOIN_MARK = "⏰"  # the join call's first character, in both languages
CARD_MARK = "📅"  # the exam card's (sent at start-up by the planner: the exam is < 24 h away)


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def seed(database_url: str, notices: int, students: int) -> None:
    """Migrations, `notices` linked students with their join call due now (the exam in
    two hours, so nothing expires during a run), and `students` more on the roster, not
    linked yet (the people of `Person`)."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        start = datetime.now(UTC) + timedelta(hours=2)
        await seed_burst(sessionmaker, notices, start)
        async with sessionmaker.begin() as session:
            group = await session.scalar(select(Group.id).order_by(Group.id).limit(1))
            assert group is not None
            session.add_all(
                Student(
                    group_id=group,
                    full_name=f"Заявителев{i} Иван",
                    surname_key=f"заявителев{i}",
                    record_book=f"J{i:05d}",
                )
                for i in range(students)
            )
    finally:
        await engine.dispose()


class Person:
    """A student who links their account and files an absence statement with a photo."""

    def __init__(self, api: FakeBotAPI, number: int, step_wait: float = STEP_WAIT) -> None:
        self.api = api
        self.number = number
        self.step_wait = step_wait
        self.user: FakeUser = api.user(JOINERS + number, language_code="en")
        self.acknowledged: int | None = None  # the statement number the bot gave
        self.resends = 0

    async def ask(self, act: Any, *expect: str) -> dict[str, Any]:
        """Does `act` (sends or presses) until the bot answers in this chat with a message
        whose text or buttons contain `expect`; other answers (to a step the bot handled
        twice around a restart, say) are read past."""
        while True:
            after = self.api.mark()
            act()
            deadline = time.monotonic() + self.step_wait
            try:
                message = await self.api.next_message(
                    self.user.id, after=after, timeout=self.step_wait
                )
                while not any(
                    e in str(message.get("text")) + str(message.get("reply_markup")) for e in expect
                ):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise AssertionError("no expected answer")
                    message = await self.api.next_message(self.user.id, timeout=left)
                return message
            except AssertionError:
                self.resends += 1  # no answer: the bot is down, or lost it; a person retries
                if os.environ.get("BENCH_DEBUG"):
                    last = self.api.messages(self.user.id)[-1:]
                    said = str(last[0].get("text"))[:80] if last else "nothing"
                    out(f"student {self.number}: no {expect!r} yet (last: {said!r}), again")

    async def run(self) -> None:
        api, user = self.api, self.user
        while True:
            await self.ask(lambda: user.send("/start"), "record-book", "/schedule")
            await self.ask(lambda: user.send(f"J{self.number:05d}"), "surname", "/schedule")
            found = await self.ask(lambda: user.send(f"Заявителев{self.number}"), "Yes", "/")
            if "Yes" in str(found.get("reply_markup")):
                # The answer to this press may be lost in a kill: /statement tells.
                after = api.mark()
                user.click(found, button(found, "Yes")["callback_data"])
                with contextlib.suppress(AssertionError):
                    await api.next_message(user.id, after=after, timeout=self.step_wait)
            menu = await self.ask(lambda: user.send("/statement"), "Which exam", "/start")
            if "Which exam" in menu.get("text", ""):
                break
        first = menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        kinds = await self.ask(lambda: user.click(menu, first), "Absence")
        reasons = await self.ask(
            lambda: user.click(kinds, button(kinds, "Absence")["callback_data"]), "Illness"
        )
        await self.ask(
            lambda: user.click(reasons, button(reasons, "Illness")["callback_data"]), "few words"
        )
        await self.ask(
            lambda: user.send("Flu, a certificate attached"), "documents", "image files only"
        )
        attached = await self.ask(
            lambda: api.send_photo(user, f"cert-{self.number}".encode()), "Attached"
        )
        preview = await self.ask(
            lambda: user.click(attached, button(attached, "Done")["callback_data"]),
            "not sent yet",
        )
        done = await self.ask(
            lambda: user.click(preview, button(preview, "Send")["callback_data"]),
            "submitted",
            "missing",  # sent before, its answer lost in a kill: this press finds no draft
        )
        match = SUBMITTED.search(done.get("text", "")) if "submitted" in done["text"] else None
        self.acknowledged = int(match.group(1)) if match else None


def bot_env(api: FakeBotAPI, database_url: str, directory: str, **extra: str) -> dict[str, str]:
    """The bot's environment: the fake API, this database, long polls of 1 s."""
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": database_url,
        "POLLING_TIMEOUT": "1",
        "FILES_DIR": f"{directory}/files",
        **extra,
    }
    env.pop("REDIS_URL", None)
    return env


async def start_bot(
    env: dict[str, str], directory: str, log: Path | None = None
) -> asyncio.subprocess.Process:
    """`python -m bot run`; its output appended to `log` (a restarted bot writes on), or
    dropped without one."""
    command = (sys.executable, "-m", "bot", "run")
    if log is None:
        return await asyncio.create_subprocess_exec(
            *command,
            cwd=directory,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    with log.open("ab") as sink:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            *command, cwd=directory, env=env, stdout=sink, stderr=asyncio.subprocess.STDOUT
        )


async def unfinished(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Notices due by now and still pending or claimed. (Not those due later: a student
    who links gets a join call due a quarter of an hour before the exam, hours away.)"""
    async with sessionmaker() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(
                Notice.status.in_((NoticeStatus.PENDING, NoticeStatus.CLAIMED)),
                Notice.due_at <= datetime.now(UTC),
            )
        )
    return left or 0


async def wait_drained(sessionmaker: async_sessionmaker[AsyncSession], within: float) -> int:
    """Waits until no notice due is pending or claimed (for `within` seconds at most);
    returns how many are."""
    deadline = time.monotonic() + within
    while True:
        left = await unfinished(sessionmaker)
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(1)


async def notice_statuses(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Notice.status, func.count()).group_by(Notice.status))
        return {str(status): count for status, count in rows}


@dataclass
class Deliveries:
    """One kind of notice (told by its first character) to each of the burst's chats."""

    due: int
    delivered: int  # chats that got it at least once
    lost: int  # chats that never got it
    duplicated: int  # chats that got it more than once
    calls: list[Call]  # the deliveries themselves, in arrival order


def deliveries(api: FakeBotAPI, notices: int, mark: str) -> Deliveries:
    chats = range(STUDENT_USERS, STUDENT_USERS + notices)
    calls = [
        c
        for c in api.delivered()
        if isinstance(c.chat_id, int) and c.chat_id in chats and mark in str(c.params.get("text"))
    ]
    per_chat = Counter(c.chat_id for c in calls)
    return Deliveries(
        due=notices,
        delivered=len(per_chat),
        lost=sum(1 for chat in chats if per_chat.get(chat, 0) == 0),
        duplicated=sum(1 for chat in chats if per_chat.get(chat, 0) > 1),
        calls=calls,
    )


@dataclass
class StatementFigures:
    people: int
    acknowledged: int  # the bot said "submitted №N"
    missing: int  # acknowledged, not in the database
    more_than_one: int  # students with two statements or more
    without_document: int  # acknowledged, stored without the photo
    resends: int  # steps the people had to send again


async def statement_figures(
    sessionmaker: async_sessionmaker[AsyncSession], people: Iterable[Person]
) -> StatementFigures:
    people = list(people)
    async with sessionmaker() as session:
        stored = {
            s.id: s
            for s in await session.scalars(select(Statement).options(selectinload(Statement.files)))
        }
    per_student = Counter(s.student_id for s in stored.values())
    acknowledged = [p.acknowledged for p in people if p.acknowledged is not None]
    return StatementFigures(
        people=len(people),
        acknowledged=len(acknowledged),
        missing=sum(1 for n in acknowledged if n not in stored),
        more_than_one=sum(1 for n in per_student.values() if n > 1),
        without_document=sum(1 for n in acknowledged if n in stored and not stored[n].files),
        resends=sum(p.resends for p in people),
    )


def read_json_log(path: Path) -> list[dict[str, Any]]:
    """The bot's log written with LOG_FORMAT=json; each record gets `at` (epoch seconds).
    Lines that are no JSON (a traceback printed by the interpreter itself) are kept as
    records with level "RAW"."""
    records: list[dict[str, Any]] = []
    last = 0.0
    if not path.exists():
        return records
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError
            last = datetime.fromisoformat(str(record["time"])).timestamp()
        except (ValueError, KeyError):
            record = {"level": "RAW", "message": line}
        record["at"] = last
        records.append(record)
    return records
