"""/help, /lang, and the fallbacks for anything no other handler took."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.db.session import AsyncSession
from bot.handlers.replies import show, stale
from bot.keyboards.callbacks import LangCB
from bot.services.actors import Actor
from bot.views import help as view


async def show_help(message: Message, actor: Actor) -> None:
    await message.answer(view.help_text(actor))


async def choose_language(message: Message) -> None:
    await show(message, view.language_choice())


async def set_language(
    query: CallbackQuery, callback_data: LangCB, actor: Actor, session: AsyncSession, i18n: I18n
) -> None:
    actor.user.locale = actor.locale = callback_data.code
    with i18n.use_locale(callback_data.code):
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(view.language_set())
            await query.message.answer(view.help_text(actor))


async def not_understood(message: Message, actor: Actor) -> None:
    command = bool(message.text and message.text.startswith("/"))
    await message.answer(view.not_understood(actor, command=command))


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
