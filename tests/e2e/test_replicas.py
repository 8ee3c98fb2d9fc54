"""Two bot processes behind one load balancer: every effect happens exactly once.

Two real `python -m bot run` processes in webhook mode, each on its own port, share one
PostgreSQL database (migrated once beforehand) and one Redis (the FSM, with
RedisEventIsolation). The test plays the load balancer: ten students link their accounts
and file an absence statement with an album of two photos, each step posted to the other
process than the step before, so every dialogue lives in Redis and nowhere else. Some
updates are posted to both processes at once (Telegram re-sending after a timeout), the
two photos of an album go to different processes at the same moment, and half the
students tap "Send" twice, the taps landing on different processes. Meanwhile a burst of
exam reminders is due and both outbox senders compete for it (FOR UPDATE SKIP LOCKED).

Counted at the end: every reply, notice and statement card once in what the fake Bot API
delivered; one statement with both documents per student; one processed-update row per
update id; each update handled by one process (the copy the other got is skipped); both
processes sent notices; both stop with exit code 0 on SIGTERM.

Needs TEST_POSTGRES_DSN and TEST_REDIS_URL. The Redis keys are the students' own (user
ids derived from this process's id, so parallel runs do not meet), and are deleted after.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import (
    DeaneryChat,
    Exam,
    Faculty,
    FsmRecord,
    Group,
    Notice,
    NoticeStatus,
    ProcessedUpdate,
    Statement,
    Student,
    User,
)
from bot.keyboards.callbacks import JoinCB
from bot.services.imports import import_roster, import_schedule
from bot.services.outbox import Outbox
from bot.services.reminders import plan_exam
from tests.e2e.conftest import FAST_CHAT_INTERVAL, TOKEN
from tests.e2e.fakeapi import MESSAGE_METHODS, Call, FakeBotAPI, FakeUser, button
from tests.e2e.test_webhook import PUBLIC_URL, SECRET, SECRET_HEADER, free_port

POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN")
REDIS_URL = os.environ.get("TEST_REDIS_URL")
pytestmark = [
    pytest.mark.skipif(
        not (POSTGRES_DSN and REDIS_URL),
        reason="two replicas need PostgreSQL and Redis: set TEST_POSTGRES_DSN and "
        "TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)",
    ),
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

SURNAMES = (
    "Абрамова",
    "Борисов",
    "Виноградова",
    "Голубев",
    "Дмитриева",
    "Егоров",
    "Жукова",
    "Зайцев",
    "Ильина",
    "Комаров",
)
# Two students a faculty, each faculty's dean's office its own chat: a chat takes about a
# message a second, and ten cards with their albums in one chat would take twenty.
FACULTIES = len(SURNAMES) // 2
BURST = 40  # students linked beforehand whose reminders fall due together
BURST_GROUP = "9910"
# Telegram user ids (= private chat ids, = the Redis FSM keys) of this run only.
BASE_ID = 6_000_000_000 + (os.getpid() % 100_000) * 1_000
STUDENT_IDS = [BASE_ID + i for i in range(len(SURNAMES))]
BURST_IDS = [BASE_ID + 100 + i for i in range(BURST)]
DEANERIES = [-(BASE_ID + 900 + k) for k in range(FACULTIES)]
STEP_TIMEOUT = 15.0


def faculty(k: int) -> str:
    return f"Факультет {k + 1}"


def group(i: int) -> str:
    """The group of student i: 9901 … 9905, two students each."""
    return f"99{i // 2 + 1:02d}"


def record_book(i: int) -> str:
    return f"99010{i:02d}"


async def seed(database_url: str) -> None:
    """Migrates once for both replicas; imports the roster (ten students to link, a burst
    group in the first faculty) and one exam a group ten minutes from now (so the card and
    the join call are due at once when a student links); binds the dean's office chats."""
    settings = Settings(_env_file=None, database_url=database_url)
    start = (datetime.now(UTC) + timedelta(minutes=11)).astimezone(settings.tz)
    roster = ["faculty,group,full_name,record_book"]
    roster += [
        f"{faculty(i // 2)},{group(i)},{surname} Анна Сергеевна,{record_book(i)}"
        for i, surname in enumerate(SURNAMES)
    ]
    roster += [f"{faculty(0)},{BURST_GROUP},Напоминаев{i} Иван,9910{i:03d}" for i in range(BURST)]
    schedule = ["faculty,group,discipline,kind,form,date,start,duration_min,teacher,link"]
    schedule += [
        f"{faculty(i // 2)},{group(i)},Биохимия,exam,oral,{start:%Y-%m-%d},{start:%H:%M},60,,"
        f"https://my.mts-link.ru/j/1/{group(i)}"
        for i in range(0, len(SURNAMES), 2)
    ]
    schedule.append(
        f"{faculty(0)},{BURST_GROUP},Физиология,exam,oral,{start:%Y-%m-%d},{start:%H:%M},60,,"
        "https://my.mts-link.ru/j/1/burst"
    )
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            imported = await import_roster(session, "r.csv", "\n".join(roster).encode())
            assert imported.ok
            planned = await import_schedule(
                session, "s.csv", "\n".join(schedule).encode(), tz=settings.tz
            )
            assert planned.ok
            for k, chat in enumerate(DEANERIES):
                faculty_id = await session.scalar(
                    select(Faculty.id).where(Faculty.name == faculty(k))
                )
                assert faculty_id is not None
                session.add(DeaneryChat(chat_id=chat, faculty_id=faculty_id, bound_by=1))
    finally:
        await engine.dispose()


