"""/status: the outbox at a glance, for administrators."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import NoticeStatus
from bot.domain.timezones import format_moment
from bot.services.actors import Actor
from bot.services.reminders import OutboxSummary, outbox_summary


def summary_text(summary: OutboxSummary, settings: Settings, locale: str) -> str:
    lines = [_("<b>Outbox</b>")]
    for status in NoticeStatus:
        lines.append(f"{status.value}: {summary.counts.get(status.value, 0)}")
    if summary.next_due:
        lines.append("")
        lines.append(_("Next due:"))
        for due, kind, chat in summary.next_due:
            lines.append(f"{format_moment(due, settings.tz, locale)} — {escape(kind)} → {chat}")
    return "\n".join(lines)


async def status(message: Message, actor: Actor, session: AsyncSession, settings: Settings) -> None:
    if not actor.is_admin:
        await message.answer(_("This command is for administrators."))
        return
    summary = await outbox_summary(session)
    await message.answer(summary_text(summary, settings, actor.locale))


def setup() -> Router:
    router = Router(name="admin-status")
    router.message.filter(F.chat.type == "private")
    router.message.register(status, Command("status"))
    return router
