"""Long polling confirms an update to Telegram only once the inbox keeps it, and fetches
each update once (bot.polling)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram.types import TelegramObject, Update
from sqlalchemy import select

from bot import polling
from bot.app import Application, build_application
from bot.config import Settings
from bot.db.models import InboxUpdate
from tests.e2e.conftest import MovableClock, note_storage_close
from tests.e2e.fakeapi import FakeBotAPI, FakeUser


def offsets(api: FakeBotAPI, after: int = 0) -> list[int]:
    return [
        int(call.params.get("offset") or 0)
        for call in api.calls[after:]
        if call.method == "getUpdates"
    ]


def fetched(api: FakeBotAPI) -> list[int]:
    """The ids of every update getUpdates handed out, repeats included."""
    return [
        int(update["update_id"])
        for call in api.calls
        if call.method == "getUpdates" and call.ok
        for update in call.result or []
    ]


Middleware = Callable[
    [Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]], TelegramObject, dict[str, Any]],
    Awaitable[Any],
]


@contextlib.asynccontextmanager
async def polling_app(
    settings: Settings, clock: MovableClock, outermost: Middleware | None = None
) -> AsyncIterator[Application]:
    """The application polling, stopped cleanly (its shutdown included) on the way out."""
    app, polling = await start_polling(settings, clock, outermost)
    try:
        yield app
    finally:
        await app.dispatcher.stop_polling()
        await polling


async def start_polling(
    settings: Settings, clock: MovableClock, outermost: Middleware | None = None
) -> tuple[Application, asyncio.Task[None]]:
    app = build_application(settings, clock=clock)
    if outermost is not None:
        # Before the unit of work: a transaction held open on SQLite would stop the other
        # updates at the database instead.
        app.dispatcher.update.outer_middleware._middlewares.insert(0, outermost)
    await app.prepare()
    return app, asyncio.create_task(app.run_polling(handle_signals=False))


def _same(chat: Any, user_id: int) -> bool:
    return str(chat) == str(user_id)


async def left_in_inbox(app: Application) -> list[int]:
    """The updates still in the inbox (after a clean stop: none, handled or not; an update
    that only read has no processed_updates row to tell it was handled)."""
    try:
        async with app.sessionmaker() as session:
            return list(await session.scalars(select(InboxUpdate.update_id)))
    finally:
        await app.engine.dispose()  # stopped: its connections were closed before this one


async def test_an_update_confirmed_to_telegram_while_running_survives_a_kill(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> None:
    gate = asyncio.Event()
    slow_ids: set[int] = set()

    async def hold(
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update) and event.update_id in slow_ids:
            await gate.wait()  # a handler stuck on a slow database, say
        return await handler(event, data)

    app, polling = await start_polling(settings, clock, hold)
    anna, boris = api.user(7101, language_code="en"), api.user(7102, language_code="en")
    slow = anna.send("/help")
    slow_ids.add(slow["update_id"])
    try:
        fast = boris.send("/help")
        # Others are served while the slow one runs ...
        reply = await api.next_message(boris.id, timeout=10)
        assert reply["text"].startswith("What I can do")
        # ... and the bot long-polls past both: Telegram is told they are confirmed, and
        # neither is fetched (nor parsed) again while the slow one runs.
        async with asyncio.timeout(10):
            while not any(o > fast["update_id"] for o in offsets(api)):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        assert fetched(api).count(slow["update_id"]) == 1
        assert fetched(api).count(fast["update_id"]) == 1
        assert api.messages(anna.id) == []
    finally:
        # The process ends here as a kill leaves it: the running update neither handled
        # nor recorded (its task cancelled before it reaches the database), then stopped.
        for task in list(app.dispatcher._handle_update_tasks):
            task.cancel()
        await app.dispatcher.stop_polling()
        await polling
    assert api.messages(anna.id) == []

    # Telegram will not send it again (the offset confirmed it): the inbox has it.
    async with polling_app(settings, clock) as app:
        reply = await api.next_message(anna.id, timeout=10)
        assert reply["text"].startswith("What I can do")
        await asyncio.sleep(1.5)  # a long poll or so: anything handled twice would show
        assert len(api.messages(anna.id)) == len(api.messages(boris.id)) == 1
    assert await left_in_inbox(app) == []


async def test_each_update_is_fetched_once_while_handlers_take_time(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> None:
    """300 updates from 150 students in three waves, each handler taking 50-350 ms and
    every Bot API call Telegram's round trip: the old polling fetched and parsed the page
    of the oldest running update again every 0.2 s (~100 per update handled)."""
    api.latency = 0.05
    rng = random.Random(11)
    handled: list[int] = []

    async def slow(
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        await asyncio.sleep(rng.uniform(0.05, 0.35))
        result = await handler(event, data)
        assert isinstance(event, Update)
        handled.append(event.update_id)
        return result

    students = [api.user(7200 + i, language_code="en") for i in range(150)]
    async with polling_app(settings, clock, slow) as app:
        sent: list[int] = []
        for wave in range(3):
            for student in students if wave != 1 else students[:75]:
                sent.append(student.send("/help" if wave != 1 else "/lang")["update_id"])
            await asyncio.sleep(0.5)  # the next wave comes while this one runs
        for student in students[75:]:
            sent.append(student.send("/lang")["update_id"])
        async with asyncio.timeout(60):
            while len(handled) < len(sent):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # a long poll or so more: nothing comes back
        assert sorted(handled) == sorted(sent)
        repeats = len(fetched(api)) / len(handled)
        assert repeats <= 1.05, f"{repeats:.2f} updates fetched per update handled"

        def answered(student: FakeUser) -> bool:
            texts = [m.get("text", "") for m in api.messages(student.id)]
            helps = sum(t.startswith("What I can do") for t in texts)
            assert helps <= 2 and texts.count("Choose your language:") <= 1, texts
            return helps == 2 and texts.count("Choose your language:") == 1

        # Replies beyond Telegram's 30/s wait out their 429s (or go by the outbox).
        async with asyncio.timeout(60):
            while not all(answered(s) for s in students):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    assert await left_in_inbox(app) == []


async def test_the_dialogue_storage_closes_after_the_running_updates_finish(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> None:
    app = build_application(settings, clock=clock)
    gate = asyncio.Event()
    order: list[str] = []

    async def hold(
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        order.append("started")
        await gate.wait()
        result = await handler(event, data)
        order.append("handled")
        return result

    note_storage_close(app.dispatcher.storage, order)
    app.dispatcher.update.outer_middleware(hold)  # inside the unit of work: in flight
    await app.prepare()
    polling = asyncio.create_task(app.run_polling(handle_signals=False))
    try:
        user = api.user(7103, language_code="en")
        user.send("/lang")
        async with asyncio.timeout(10):
            while "started" not in order:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        stopping = asyncio.create_task(app.dispatcher.stop_polling())
        await asyncio.sleep(0.3)
        assert "storage closed" not in order  # the update still needs its dialogue state
        gate.set()
        await stopping
        await polling
        assert order == ["started", "handled", "storage closed"]
        assert (await api.next_message(user.id, timeout=5))["text"] == "Choose your language:"
    finally:
        gate.set()
        if not polling.done():
            await app.dispatcher.stop_polling()
            await polling


async def test_an_answer_cut_short_by_a_kill_goes_out_after_the_restart(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> None:
    """/help only reads, so nothing marks it handled: a kill while its answer is on the
    way to Telegram leaves it in the inbox, and the next start answers it (it used to be
    remembered as handled at its commit, and the student was never answered)."""
    app, polling = await start_polling(settings, clock)
    anna = api.user(7301, language_code="en")
    try:
        anna.send("/help")  # her first message writes her user row; the next only reads
        await api.next_message(anna.id, timeout=10)
        api.outage("timeout", 30)  # Telegram hangs: the answer stays on its way
        anna.send("/help")
        async with asyncio.timeout(10):
            while not any(_same(c.chat_id, anna.id) for c in api.hung("sendMessage")):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        # The kill: the running update's task is cancelled mid-send, then all stops.
        for task in list(app.dispatcher._handle_update_tasks):
            task.cancel()
        await app.dispatcher.stop_polling()
        await polling
    finally:
        api.outage_over()
    assert len(api.messages(anna.id)) == 1

    async with polling_app(settings, clock) as app:
        async with asyncio.timeout(10):
            while len(api.messages(anna.id)) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert api.messages(anna.id)[1]["text"].startswith("What I can do")
    assert await left_in_inbox(app) == []


async def test_an_update_that_only_read_is_not_answered_again_after_a_clean_restart(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> None:
    """Those finished since the last page are forgotten at the stop, though no
    processed_updates row tells they were handled."""
    students = [api.user(7400 + i, language_code="en") for i in range(40)]
    async with polling_app(settings, clock) as app:
        for student in students:
            student.send("/help")
        for student in students:
            await api.next_message(student.id, timeout=20)
    assert await left_in_inbox(app) == []

    async with polling_app(settings, clock) as app:
        await asyncio.sleep(1.5)  # a long poll or so: anything handled twice would show
    assert [len(api.messages(s.id)) for s in students] == [1] * len(students)


async def test_an_update_waiting_for_telegram_to_take_its_answer_holds_no_running_slot(
    api: FakeBotAPI, settings: Settings, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only an update's work counts against MAX_RUNNING: while Telegram takes its time with
    the answers (a round trip is ~100 ms, here an outage), the next updates get to work.
    Two slots, eight students: all eight answers are on their way at once, and each still
    reaches its student."""
    monkeypatch.setattr(polling, "MAX_RUNNING", 2)
    students = [api.user(7500 + i, language_code="en") for i in range(8)]
    async with polling_app(settings, clock) as app:
        for student in students:  # the first message writes the user's row; then only reads
            student.send("/help")
        for student in students:
            await api.next_message(student.id, timeout=20)
        api.outage("timeout", 60)
        for student in students:
            student.send("/help")
        async with asyncio.timeout(10):
            while len(api.hung("sendMessage")) < len(students):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert app.dispatcher._handle_update_tasks  # still running: their answers are not in
        api.outage_over()
        for student in students:
            async with asyncio.timeout(30):
                while len(api.messages(student.id)) < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
    assert await left_in_inbox(app) == []
