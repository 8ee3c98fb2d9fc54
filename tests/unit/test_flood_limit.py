"""The per-user flood limit counts button presses apart, with a larger allowance."""

from __future__ import annotations

from typing import Any

from aiogram.types import Update, User

from bot.middlewares.flood import PRESS_FACTOR, FloodMiddleware

USER = User(id=7, is_bot=False, first_name="Ann")


def message(update_id: int) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": 7, "type": "private"},
                "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
                "text": "hi",
            },
        }
    )


def press(update_id: int) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "callback_query": {
                "id": str(update_id),
                "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
                "chat_instance": "c",
                "data": "x",
            },
        }
    )


async def run(middleware: FloodMiddleware, updates: list[Update]) -> int:
    handled = 0

    async def handler(event: Any, data: dict[str, Any]) -> None:
        nonlocal handled
        handled += 1

    for update in updates:
        await middleware(handler, update, {"event_from_user": USER})
    return handled


async def test_presses_have_their_own_larger_allowance() -> None:
    flood = FloodMiddleware(limit=30, window=10, now=lambda: 100.0)
    # A roll of 40 tapped in a few seconds goes through whole ...
    assert await run(flood, [press(i) for i in range(40)]) == 40
    # ... and leaves the messages' allowance untouched: 30 pass, the 31st does not.
    assert await run(flood, [message(100 + i) for i in range(31)]) == 30
    # Presses stop at three times the limit.
    assert (
        await run(flood, [press(200 + i) for i in range(30 * PRESS_FACTOR)])
        == 30 * PRESS_FACTOR - 40
    )
