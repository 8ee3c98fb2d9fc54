"""The polling inbox (bot.polling.Inbox): updates kept as Telegram sent them, replayed
after a restart unless handled, forgotten once finished."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.types import Update
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_sessionmaker
from bot.db.models import InboxUpdate, ProcessedUpdate
from bot.polling import Inbox

TRICKY = "Д'Артаньян & <b>Портос</b> \"Атос\" — 'Арамис'"


def message(update_id: int, text: str, **extra: Any) -> dict[str, Any]:
    user = {"id": 7300 + update_id, "is_bot": False, "first_name": TRICKY, "language_code": "ru"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_765_000_000,
            "chat": {"id": user["id"], "type": "private", "first_name": TRICKY},
            "from": user,
            "text": text,
            **extra,
        },
    }


def callback(update_id: int) -> dict[str, Any]:
    user = {"id": 7400, "is_bot": False, "first_name": "Анна"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": "cb-1",
            "from": user,
            "chat_instance": "ci",
            "data": "roll:mark:12:present",
            "message": {
                "message_id": 9,
                "date": 1_765_000_000,
                "chat": {"id": 7400, "type": "private"},
                "from": {"id": 1, "is_bot": True, "first_name": "Examinator"},
                "text": "Roll",
            },
        },
    }


async def test_kept_updates_come_back_as_sent_unless_handled(engine: AsyncEngine) -> None:
    sessionmaker = create_sessionmaker(engine)
    inbox = Inbox(sessionmaker)
    bot = Bot("123456:TEST-token")
    raw = [
        message(101, "/help", entities=[{"type": "bot_command", "offset": 0, "length": 5}]),
        message(102, TRICKY),
        callback(103),
        message(104, "handled already"),
    ]
    updates = [Update.model_validate(r, context={"bot": bot}) for r in raw]
    await inbox.keep(updates, finished=[])
    await inbox.keep(updates[1:2], finished=[])  # Telegram sent one again: no second row
    async with sessionmaker.begin() as session:
        session.add(ProcessedUpdate(update_id=104))

    back = await inbox.unfinished(bot)

    assert [u.update_id for u in back] == [101, 102, 103]
    assert back == updates[:3]
    assert [u.model_dump(by_alias=True, exclude_unset=True) for u in back] == raw[:3]
    assert back[1].message is not None and back[1].message.from_user is not None
    assert back[1].message.from_user.first_name == TRICKY
    async with sessionmaker() as session:
        kept = await session.scalars(select(InboxUpdate.update_id).order_by(InboxUpdate.update_id))
        assert list(kept) == [101, 102, 103]  # the handled one is gone

    # Finished ones are forgotten in the same write that keeps the next page.
    await inbox.keep([Update.model_validate(message(105, "next"))], finished=[101, 103])
    async with sessionmaker() as session:
        kept = await session.scalars(select(InboxUpdate.update_id).order_by(InboxUpdate.update_id))
        assert list(kept) == [102, 105]
    await inbox.keep([], finished=[102, 105])
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(InboxUpdate)) == 0
    await bot.session.close()
