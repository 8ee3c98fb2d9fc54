"""The process: re-sent updates, restarts mid-dialogue, Redis FSM, commands, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey
from aiogram.types import Message
from sqlalchemy import select

from bot.db.models import DeaneryChat, InviteRole, User
from bot.keyboards.callbacks import JoinCB
from bot.services.outbox import Outbox
from tests.e2e.conftest import TOKEN, BotRunner, Gate, invite_token, note_storage_close, press, say
from tests.e2e.fakeapi import FakeBotAPI
from tests.e2e.test_join import linked_user

ROOT = Path(__file__).resolve().parents[2]


async def test_update_sent_again_after_restart_is_handled_once(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    user = api.user(9001, language_code="en")
    update = user.send("/help")
    await api.next_message(user.id)
    await seeded.settle()
    await seeded.stop()
    await seeded.start()
    # aiogram keeps the offset in memory only, so Telegram sends the update again.
    api.redeliver(update)
    fresh = user.send("/lang")
    reply = await api.next_message(user.id)
    assert reply["text"] == "Choose your language:"
    await seeded.settle()
    helps = [m for m in api.messages(user.id) if m.get("text", "").startswith("What I can do")]
    assert len(helps) == 1
    assert fresh["update_id"] > update["update_id"]


class SlowRelease(BaseEventIsolation):
    """The user's lock given back one slow round trip late (a loaded Redis): what an
    update still does after its unit of work has finished. Notes the moment, and whether
    the storage was closed by then."""

    def __init__(self, inner: BaseEventIsolation, events: list[str]) -> None:
        self._inner = inner
        self._events = events

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        async with self._inner.lock(key):
            try:
                yield
            finally:
                await asyncio.sleep(0.3)
                self._events.append("lock released")

    async def close(self) -> None:
        await self._inner.close()


def watch_stop(runner: BotRunner, events: list[str]) -> Gate:
    """The gate on /help, the slow lock, and the storage's close noted in `events`."""
    assert runner.app is not None
    dispatcher = runner.app.dispatcher
    gate = Gate(lambda event: isinstance(event, Message) and event.text == "/help")
    dispatcher.message.middleware(gate)
    dispatcher.fsm.events_isolation = SlowRelease(dispatcher.fsm.events_isolation, events)
    note_storage_close(dispatcher.fsm.storage, events)
    return gate


def quiet_stop(caplog: pytest.LogCaptureFixture, api: FakeBotAPI, user_id: int) -> None:
    """No error logged (a failed update, an unclosed aiohttp session), no "Sorry"."""
    gc.collect()  # an unclosed session is reported when it is collected
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    said = [m.get("text", "") for m in api.messages(user_id)]
    assert not [text for text in said if text.startswith("Sorry")], said


