"""/semester: an admin sets the next semester's dates; when it begins, the past session's
recordings and works are to be destroyed (bot.services.semester does it)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.db.session import AsyncSession
from bot.domain.imports import parse_date
from bot.services.actors import Actor
from bot.services.semester import SemesterOutcome, semesters, set_semester
from bot.views import admin as view


async def semester(
    message: Message, command: CommandObject, actor: Actor, session: AsyncSession
) -> None:
    parts = (command.args or "").split()
    if not parts:
        await message.answer(view.semesters_list(await semesters(session)))
        return
    start = parse_date(parts[0]) if len(parts) == 2 else None
    end = parse_date(parts[1]) if len(parts) == 2 else None
    if start is None or end is None:
        await message.answer(view.semester_usage())
        return
    outcome = await set_semester(
        session, start, end, by=message.from_user.id if message.from_user else None
    )
    if outcome is SemesterOutcome.BAD_ORDER:
        await message.answer(view.semester_bad_order())
        return
    await message.answer(view.semester_saved(start, end))


def setup() -> Router:
    router = Router(name="admin-semester")
    router.message.register(semester, Command("semester"))
    return router