async def link_burst(database_url: str) -> int:
    """The burst group's students are linked (as by an earlier run) and their exam cards
    and join calls put in the outbox, due now, behind the senders' backs: the senders sleep
    until the first students link, one on each replica at about the same moment, and then
    both claim from the burst at once. Returns how many notices."""
    settings = Settings(_env_file=None, database_url=database_url)
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            session.add_all(User(id=uid, first_name="B", locale="en") for uid in BURST_IDS)
            await session.flush()
            students = list(
                await session.scalars(
                    select(Student)
                    .join(Group)
                    .where(Group.name == BURST_GROUP)
                    .order_by(Student.record_book)
                )
            )
            now = datetime.now(UTC)
            for student, uid in zip(students, BURST_IDS, strict=True):
                student.user_id, student.linked_at = uid, now
            await session.flush()
            exam_id = await session.scalar(
                select(Exam.id).where(Exam.group_id == students[0].group_id)
            )
            assert exam_id is not None
            report = await plan_exam(session, exam_id, now, settings=settings, outbox=Outbox())
    finally:
        await engine.dispose()
    assert report.created == 2 * BURST  # the card (late, so due now) and the join call
    return report.created


@dataclass
class Replica:
    """One `python -m bot run` process behind the (simulated) load balancer."""

    name: str
    process: asyncio.subprocess.Process
    port: int
    metrics_port: int
    log: Path
    http: aiohttp.ClientSession
    posted: list[int] = field(default_factory=list)

    async def post(self, update: dict[str, Any]) -> None:
        url = f"http://127.0.0.1:{self.port}/telegram"
        self.posted.append(int(update["update_id"]))
        async with self.http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
            await response.read()
            # 200 only once the update is handled and committed (or found handled before).
            assert response.status == 200, f"{self.name}: {response.status}"

    async def sent_total(self) -> float:
        async with self.http.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as response:
            text = await response.text()
        for line in text.splitlines():
            if line.startswith("examinator_notices_sent_total "):
                return float(line.split()[1])
        raise AssertionError(f"{self.name}: no examinator_notices_sent_total in /metrics")

    def log_entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]  # all JSON


async def start_replica(
    name: str, api: FakeBotAPI, database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> Replica:
    port, metrics_port = free_port(), free_port()
    assert REDIS_URL is not None
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "WEBHOOK_URL": PUBLIC_URL,
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "LOG_FORMAT": "json",
        "FILES_DIR": str(tmp_path / "files"),  # shared, as a volume both replicas mount
        "SHUTDOWN_GRACE_SECONDS": "5",
        "CHAT_INTERVAL": str(FAST_CHAT_INTERVAL),  # the `api` fixture's pace in a chat
    }
    # Settings a developer's environment may carry that would add to what is sent or drop
    # updates (the rest are read alike here, by seed(), and there).
    for setting in ("ADMIN_IDS", "SMTP_URL", "FLOOD_LIMIT"):
        env.pop(setting, None)
    log = tmp_path / f"{name}.log"
    with log.open("wb") as output:  # a file, not a pipe: nobody reads it until the end
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    return Replica(name, process, port, metrics_port, log, http)


