"""How bot.polling runs what it fetched: in order, a bounded number at once, and only
updates that ran to their end are reported finished (to be forgotten by the inbox)."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Message, Update

from bot import polling
from bot.polling import Runner


def update(update_id: int) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1_765_000_000,
                "chat": {"id": 7500, "type": "private"},
                "from": {"id": 7500, "is_bot": False, "first_name": "Анна"},
                "text": str(update_id),
            },
        }
    )


async def test_updates_start_in_order_a_few_at_a_time() -> None:
    dispatcher = Dispatcher()
    started: list[int] = []
    gates = {i: asyncio.Event() for i in range(1, 7)}

    @dispatcher.message()
    async def handle(message: Message) -> None:
        started.append(message.message_id)
        await gates[message.message_id].wait()

    bot = Bot("123456:TEST-token")
    runner = Runner(dispatcher, bot, 2, {})
    runner.add([update(1), update(2), update(3)])
    runner.add([update(4), update(5), update(6)])
    await asyncio.sleep(0.05)
    assert started == [1, 2] and runner.held == 6
    gates[2].set()
    await asyncio.sleep(0.05)
    assert started == [1, 2, 3]
    assert runner.take_finished() == [2]
    assert runner.new([update(3), update(2), update(7)]) == [update(2), update(7)]
    for gate in gates.values():
        gate.set()
    await asyncio.sleep(0.05)
    assert started == [1, 2, 3, 4, 5, 6]
    assert sorted(runner.take_finished()) == [1, 3, 4, 5, 6]
    assert runner.held == 0
    await bot.session.close()


async def test_a_cancelled_update_is_not_finished_and_a_stop_starts_no_more() -> None:
    dispatcher = Dispatcher()
    forever = asyncio.Event()

    @dispatcher.message()
    async def handle(message: Message) -> None:
        await forever.wait()

    bot = Bot("123456:TEST-token")
    runner = Runner(dispatcher, bot, 1, {})
    runner.add([update(1), update(2)])
    await asyncio.sleep(0.05)
    runner.stop()  # polling stopped: 2 waits in the inbox for the next start
    for task in list(dispatcher._handle_update_tasks):
        task.cancel()  # 1 cut short, as by a kill: not handled
    await asyncio.sleep(0.05)
    assert runner.take_finished() == []
    assert not dispatcher._handle_update_tasks  # 2 was never started
    await bot.session.close()


async def test_fetching_pauses_while_too_many_are_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "MAX_HELD", 3)
    dispatcher = Dispatcher()
    gate = asyncio.Event()

    @dispatcher.message()
    async def handle(message: Message) -> None:
        await gate.wait()

    bot = Bot("123456:TEST-token")
    runner = Runner(dispatcher, bot, 10, {})
    runner.add([update(1), update(2), update(3)])
    room = asyncio.create_task(runner.wait_for_room())
    await asyncio.sleep(0.05)
    assert not room.done()
    gate.set()
    await asyncio.wait_for(room, timeout=1)
    await bot.session.close()
