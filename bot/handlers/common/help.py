"""/help, /lang, and the fallbacks for anything no other handler took."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.db.session import AsyncSession
from bot.handlers.replies import stale
from bot.keyboards.callbacks import LangCB
from bot.keyboards.inline import languages
from bot.services.actors import Actor


def help_text(actor: Actor) -> str:
    lines = [_("<b>What I can do</b>")]
    if actor.student is not None:
        lines += [
            _("/schedule — your upcoming exams and consultations"),
            _("/calendar — the schedule as a calendar file (.ics)"),
            _(
                "/statement — ask the dean's office: another time (time zone), an absence, "
                "or an appeal once graded"
            ),
            _("/statements — your statements and their status"),
            _("/plan — your individual study plan"),
            _("/mydata — what the bot holds about you; unlink your account"),
        ]
    else:
        lines.append(_("/start — link your account to the roster (students)"))
    lines.append(_("/tz — your time zone"))
    if actor.teacher is not None:
        lines.append(
            _("/exams — your exams: conference and Moodle links, and the roll call on the day")
        )
        if actor.student is None:
            lines.append(_("/calendar — the exams you run as a calendar file (.ics)"))
    if actor.can_import:
        lines.append(_("Send a CSV or XLSX file to import the roster or the exam schedule."))
    if actor.is_admin:
        lines.append(_("/status — the outbox of notices"))
        lines.append(_("/semester — the semester's dates (retention of the session's files)"))
        lines.append(_("/unlock N — reopen a confirmed roll"))
    if actor.is_dean or actor.is_admin:
        lines.append(_("/invite — invite a teacher, a dean's office member or an administrator"))
        lines.append(_("/email — the dean's office e-mail that gets a copy of every statement"))
    if actor.is_dean:
        lines.append(_("/inbox — undecided statements"))
        lines.append(_("/additional — the additional session's list"))
    if actor.is_dean or actor.is_admin:
        lines.append(_("/reports — reports as XLSX and CSV"))
        lines.append(_("/templates — the roster, schedule and plan templates to fill in"))
        lines.append(_("/announce — a message to a group, a faculty or an exam's students"))
        lines.append(_("/bind — in a group chat: make it your dean's office chat"))
    lines += [
        _("/lang — language"),
        _("/cancel — stop the current dialogue"),
        _("/help — this list"),
    ]
    return "\n".join(lines)


async def show_help(message: Message, actor: Actor) -> None:
    await message.answer(help_text(actor))


async def choose_language(message: Message) -> None:
    await message.answer(_("Choose your language:"), reply_markup=languages())


async def set_language(
    query: CallbackQuery, callback_data: LangCB, actor: Actor, session: AsyncSession, i18n: I18n
) -> None:
    actor.user.locale = actor.locale = callback_data.code
    with i18n.use_locale(callback_data.code):
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(_("Language: English"))
            await query.message.answer(help_text(actor))


async def not_understood(message: Message, actor: Actor) -> None:
    if message.text and message.text.startswith("/"):
        prefix = _("I don't know this command.")
    else:
        prefix = _("I didn't understand that.")
    await message.answer(prefix + "\n\n" + help_text(actor))


def setup() -> Router:
    router = Router(name="help")
    router.message.register(show_help, Command("help"))
    router.message.register(choose_language, Command("lang"))
    router.callback_query.register(set_language, LangCB.filter())
    return router


def setup_fallback() -> Router:
    router = Router(name="fallback")
    router.message.register(not_understood, F.chat.type == ChatType.PRIVATE)
    router.callback_query.register(stale)  # any press no handler took
    return router