async def wait_until_serving(api: FakeBotAPI, replicas: list[Replica]) -> None:
    """Each replica sets the webhook once it listens."""
    deadline = time.monotonic() + 60
    while sum(c.method == "setWebhook" and c.ok for c in api.calls) < len(replicas):
        for replica in replicas:
            if replica.process.returncode is not None:
                raise AssertionError(f"{replica.name} exited:\n{replica.log.read_text()}")
        assert time.monotonic() < deadline, "the replicas did not set the webhook in 60 s"
        await asyncio.sleep(0.05)


async def stop(replica: Replica) -> int:
    if replica.process.returncode is None:
        replica.process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(replica.process.wait(), timeout=30)


@pytest_asyncio.fixture
async def redis() -> AsyncIterator[Redis]:
    assert REDIS_URL is not None
    client = Redis.from_url(REDIS_URL)

    async def clean() -> None:
        for uid in STUDENT_IDS:
            keys = [key async for key in client.scan_iter(f"fsm:{uid}:{uid}:*")]
            if keys:
                await client.delete(*keys)

    await clean()
    try:
        yield client
    finally:
        await clean()
        await client.aclose()


def text_of(call: Call) -> str:
    result = call.result if isinstance(call.result, dict) else {}
    return str(result.get("text") or result.get("caption") or "")


async def answer(api: FakeBotAPI, chat: int, after: int, expect: str) -> dict[str, Any]:
    """The bot's message (sent or edited) in the chat since `after` containing `expect`; a
    reminder arriving in between is passed over."""
    call = await api.wait_for(
        MESSAGE_METHODS,
        chat_id=chat,
        predicate=lambda c: c.ok and expect in text_of(c),
        after=after,
        timeout=STEP_TIMEOUT,
    )
    return {**call.result, "_method": call.method}


class Person:
    """A student whose every step goes to the other replica than the step before."""

    def __init__(self, api: FakeBotAPI, index: int, replicas: list[Replica]) -> None:
        self.api = api
        self.index = index
        self.user: FakeUser = api.user(STUDENT_IDS[index], language_code="en")
        self.replicas = replicas
        self.step = index  # students start on alternate replicas
        self.statement: int | None = None

    def next_replica(self) -> Replica:
        replica = self.replicas[self.step % 2]
        self.step += 1
        return replica

    async def ask(self, update: dict[str, Any], expect: str) -> dict[str, Any]:
        after = self.api.mark()
        await self.next_replica().post(update)
        return await answer(self.api, self.user.id, after, expect)

    async def run(self, redis: Redis) -> None:
        api, user = self.api, self.user
        await self.ask(user.send("/start"), "send your record-book number")
        # The dialogue's state is in Redis, for the next step on the other replica.
        assert await redis.get(f"fsm:{user.id}:{user.id}:state") == b"Join:record_book"
        await self.ask(user.send(record_book(self.index)), "Now send your surname")
        found = await self.ask(user.send(SURNAMES[self.index]), "Is this you?")
        assert SURNAMES[self.index] in found["text"]
        after = api.mark()
        await self.ask(user.click(found, JoinCB(confirm=True).pack()), "Done! You are linked")
        await answer(api, user.id, after, "What I can do")
        menu = await self.ask(user.send("/statement"), "Which exam")
        first = menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        kinds = await self.ask(user.click(menu, first), "what would you like to ask?")
        reasons = await self.ask(
            user.click(kinds, button(kinds, "Absence")["callback_data"]), "What is the reason?"
        )
        await self.ask(
            user.click(reasons, button(reasons, "Illness")["callback_data"]), "in a few words"
        )
        await self.ask(user.send("Грипп, справка приложена"), "supporting documents")

        # An album: its two photos reach different replicas at the same moment, and the
        # first is re-sent by Telegram to the other replica too. RedisEventIsolation
        # serialises them: both photos join the draft, and it is answered once.
        album = f"album-{user.id}"
        first_photo = api.send_photo(user, self.photo(1), media_group_id=album)
        second_photo = api.send_photo(user, self.photo(2), media_group_id=album)
        one, other = self.next_replica(), self.next_replica()
        after = api.mark()
        await asyncio.gather(
            one.post(first_photo), other.post(first_photo), other.post(second_photo)
        )
        attached = await answer(api, user.id, after, "Attached")
        preview = await self.ask(
            user.click(attached, button(attached, "Done")["callback_data"]), "not sent yet"
        )
        assert "Documents: 2" in preview["text"]

        send = button(preview, "Send")["callback_data"]
        one, other = self.next_replica(), self.next_replica()
        after = api.mark()
        if self.index % 2:
            # Telegram re-sends the press to the other replica before the first answers.
            press = user.click(preview, send)
            await asyncio.gather(one.post(press), other.post(press))
        else:
            # A double tap: two presses, each to another replica, at once.
            await asyncio.gather(
                one.post(user.click(preview, send)), other.post(user.click(preview, send))
            )
        done = await answer(api, user.id, after, "is submitted")
        self.statement = int(done["text"].split("№")[1].split()[0])

    def photo(self, n: int) -> bytes:
        return b"\xff\xd8\xff" + f"certificate {self.user.id} page {n}".encode()


