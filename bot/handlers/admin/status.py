"""/status: the outbox at a glance; /unlock: reopen a confirmed roll. For administrators."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.config import Settings
from bot.db.session import AsyncSession
from bot.services.actors import Actor
from bot.services.reminders import outbox_summary
from bot.services.roll import unlock_roll
from bot.views import admin as view
from bot.views.texts import summary_text


async def status(message: Message, actor: Actor, session: AsyncSession, settings: Settings) -> None:
    summary = await outbox_summary(session)
    await message.answer(summary_text(summary, settings, actor.locale))


async def unlock(
    message: Message, command: CommandObject, actor: Actor, session: AsyncSession
) -> None:
    try:
        exam_id = int((command.args or "").strip())
    except ValueError:
        await message.answer(view.unlock_usage())
        return
    done = await unlock_roll(session, exam_id)
    await message.answer(view.unlocked(exam_id, done=done))


def setup() -> Router:
    router = Router(name="admin-status")
    router.message.register(status, Command("status"))
    router.message.register(unlock, Command("unlock"))
    return router
