"""/status: the outbox at a glance; /unlock: reopen a confirmed roll. For administrators."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import NoticeStatus
from bot.domain.reminders import NoticeKind
from bot.domain.timezones import format_moment
from bot.services.actors import Actor
from bot.services.reminders import OutboxSummary, outbox_summary
from bot.services.roll import unlock_roll
from bot.views.html import Html, fmt, join_lines


def summary_text(summary: OutboxSummary, settings: Settings, locale: str) -> Html:
    lines: list[object] = [fmt(_("<b>Outbox</b>"))]
    for status in NoticeStatus:
        lines.append(f"{status.value}: {summary.counts.get(status.value, 0)}")
    if summary.mail:
        lines.append(
            fmt(
                _("E-mail to the dean's offices: {pending} pending, {sent} sent, {failed} failed"),
                pending=summary.mail.get(NoticeStatus.PENDING, 0)
                + summary.mail.get(NoticeStatus.CLAIMED, 0),
                sent=summary.mail.get(NoticeStatus.SENT, 0),
                failed=summary.mail.get(NoticeStatus.FAILED, 0),
            )
        )
        if summary.mail_error:
            lines.append(fmt(_("Last e-mail error: {error}"), error=summary.mail_error[:300]))
    if summary.next_due:
        lines.append("")
        lines.append(_("Next due:"))
        for due, kind, chat in summary.next_due:
            # An e-mail has no chat: its address is the faculty's, looked up when it goes.
            target = "✉️" if kind == NoticeKind.STATEMENT_EMAIL else chat
            lines.append(fmt("{} — {} → {}", format_moment(due, settings.tz, locale), kind, target))
    return join_lines(lines)


async def status(message: Message, actor: Actor, session: AsyncSession, settings: Settings) -> None:
    if not actor.is_admin:
        await message.answer(_("This command is for administrators."))
        return
    summary = await outbox_summary(session)
    await message.answer(summary_text(summary, settings, actor.locale))


async def unlock(
    message: Message, command: CommandObject, actor: Actor, session: AsyncSession
) -> None:
    if not actor.is_admin:
        await message.answer(_("This command is for administrators."))
        return
    try:
        exam_id = int((command.args or "").strip())
    except ValueError:
        await message.answer(_("Send /unlock and the exam's number, e.g. /unlock 42."))
        return
    if not await unlock_roll(session, exam_id):
        await message.answer(
            fmt(_("Exam {number} does not exist or its roll is not confirmed."), number=exam_id)
        )
        return
    await message.answer(
        fmt(
            _("The roll of exam {number} is open again; the teacher can correct and confirm it."),
            number=exam_id,
        )
    )


def setup() -> Router:
    router = Router(name="admin-status")
    router.message.filter(F.chat.type == "private")
    router.message.register(status, Command("status"))
    router.message.register(unlock, Command("unlock"))
    return router
