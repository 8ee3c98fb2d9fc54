"""/plan: the student's individual study plan (ИУП), one card a discipline."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.db.models import Student
from bot.db.session import AsyncSession
from bot.handlers.replies import answer_long
from bot.services.actors import Actor
from bot.services.plans import student_plan
from bot.views import schedule as view


async def show_plan(
    message: Message, actor: Actor, session: AsyncSession, student: Student
) -> None:
    items = await student_plan(session, student.id)
    if not items:
        await message.answer(view.no_plan())
        return
    for text in view.plan_messages(items, actor.locale):
        await answer_long(message, text)


def setup() -> Router:
    router = Router(name="student-plan")
    router.message.register(show_plan, Command("plan"))
    return router
