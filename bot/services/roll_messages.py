"""Where each exam's roll is shown in chat (the teacher's console message), so that a
mark made in the Mini App redraws it too: chat and web are two views of one roll.

A row per exam (`roll_consoles`), kept across restarts and replicas; written when the
console is opened or turned to another page, not on every tap."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import RollConsole


@dataclass(frozen=True)
class RollMessage:
    chat_id: int
    message_id: int
    page: int
    locale: str


async def remember(session: AsyncSession, exam_id: int, shown: RollMessage) -> None:
    row = await session.get(RollConsole, exam_id)
    if row is None:
        row = RollConsole(exam_id=exam_id)
        session.add(row)
    # Assigned even when equal: SQLAlchemy writes only what changed.
    row.chat_id, row.message_id = shown.chat_id, shown.message_id
    row.page, row.locale = shown.page, shown.locale


async def where_shown(session: AsyncSession, exam_id: int) -> RollMessage | None:
    row = await session.get(RollConsole, exam_id)
    if row is None:
        return None
    return RollMessage(row.chat_id, row.message_id, row.page, row.locale)
