"""/plan: the student's individual study plan (ИУП), one card a discipline."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.db.models import Student
from bot.db.session import AsyncSession
from bot.handlers.replies import answer_long
from bot.services.actors import Actor
from bot.services.plans import student_plan
from bot.views.html import fmt
from bot.views.texts import plan_card

# Telegram's limit is 4096 characters a message; cards are split between messages below it.
MESSAGE_BUDGET = 3800


async def show_plan(
    message: Message, actor: Actor, session: AsyncSession, student: Student
) -> None:
    items = await student_plan(session, student.id)
    if not items:
        await message.answer(
            _(
                "You have no individual study plan in the bot. If you study on one, the "
                "dean's office will add it; your exams are in /schedule."
            )
        )
        return
    chunk: list[str] = [fmt(_("<b>Your individual study plan</b>"))]
    for item in items:
        card = plan_card(item, actor.locale)
        if sum(len(c) + 2 for c in chunk) + len(card) > MESSAGE_BUDGET:
            await answer_long(message, "\n\n".join(chunk))
            chunk = []
        chunk.append(card)
    # A card alone can outgrow a message (a long place and time, escaped): split it too.
    await answer_long(message, "\n\n".join(chunk))


def setup() -> Router:
    router = Router(name="student-plan")
    router.message.register(show_plan, Command("plan"))
    return router
