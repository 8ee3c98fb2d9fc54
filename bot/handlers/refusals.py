"""The polite per-role fallbacks: a command or a button of a role the sender does not
hold. The role's routers (bot.handlers) let such an update pass them by; it ends here, is
answered with whom the command is for, and changes nothing."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.handlers.replies import not_a_student
from bot.handlers.roles import ADMIN, DEAN, STAFF, STUDENT, TEACHER
from bot.keyboards.callbacks import (
    ROLL_BUTTONS,
    AnnounceCB,
    DecideCB,
    ExamCB,
    Listing,
    PageCB,
    ReportCB,
    RescheduleCB,
)

GROUP_CHATS = {ChatType.GROUP, ChatType.SUPERGROUP}


async def not_a_teacher(message: Message) -> None:
    await message.answer(
        _("This command is for teachers. Ask the administrator for an invite link.")
    )


async def not_your_exam(query: CallbackQuery) -> None:
    await query.answer(_("This is not one of your exams."), show_alert=True)


async def not_an_admin(message: Message) -> None:
    await message.answer(_("This command is for administrators."))


async def not_in_dean_office(message: Message) -> None:
    await message.answer(_("This command is for the dean's office."))


async def not_in_dean_office_pressed(query: CallbackQuery) -> None:
    await query.answer(_("This command is for the dean's office."), show_alert=True)


async def may_not_decide(query: CallbackQuery) -> None:
    await query.answer(
        _("Only the dean's office of the student's faculty can decide this."), show_alert=True
    )


async def may_not_bind(message: Message) -> None:
    await message.answer(_("Only a member of the dean's office can bind this chat."))


async def no_invites(message: Message) -> None:
    await message.answer(_("Only the dean's office or an administrator can make invites."))


async def no_email(message: Message) -> None:
    await message.answer(_("Only the dean's office or an administrator can set this."))


async def no_reports(message: Message) -> None:
    await message.answer(_("Reports are for the dean's office and administrators."))


async def no_reports_pressed(query: CallbackQuery) -> None:
    await query.answer(_("Reports are for the dean's office and administrators."), show_alert=True)


async def no_announcements(message: Message) -> None:
    await message.answer(_("Announcements are for the dean's office and administrators."))


async def no_announcement_pressed(query: CallbackQuery) -> None:
    await query.answer(_("You can only write to your own faculty's students."), show_alert=True)


async def no_imports(message: Message) -> None:
    await message.answer(
        _("I accept roster and schedule files only from the dean's office or an administrator.")
    )


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
    teachers_buttons: tuple[type[CallbackData], ...] = (ExamCB, *ROLL_BUTTONS, RescheduleCB)
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
