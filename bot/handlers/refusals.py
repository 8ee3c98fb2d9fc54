"""The polite per-role fallbacks: a command or a button of a role the sender does not
hold. The role's routers (bot.handlers) let such an update pass them by; it ends here, is
answered with whom the command is for, and changes nothing."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message

from bot.handlers.roles import ADMIN, DEAN, STAFF, STUDENT, TEACHER
from bot.keyboards.callbacks import (
    ROLL_PRESSES,
    AnnounceCB,
    DecideCB,
    ExamCB,
    Listing,
    PageCB,
    ReportCB,
    RescheduleCB,
)
from bot.views import refusals as view
from bot.views.refusals import Refusal

GROUP_CHATS = {ChatType.GROUP, ChatType.SUPERGROUP}


async def not_a_teacher(message: Message) -> None:
    await message.answer(view.refusal(Refusal.TEACHERS))


async def not_a_student(message: Message) -> None:
    await message.answer(view.refusal(Refusal.STUDENTS))


async def not_your_exam(query: CallbackQuery) -> None:
    await query.answer(view.refusal(Refusal.NOT_YOUR_EXAM), show_alert=True)


async def not_an_admin(message: Message) -> None:
    await message.answer(view.refusal(Refusal.ADMINS))


async def not_in_dean_office(message: Message) -> None:
    await message.answer(view.refusal(Refusal.DEAN_OFFICE))


async def not_in_dean_office_pressed(query: CallbackQuery) -> None:
    await query.answer(view.refusal(Refusal.DEAN_OFFICE), show_alert=True)


async def may_not_decide(query: CallbackQuery) -> None:
    await query.answer(view.refusal(Refusal.DECIDE), show_alert=True)


async def may_not_bind(message: Message) -> None:
    await message.answer(view.refusal(Refusal.BIND))


async def no_invites(message: Message) -> None:
    await message.answer(view.refusal(Refusal.INVITES))


async def no_email(message: Message) -> None:
    await message.answer(view.refusal(Refusal.EMAIL))


async def no_reports(message: Message) -> None:
    await message.answer(view.refusal(Refusal.REPORTS))


async def no_reports_pressed(query: CallbackQuery) -> None:
    await query.answer(view.refusal(Refusal.REPORTS), show_alert=True)


async def no_announcements(message: Message) -> None:
    await message.answer(view.refusal(Refusal.ANNOUNCEMENTS))


async def no_announcement_pressed(query: CallbackQuery) -> None:
    await query.answer(view.refusal(Refusal.ANNOUNCE_TO), show_alert=True)


async def no_imports(message: Message) -> None:
    await message.answer(view.refusal(Refusal.IMPORTS))


def setup_private() -> Router:
    """Commands of the roles whose routers serve private chats only."""
    router = Router(name="refusals-private")
    on = router.message.register
    on(not_a_student, Command("schedule", "plan", "statement", "statements", "mydata"), ~STUDENT)
    on(not_a_student, Command("calendar"), ~STUDENT, ~TEACHER)
    on(not_an_admin, Command("status", "unlock", "semester"), ~ADMIN)
    on(no_invites, Command("invite"), ~STAFF)
    on(no_imports, F.document, ~STAFF)
    on(no_imports, Command("templates"), ~STAFF)
    on(not_a_teacher, Command("exams"), ~TEACHER)
    return router


def setup() -> Router:
    """Commands and buttons of the roles whose routers serve any chat, and every role's
    buttons (a press is no message: no chat-type filter applies to it)."""
    router = Router(name="refusals")
    on = router.message.register
    on(not_in_dean_office, Command("inbox", "additional"), ~DEAN)
    on(may_not_bind, Command("bind"), F.chat.type.in_(GROUP_CHATS), ~DEAN)
    on(no_email, Command("email"), ~STAFF)
    on(no_reports, Command("reports"), ~STAFF)
    on(no_announcements, Command("announce"), ~STAFF)
    pressed = router.callback_query.register
    teachers_buttons: tuple[type[CallbackData], ...] = (ExamCB, *ROLL_PRESSES, RescheduleCB)
    for teachers in teachers_buttons:
        pressed(not_your_exam, teachers.filter(), ~TEACHER)
    pressed(not_your_exam, PageCB.filter(F.listing == Listing.EXAMS), ~TEACHER)
    pressed(
        not_in_dean_office_pressed,
        PageCB.filter(F.listing.in_({Listing.INBOX, Listing.ADDITIONAL})),
        ~DEAN,
    )
    pressed(may_not_decide, DecideCB.filter(), ~DEAN)
    pressed(no_reports_pressed, ReportCB.filter(), ~STAFF)
    pressed(no_announcement_pressed, AnnounceCB.filter(), ~STAFF)
    # The students' buttons: the general "no longer valid" (bot.handlers.common.help).
    return router
