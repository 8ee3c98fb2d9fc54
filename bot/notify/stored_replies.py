"""Replies that Telegram failed after their update committed, kept as an outbox notice.

The update is done (what it recorded is committed); only its answer is missing. The
messages are stored as Telegram would have got them (text, parse mode, buttons), in one
notice of kind `reply`, and the outbox sender delivers them in order, retried through
outages like any notice (bot.notify.sender).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiogram.client.default import Default
from aiogram.methods import SendMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Notice
from bot.db.outage import database_busy, database_unavailable, wait_for_database
from bot.domain.reminders import NoticeKind

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

# Telegram itself keeps an update for a day: an answer later than that answers nothing.
REPLY_LIFETIME = timedelta(days=1)
# Quoting the user's message is left out: by the time the outbox sends, it may be gone.
_NOT_KEPT = frozenset({"chat_id", "reply_parameters", "reply_to_message_id"})


def stored_message(bot: Bot, method: SendMessage) -> dict[str, Any]:
    """The message as JSON, the bot's defaults (parse mode) filled in."""
    values = {
        name: bot.default[value.name] if isinstance(value, Default) else value
        for name, value in method
        if name not in _NOT_KEPT
    }
    return SendMessage(chat_id=0, **values).model_dump(
        mode="json", exclude_none=True, exclude=set(_NOT_KEPT)
    )


def reply_parts(payload: dict[str, Any]) -> list[Callable[[Bot, int], Awaitable[object]]]:
    """One request per stored message, in order, for the outbox sender."""

    def part(params: dict[str, Any]) -> Callable[[Bot, int], Awaitable[object]]:
        async def send(bot: Bot, chat: int) -> object:
            # Stored without a parse mode: plain text, whatever this bot's default is.
            values = {"parse_mode": None, **params, "chat_id": chat}
            return await bot(SendMessage.model_validate(values))

        return send

    return [part(dict(params)) for params in payload.get("messages", [])]


class ReplyOutbox:
    """Stores failed replies for the outbox sender, and wakes it."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._on_stored = on_stored

    async def keep(self, bot: Bot, messages: list[SendMessage]) -> None:
        chat = int(messages[0].chat_id)
        payload = {"messages": [stored_message(bot, m) for m in messages]}
        retries = 0
        while True:
            try:
                async with self._sessionmaker.begin() as session:
                    now = self._clock.now()
                    session.add(
                        Notice(
                            key=f"reply:{chat}:{uuid.uuid4().hex}",
                            kind=NoticeKind.REPLY.value,
                            chat_id=chat,
                            user_id=chat if chat > 0 else None,  # a private chat is its user
                            payload=payload,
                            due_at=now,
                            expires_at=now + REPLY_LIFETIME,
                        )
                    )
                break
            except Exception as exc:
                if not (database_unavailable(exc) or database_busy(exc)) or retries >= 5:
                    raise
                retries += 1
                await wait_for_database(self._sessionmaker.kw["bind"])
        if self._on_stored is not None:
            self._on_stored()