@pytest.mark.parametrize("redis_url", ["redis", "database"], indirect=True)
async def test_stop_lets_an_update_mid_handler_finish_before_closing(
    api: FakeBotAPI, seeded: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped while /help is in its handler: it finishes whole (its lock given back, one
    slow round trip after its unit of work) before the storage closes; it is confirmed,
    so Telegram's sending it again after the restart changes nothing."""
    caplog.set_level(logging.INFO)
    events: list[str] = []
    gate = watch_stop(seeded, events)
    user = api.user(9011, language_code="en")
    update = user.send("/help")
    await gate.entered.wait()
    stopping = asyncio.create_task(seeded.stop())
    await asyncio.sleep(0.2)  # polling has stopped; the update is still in its handler
    assert not stopping.done()
    gate.opened.set()
    await stopping
    assert events == ["lock released", "storage closed"]
    quiet_stop(caplog, api, user.id)
    await seeded.start()
    api.redeliver(update)
    await seeded.settle()
    helps = [m for m in api.messages(user.id) if m.get("text", "").startswith("What I can do")]
    assert len(helps) == 1
    quiet_stop(caplog, api, user.id)


@pytest.mark.parametrize("redis_url", ["redis", "database"], indirect=True)
async def test_update_cut_short_at_stop_is_handled_once_after_restart(
    api: FakeBotAPI, seeded: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    """/help still in its handler past the grace: cancelled before anything closes (no
    late reply from a stopped bot, no error), not confirmed, and handled once after the
    restart, even though Telegram also sends it again."""
    caplog.set_level(logging.INFO)
    assert seeded.app is not None
    seeded.app.settings = seeded.settings.model_copy(update={"shutdown_grace_seconds": 0.3})
    events: list[str] = []
    gate = watch_stop(seeded, events)
    user = api.user(9012, language_code="en")
    update = user.send("/help")
    await gate.entered.wait()
    await seeded.stop()
    assert events == ["lock released", "storage closed"]
    gate.opened.set()  # too late: a stopped bot says nothing more
    await asyncio.sleep(0.3)
    assert api.messages(user.id) == []
    quiet_stop(caplog, api, user.id)
    assert "1 update(s) cut short at shutdown" in caplog.text
    await seeded.start()
    api.redeliver(update)
    reply = await api.next_message(user.id)
    assert reply["text"].startswith("What I can do")
    await seeded.settle()
    helps = [m for m in api.messages(user.id) if m.get("text", "").startswith("What I can do")]
    assert len(helps) == 1
    quiet_stop(caplog, api, user.id)


async def test_dialogue_survives_a_restart(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(9002, language_code="en")
    await say(api, student, "/start")
    await say(api, student, "2611023")
    await seeded.settle()
    await seeded.stop()
    await seeded.start()
    reply = await say(api, student, "Соколова")
    assert "Соколова Анна Дмитриевна" in reply["text"]
    await seeded.stop()
    await seeded.start()
    await press(api, student, reply, JoinCB(confirm=True).pack())
    assert await linked_user(seeded, "2611023") == 9002


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str | None:
    """TEST_REDIS_URL (the dialogue state in Redis), or with the indirect parameter
    "database" the state in the database as without Redis."""
    if getattr(request, "param", "redis") == "database":
        return None
    return os.environ.get("TEST_REDIS_URL")


async def test_dialogue_in_redis_storage(
    api: FakeBotAPI, seeded: BotRunner, redis_url: str | None
) -> None:
    if not redis_url:
        pytest.skip("Redis not configured: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/15")
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    # Only this student's keys: other tests (and other runs) share the Redis database.
    mine = "fsm:9003:9003:*"

    async def forget() -> None:
        keys = [key async for key in client.scan_iter(mine)]
        if keys:
            await client.delete(*keys)

    try:
        await forget()
        student = api.user(9003, language_code="en")
        await say(api, student, "/start")
        await say(api, student, "2611022")
        assert [k async for k in client.scan_iter(mine)]
        await seeded.stop()
        await seeded.start()
        reply = await say(api, student, "Каримов")
        await press(api, student, reply, JoinCB(confirm=True).pack())
        assert await linked_user(seeded, "2611022") == 9003
    finally:
        await forget()
        await client.aclose()


async def test_dean_binds_the_deanery_chat(api: FakeBotAPI, seeded: BotRunner) -> None:
    group: dict[str, Any] = {"id": -100500, "type": "supergroup", "title": "Деканат лечебного"}
    token = await invite_token(seeded, InviteRole.DEAN, "Лечебный факультет")
    dean = api.user(9004, language_code="en")
    await say(api, dean, f"/start {token}")
    reply = await say(api, dean, "/bind")
    assert "group chat" in reply["text"]
    stranger = api.user(9005, language_code="en")
    after = api.mark()
    stranger.send("/bind", chat=group)
    reply = await api.next_message(group["id"], after=after)
    assert "Only a member of the dean's office" in reply["text"]
    after = api.mark()
    dean.send("/bind", chat=group)
    reply = await api.next_message(group["id"], after=after)
    assert "Лечебный факультет" in reply["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        chat = await session.scalar(select(DeaneryChat).where(DeaneryChat.chat_id == -100500))
        assert chat is not None and chat.bound_by == 9004


async def test_commands_are_registered_per_language(api: FakeBotAPI, seeded: BotRunner) -> None:
    calls = [
        c
        for c in api.calls
        if c.method == "setMyCommands" and c.params.get("scope") == {"type": "default"}
    ]
    by_language = {c.params.get("language_code"): c.params["commands"] for c in calls}
    assert set(by_language) == {None, "ru", "en"}
    assert any(c["command"] == "schedule" for c in by_language["ru"])
    ru_schedule = next(c for c in by_language["ru"] if c["command"] == "schedule")
    en_schedule = next(c for c in by_language["en"] if c["command"] == "schedule")
    assert ru_schedule["description"] != en_schedule["description"]
    assert by_language[None] == by_language["ru"]  # Russian is the default locale


async def test_failing_command_registration_does_not_stop_the_bot(
    api: FakeBotAPI, bot_runner: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    await bot_runner.stop()
    api.fail_next("setMyCommands", status=500, description="Internal Server Error", count=5)
    await bot_runner.start()
    user = api.user(9006, language_code="en")
    reply = await say(api, user, "/help")
    assert "What I can do" in reply["text"]
    assert "could not register the bot's commands" in caplog.text


async def test_real_process_stops_cleanly_on_sigterm(api: FakeBotAPI, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "POLLING_TIMEOUT": "1",
    }
    env.pop("REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        user = api.user(9007, language_code="en")
        after = api.mark()
        user.send("/help")
        reply = await api.next_message(user.id, after=after, timeout=30)
        assert "What I can do" in reply["text"]
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output
    assert b"Polling stopped" in output


async def test_flood_limit_delays_the_reply_instead_of_losing_it(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    user = api.user(9008, language_code="en")
    api.fail_next("sendMessage", status=429, retry_after=1, chat_id=user.id)
    reply = await say(api, user, "/help")
    assert "What I can do" in reply["text"]
    attempts = [c for c in api.calls if c.method == "sendMessage" and c.chat_id == user.id]
    assert [c.ok for c in attempts] == [False, True]
    assert attempts[1].at - attempts[0].at >= 0.9


async def test_a_failing_handler_apologises_and_changes_nothing(
    api: FakeBotAPI, seeded: BotRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.views import common

    def broken(*_args: object) -> str:
        raise RuntimeError("boom")

    user = api.user(9009, language_code="ru")
    await say(api, user, "/tz")
    monkeypatch.setattr(common, "format_clock", broken)  # /tz's answer, drawn by its view
    reply = await say(api, user, "Asia/Omsk")
    assert "что-то пошло не так" in reply["text"].lower()
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        stored = await session.get(User, 9009)
        assert stored is not None and stored.tz is None


def member_update(api: FakeBotAPI, user_id: int, old: str, new: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "U"}
    bot = {"id": 123456, "is_bot": True, "first_name": "Bot", "username": "examinator_test_bot"}
    return api.enqueue_raw(
        {
            "my_chat_member": {
                "chat": {"id": user_id, "type": "private", "first_name": "U"},
                "from": user,
                "date": 1_800_000_000,
                "old_chat_member": {"status": old, "user": bot, "until_date": 0},
                "new_chat_member": {"status": new, "user": bot, "until_date": 0},
            }
        }
    )


async def test_blocking_and_unblocking_the_bot_is_remembered(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    user = api.user(9010, language_code="en")
    await say(api, user, "/help")
    member_update(api, 9010, "member", "kicked")
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        stored = await session.get(User, 9010)
        assert stored is not None and stored.is_active is False
    member_update(api, 9010, "kicked", "member")
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        stored = await session.get(User, 9010)
        assert stored is not None and stored.is_active is True


async def _prepare_due_notices(database_url: str, student_user: int) -> None:
    """A real-time exam ten minutes from now, one linked student: two notices due at once."""
    from datetime import UTC, datetime, timedelta

    from bot.config import Settings
    from bot.db.engine import create_engine, create_sessionmaker
    from bot.db.migrate import upgrade
    from bot.db.models import Student
    from bot.services.imports import import_roster, import_schedule
    from bot.services.reminders import plan_upcoming
    from tests.e2e.conftest import SAMPLES

    settings = Settings(_env_file=None, database_url=database_url)
    start = (datetime.now(UTC) + timedelta(minutes=10)).astimezone(settings.tz)
    schedule = (
        "faculty,group,discipline,kind,form,date,start,duration_min,teacher,link\n"
        f"Лечебный факультет,1101,Биохимия,exam,oral,{start:%Y-%m-%d},{start:%H:%M},60,,"
        "https://my.mts-link.ru/j/1/bio\n"
    ).encode()
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            roster = (SAMPLES / "roster.csv").read_bytes()
            assert (await import_roster(session, "roster.csv", roster)).ok
            assert (await import_schedule(session, "s.csv", schedule, tz=settings.tz)).ok
            session.add(User(id=student_user, first_name="S", locale="en"))
            await session.flush()
            student = await session.scalar(select(Student).where(Student.record_book == "2611001"))
            assert student is not None
            student.user_id = student_user
            await session.flush()
            report = await plan_upcoming(session, datetime.now(UTC), settings, outbox=Outbox())
            assert report.created == 2  # the card (late, so due now) and the join call
    finally:
        await engine.dispose()


async def _notice_statuses(database_url: str) -> list[str]:
    from bot.db.engine import create_engine
    from bot.db.models import Notice

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return sorted((await conn.execute(select(Notice.status))).scalars())
    finally:
        await engine.dispose()


async def test_kill_9_between_claim_and_send_delivers_once_after_restart(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    student = 9020
    await _prepare_due_notices(database_url, student)
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": database_url,
        "POLLING_TIMEOUT": "1",
    }
    env.pop("REDIS_URL", None)

    async def start_bot() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    # Every send fails with 500: the sender claims both notices and keeps retrying them.
    api.fail_next("sendMessage", status=500, count=10_000)
    first = await start_bot()
    try:
        await api.wait_for("sendMessage", chat_id=student, timeout=30)
        assert "claimed" in await _notice_statuses(database_url)
    finally:
        first.kill()  # SIGKILL: no shutdown, the claims stay behind
        await first.wait()
    assert api.delivered(student) == []

    api.clear_failures()
    second = await start_bot()
    try:
        after = api.mark()
        await api.next_message(student, after=after, timeout=30)
        await api.next_message(student, timeout=30)
        await api.idle(quiet=1.0, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), timeout=20)
    texts = [call.params["text"] for call in api.delivered(student)]
    assert len(texts) == 2, texts
    assert sum("Биохимия" in t for t in texts) == 2
    assert await _notice_statuses(database_url) == ["sent", "sent"]
