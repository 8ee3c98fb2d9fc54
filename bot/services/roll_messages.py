"""Where each exam's roll is shown in chat (the teacher's console message), so that a
mark made in the Mini App redraws it too: chat and web are two views of one roll.

Kept in the `fsm_records` table (a key of its own, `roll-message:<exam id>`, that no
dialogue key can take), across restarts and replicas; written only when the console
moves to another message or page, not on every tap."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import FsmRecord

PREFIX = "roll-message:"


@dataclass(frozen=True)
class RollMessage:
    chat_id: int
    message_id: int
    page: int
    locale: str


async def remember(session: AsyncSession, exam_id: int, shown: RollMessage) -> None:
    key = f"{PREFIX}{exam_id}"
    data = {
        "chat_id": shown.chat_id,
        "message_id": shown.message_id,
        "page": shown.page,
        "locale": shown.locale,
    }
    record = await session.get(FsmRecord, key)
    if record is None:
        session.add(FsmRecord(key=key, state=None, data=data))
    elif record.data != data:
        record.data = data


async def where_shown(session: AsyncSession, exam_id: int) -> RollMessage | None:
    record = await session.get(FsmRecord, f"{PREFIX}{exam_id}")
    if record is None:
        return None
    data = record.data
    try:
        return RollMessage(
            int(data["chat_id"]), int(data["message_id"]), int(data["page"]), str(data["locale"])
        )
    except (KeyError, TypeError, ValueError):
        return None
