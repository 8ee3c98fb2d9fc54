"""The announcements' progress messages: edited in place as the outbox sends (sent /
waiting / blocked), then a final count. A chore (bot.notify.chores)."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import User
from bot.services.announcements import Progress, progress, unfinished

log = logging.getLogger(__name__)


def progress_text(number: int, done: Progress) -> str:
    if done.done:
        return _(
            "✅ Announcement №{number} is delivered: {sent} of {total}. Blocked the bot or "
            "failed: {blocked}; not delivered in time: {dropped}."
        ).format(
            number=number,
            sent=done.sent,
            total=done.total,
            blocked=done.blocked,
            dropped=done.dropped,
        )
    return _(
        "📤 Announcement №{number}: sent {sent} of {total}, waiting {pending}, blocked {blocked}."
    ).format(
        number=number, sent=done.sent, total=done.total, pending=done.pending, blocked=done.blocked
    )


class ProgressReporter:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        settings: Settings,
        i18n: I18n,
        clock: Clock,
    ) -> None:
        self._bot = bot
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._i18n = i18n
        self._clock = clock

    async def close(self) -> None:
        await self._bot.session.close()

    async def run_once(self) -> int:
        edited = 0
        async with self._sessionmaker.begin() as session:
            for announcement in await unfinished(session):
                counts = await progress(session, announcement)
                author = await session.get(User, announcement.author_id)
                locale = author.locale if author is not None else self._settings.default_locale
                with self._i18n.context(), self._i18n.use_locale(locale):
                    text = progress_text(announcement.id, counts)
                shown = f"{counts.sent}/{counts.pending}/{counts.blocked}/{counts.dropped}"
                if counts.done:
                    announcement.finished_at = self._clock.now()
                if shown == announcement.progress_shown:
                    continue
                announcement.progress_shown = shown
                assert announcement.progress_chat_id is not None
                assert announcement.progress_message_id is not None
                try:
                    await self._bot.edit_message_text(
                        text,
                        chat_id=announcement.progress_chat_id,
                        message_id=announcement.progress_message_id,
                    )
                    edited += 1
                except TelegramBadRequest as exc:  # deleted by the author, or unchanged
                    log.info("progress of announcement %s not shown: %s", announcement.id, exc)
        return edited