async def test_two_replicas_do_every_effect_exactly_once(
    api: FakeBotAPI, database_url: str, redis: Redis, tmp_path: Path
) -> None:
    await seed(database_url)
    async with aiohttp.ClientSession() as http:
        replicas = list(
            await asyncio.gather(
                *(start_replica(n, api, database_url, tmp_path, http) for n in ("one", "two"))
            )
        )
        try:
            await wait_until_serving(api, replicas)
            burst_notices = await link_burst(database_url)
            students = [Person(api, i, replicas) for i in range(len(SURNAMES))]
            await asyncio.gather(*(s.run(redis) for s in students))
            expected_notices = burst_notices + 2 * len(students) + len(students)
            await outbox_drained(database_url, expected_notices)
            sent_by = [await r.sent_total() for r in replicas]
        finally:
            codes = await asyncio.gather(*(stop(r) for r in replicas), return_exceptions=True)
            for replica in replicas:
                if replica.process.returncode is None:
                    replica.process.kill()
                    await replica.process.wait()
    for replica, code in zip(replicas, codes, strict=True):
        assert code == 0, f"{replica.name} exited with {code}:\n{replica.log.read_text()}"

    # Both senders sent a share of the reminders; together, each notice once.
    assert all(n > 0 for n in sent_by), sent_by
    assert sum(sent_by) == expected_notices
    await check_database(database_url, students, replicas, expected_notices)
    check_deliveries(api, students)
    check_logs(replicas)
    # Every dialogue ended, and no lock was left behind in Redis.
    for uid in STUDENT_IDS:
        assert [key async for key in redis.scan_iter(f"fsm:{uid}:{uid}:*")] == []


async def outbox_drained(database_url: str, expected: int) -> None:
    """Waits until every notice is planned and none is pending or being sent."""
    engine = create_engine(database_url)
    try:
        async with asyncio.timeout(30):
            while True:
                async with create_sessionmaker(engine)() as session:
                    rows = await session.execute(
                        select(Notice.status, func.count()).group_by(Notice.status)
                    )
                    statuses = {status: count for status, count in rows}
                busy = statuses.get(NoticeStatus.PENDING, 0) + statuses.get(NoticeStatus.CLAIMED, 0)
                if sum(statuses.values()) >= expected and not busy:
                    return
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def check_database(
    database_url: str, students: list[Person], replicas: list[Replica], notices: int
) -> None:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = (
                await session.execute(select(Notice.status, Notice.claimed_by, Notice.chat_id))
            ).all()
            assert Counter(status for status, _, _ in rows) == {NoticeStatus.SENT: notices}
            # Two senders (one a process, each with a worker id of its own) shared the burst.
            assert len({worker for _, worker, _ in rows}) == 2
            assert len({worker for _, worker, chat in rows if chat in BURST_IDS}) == 2
            # One row an update id, whether it was posted once or twice; none for an update
            # that only read (/help, a menu shown): handled again, it only answers again.
            # Every step of a dialogue wrote (Redis, through WritesNoted) and has one.
            processed = list(await session.scalars(select(ProcessedUpdate.update_id)))
            posted = {u for r in replicas for u in r.posted}
            assert len(processed) == len(set(processed))
            assert set(processed) <= posted
            assert len(processed) >= len(students) * 8, len(processed)
            # The dialogues' state was in Redis only.
            assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0
            linked = {
                book: user
                for book, user in await session.execute(
                    select(Student.record_book, Student.user_id).where(
                        Student.user_id.in_(STUDENT_IDS)
                    )
                )
            }
            assert linked == {record_book(s.index): s.user.id for s in students}
            statements = list(
                await session.scalars(
                    select(Statement)
                    .options(selectinload(Statement.files), selectinload(Statement.student))
                    .order_by(Statement.id)
                )
            )
    finally:
        await engine.dispose()
    assert len(statements) == len(students)  # one each, whatever was sent twice
    by_user = {st.student.user_id: st for st in statements}
    for student in students:
        statement = by_user[student.user.id]
        assert statement.id == student.statement
        assert (statement.kind, statement.reason) == ("absence", "illness")
        assert [f.kind for f in statement.files] == ["photo", "photo"]
        assert len({f.file_unique_id for f in statement.files}) == 2


