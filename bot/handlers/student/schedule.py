"""/schedule and /calendar: the student's upcoming exams and consultations; /calendar
also gives a teacher theirs."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Student
from bot.db.session import AsyncSession
from bot.domain.timezones import resolve_timezone
from bot.handlers.busy import showing
from bot.handlers.replies import answer_long
from bot.services.actors import Actor
from bot.services.schedule import student_schedule, teacher_schedule
from bot.views.calendar import schedule_ics
from bot.views.html import fmt
from bot.views.texts import schedule_card

# Telegram's limit is 4096 characters a message; cards are split between messages below it.
MESSAGE_BUDGET = 3800


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
        await message.answer(_("You have no upcoming exams or consultations."))
        return
    user_tz = resolve_timezone(actor.user.tz) if actor.user.tz else None
    cards = [schedule_card(item, settings.tz, user_tz, actor.locale) for item in items]
    chunk: list[str] = [fmt(_("<b>Your schedule</b>"))]
    for card in cards:
        if sum(len(c) + 2 for c in chunk) + len(card) > MESSAGE_BUDGET:
            await answer_long(message, "\n\n".join(chunk))
            chunk = []
        chunk.append(card)
    footer = _("Times are shown in the university's time zone.")
    if user_tz is None:
        footer += " " + _("Set yours with /tz to see them in your own time as well.")
    chunk.append(footer + "\n" + _("/calendar — add these to your calendar."))
    # A card alone can outgrow a message (a long place and time, escaped): split it too.
    await answer_long(message, "\n\n".join(chunk))


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
        await message.answer(_("You have no upcoming exams or consultations."))
        return
    async with showing(message, ChatAction.UPLOAD_DOCUMENT):
        data = schedule_ics(items, clock.now(), settings.institution_name)
        await message.answer_document(
            BufferedInputFile(data, filename="exams.ics"),
            caption=_("Your exam schedule: open the file to add it to your calendar."),
        )


async def send_teacher_calendar(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    assert actor.teacher is not None
    items = await teacher_schedule(session, actor.teacher, clock.now())
    if not items:
        await message.answer(_("You have no upcoming exams or consultations to run."))
        return
    data = schedule_ics(items, clock.now(), settings.institution_name, for_teacher=True)
    await message.answer_document(
        BufferedInputFile(data, filename="exams.ics"),
        caption=_(
            "The exams and consultations you run, with the conference links: open the file "
            "to add them to your calendar."
        ),
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
