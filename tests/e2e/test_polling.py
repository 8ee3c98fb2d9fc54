"""Long polling confirms an update to Telegram only once it is handled (bot.polling)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Dispatcher
from aiogram.types import TelegramObject, Update

from bot.app import build_application
from bot.config import Settings
from tests.e2e.conftest import MovableClock
from tests.e2e.fakeapi import FakeBotAPI


def offsets(api: FakeBotAPI, after: int = 0) -> list[int]:
    return [
        int(call.params.get("offset") or 0)
        for call in api.calls[after:]
        if call.method == "getUpdates"
    ]


async def test_a_slow_update_holds_the_offset_until_it_is_handled(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> None:
    app = build_application(settings, clock=clock)
    assert isinstance(app.dispatcher, Dispatcher)
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

    # Outermost, before the unit of work: a transaction held open on SQLite would stop the
    # other update at the database instead.
    app.dispatcher.update.outer_middleware._middlewares.insert(0, hold)
    await app.prepare()
    polling = asyncio.create_task(app.run_polling(handle_signals=False))
    try:
        anna, boris = api.user(7101, language_code="en"), api.user(7102, language_code="en")
        slow = anna.send("/help")
        slow_ids.add(slow["update_id"])
        fast = boris.send("/help")
        # Others are served while the slow one runs ...
        reply = await api.next_message(boris.id, timeout=10)
        assert reply["text"].startswith("What I can do")
        mark = len(api.calls)
        await asyncio.sleep(1.0)  # ... and the bot keeps polling meanwhile
        held = offsets(api, mark)
        assert held, "the bot stopped polling while an update was being handled"
        # No poll confirmed the unfinished update: a kill now leaves it with Telegram.
        assert max(held) <= slow["update_id"] < fast["update_id"]
        assert len(held) <= 1.0 / 0.2 + 2, f"polled {len(held)} times a second while busy"
        assert api.messages(anna.id) == []

        gate.set()
        reply = await api.next_message(anna.id, timeout=10)
        assert reply["text"].startswith("What I can do")
        # Handled: the next poll confirms both, and nothing is handled twice.
        mark = len(api.calls)
        async with asyncio.timeout(10):
            while not any(o > fast["update_id"] for o in offsets(api, mark)):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert len(api.messages(anna.id)) == len(api.messages(boris.id)) == 1
    finally:
        gate.set()
        await app.dispatcher.stop_polling()
        await polling


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

    storage = app.dispatcher.storage
    close_storage = storage.close

    async def closing() -> None:
        order.append("storage closed")
        await close_storage()

    storage.close = closing  # type: ignore[method-assign]
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
