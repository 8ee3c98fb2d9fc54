"""/schedule and /calendar: the student's upcoming exams and consultations; /calendar
also gives a teacher theirs."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Student
from bot.db.session import AsyncSession
from bot.domain.timezones import resolve_timezone
from bot.handlers.busy import showing
from bot.handlers.replies import answer_long
from bot.services.actors import Actor
from bot.services.schedule import student_schedule, teacher_schedule
from bot.views import schedule as view
from bot.views.calendar import schedule_ics


async def show_schedule(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    student: Student,
) -> None:
    items = await student_schedule(session, student, clock.now())
    if not items:
        await message.answer(view.nothing_ahead())
        return
    user_tz = resolve_timezone(actor.user.tz) if actor.user.tz else None
    for text in view.schedule_messages(items, settings, user_tz, locale=actor.locale):
        await answer_long(message, text)


async def send_calendar(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    student: Student,
) -> None:
    items = await student_schedule(session, student, clock.now())
    if not items:
        await message.answer(view.nothing_ahead())
        return
    async with showing(message, ChatAction.UPLOAD_DOCUMENT):
        data = schedule_ics(items, clock.now(), settings.institution_name)
        await message.answer_document(
            BufferedInputFile(data, filename="exams.ics"),
            caption=view.calendar_caption(),
        )


async def send_teacher_calendar(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    assert actor.teacher is not None
    items = await teacher_schedule(session, actor.teacher, clock.now())
    if not items:
        await message.answer(view.nothing_ahead(to_run=True))
        return
    data = schedule_ics(items, clock.now(), settings.institution_name, for_teacher=True)
    await message.answer_document(
        BufferedInputFile(data, filename="exams.ics"),
        caption=view.calendar_caption(for_teacher=True),
    )


def setup() -> Router:
    router = Router(name="student-schedule")
    router.message.register(show_schedule, Command("schedule"))
    router.message.register(send_calendar, Command("calendar"))
    return router


def setup_teachers() -> Router:
    """/calendar of a teacher who is no student: the exams they run (a student's wins)."""
    router = Router(name="teacher-calendar")
    router.message.register(send_teacher_calendar, Command("calendar"))
    return router
