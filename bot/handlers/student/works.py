"""Photos and PDFs a student sends outside any dialogue: written work while its clock runs
(plus the grace), or an oral exam's preparation sheets on the day."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.types import Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.handlers.replies import incoming_file
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.roll import RollRules, accept_work
from bot.views import common as view


async def work_sent(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    assert actor.student is not None
    entry = await incoming_file(message)
    if entry is None:
        return
    result = await accept_work(
        session,
        actor.student,
        entry["kind"],
        file_id=entry["file_id"],
        file_unique_id=entry["file_unique_id"],
        mime_type=entry["mime_type"],
        size=entry["size"],
        media_group_id=entry["media_group_id"],
        now=clock.now(),
        rules=RollRules.of(settings),
        outbox=outbox,
    )
    answer = view.work_answer(result, settings, actor.locale)
    if answer is not None:
        await message.answer(answer)


def setup() -> Router:
    router = Router(name="student-works")
    router.message.filter(StateFilter(None))
    # A spreadsheet is an import attempt: the imports router answers it.
    spreadsheet = F.document.file_name.regexp(r"(?i).*\.(csv|xlsx)$")
    router.message.register(work_sent, F.photo | (F.document & ~spreadsheet))
    return router