def check_deliveries(api: FakeBotAPI, students: list[Person]) -> None:
    def messages(chat: int) -> list[Call]:
        return [
            c
            for c in api.calls
            if c.ok
            and c.chat_id is not None
            and str(c.chat_id) == str(chat)
            and (c.method in MESSAGE_METHODS or c.method == "sendMediaGroup")
        ]

    # Each reply and acknowledgement once, and the two reminders once: nothing else.
    expected = [
        "send your record-book number",
        "Now send your surname",
        "Is this you?",
        "Done! You are linked",
        "What I can do",
        "Which exam",
        "what would you like to ask?",
        "What is the reason?",
        "in a few words",
        "supporting documents",
        "Attached",
        "not sent yet",
        "is submitted",
        "Exam reminder",
        "⏰",
    ]
    for student in students:
        calls = messages(student.user.id)
        texts = [text_of(c) for c in calls]
        counts = {e: sum(e in t for t in texts) for e in expected}
        assert counts == dict.fromkeys(expected, 1), (student.index, texts)
        assert len(calls) == len(expected), (student.index, texts)
    for uid in BURST_IDS:
        texts = [text_of(c) for c in messages(uid)]
        assert len(texts) == 2 and sum("Exam reminder" in t for t in texts) == 1, texts
        assert sum("⏰" in t for t in texts) == 1, texts
    # Every callback answered once (a re-sent one is not handled again).
    answered = Counter(
        c.params["callback_query_id"] for c in api.calls if c.method == "answerCallbackQuery"
    )
    assert set(answered.values()) == {1}
    # Each dean's office got each of its statements' cards once, with the album of two.
    for k, chat in enumerate(DEANERIES):
        cards = messages(chat)
        numbers = sorted(
            int(text_of(c).split("№")[1].split()[0].rstrip(":"))
            for c in cards
            if c.method == "sendMessage"
        )
        assert numbers == sorted(s.statement or 0 for s in students[2 * k : 2 * k + 2])
        assert sorted(c.method for c in cards) == ["sendMediaGroup"] * 2 + ["sendMessage"] * 2


def check_logs(replicas: list[Replica]) -> None:
    """Each update handled once, by the replica it was posted to; a copy posted to both
    replicas is handled by one and skipped by the other."""
    outcomes: dict[int, list[tuple[str, str]]] = {}
    for replica in replicas:
        entries = replica.log_entries()
        assert not [e for e in entries if "exception" in e or e["level"] == "ERROR"], entries
        assert "Webhook server stopped" in [e["message"] for e in entries]
        for entry in entries:
            if entry.get("logger") == "bot.updates":
                outcomes.setdefault(entry["update_id"], []).append((replica.name, entry["outcome"]))
    posted = Counter(u for r in replicas for u in r.posted)
    for update_id, times in posted.items():
        seen = outcomes[update_id]
        assert sorted(out for _, out in seen) == ["handled"] + ["skipped"] * (times - 1), seen
    for replica in replicas:
        # Posted to this replica only, handled here: the steps of one dialogue really ran
        # in different processes.
        alone = [u for u in replica.posted if posted[u] == 1]
        assert alone and all(outcomes[u] == [(replica.name, "handled")] for u in alone)
