"""/bind in a group chat: a dean makes it the faculty's dean's-office chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Faculty
from bot.db.session import AsyncSession
from bot.handlers.replies import show, stale
from bot.keyboards.callbacks import BindCB
from bot.notify.menus import CommandMenus
from bot.services.actors import Actor
from bot.services.onboarding import bind_deanery_chat, dean_faculties, deanery_chat_id
from bot.services.outbox import Outbox
from bot.services.reminders import plan_faculty
from bot.views import chat as view

GROUP_CHATS = {"group", "supergroup"}


async def bind_here(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    menus: CommandMenus,
    *,
    outbox: Outbox,
) -> None:
    own = await dean_faculties(session, actor.dean_faculty_ids)
    if len(own) > 1:
        await show(message, view.which_faculty(own))
        return
    before = await deanery_chat_id(session, own[0].id)
    faculty = await bind_deanery_chat(
        session,
        actor.dean_faculty_ids,
        own[0].id,
        chat_id=message.chat.id,
        title=message.chat.title or "",
        bound_by=actor.user.id,
        now=clock.now(),
    )
    if faculty is None:  # the chat is another faculty's dean's office chat
        await message.answer(view.bound_elsewhere())
        return
    _menus_after(menus, session, message.chat.id, before)
    await _bound(message, faculty, session, settings, clock, outbox=outbox)


def _menus_after(
    menus: CommandMenus, session: AsyncSession, chat_id: int, before: int | None
) -> None:
    """This chat gets the dean's office menu; the chat it replaces, the plain group one."""
    menus.refresh_after_commit(
        session, chat_id, *([before] if before not in (None, chat_id) else [])
    )


async def _bound(
    message: Message,
    faculty: Faculty | None,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    if faculty is None:
        return
    # Notices for the dean's office now go to this chat.
    await plan_faculty(session, faculty.id, clock.now(), settings=settings, outbox=outbox)
    await message.answer(view.bound(faculty))


async def bind_choice(
    query: CallbackQuery,
    callback_data: BindCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    menus: CommandMenus,
    *,
    outbox: Outbox,
) -> None:
    message = query.message
    if not isinstance(message, Message) or message.chat.type not in GROUP_CHATS:
        await stale(query)
        return
    before = await deanery_chat_id(session, callback_data.faculty_id)
    faculty = await bind_deanery_chat(
        session,
        actor.dean_faculty_ids,
        callback_data.faculty_id,
        chat_id=message.chat.id,
        title=message.chat.title or "",
        bound_by=actor.user.id,
        now=clock.now(),
    )
    if faculty is None:
        await query.answer(view.not_this_faculty(), show_alert=True)
        return
    _menus_after(menus, session, message.chat.id, before)
    await query.answer()
    await message.edit_reply_markup(reply_markup=None)
    await _bound(message, faculty, session, settings, clock, outbox=outbox)


async def bind_in_private(message: Message) -> None:
    await message.answer(view.bind_in_a_group())


def setup_dean() -> Router:
    router = Router(name="dean-bind")
    router.message.register(bind_here, Command("bind"), F.chat.type.in_(GROUP_CHATS))
    return router


def setup() -> Router:
    """Open to anyone: the service checks the faculty chosen is the presser's."""
    router = Router(name="dean-chat")
    router.callback_query.register(bind_choice, BindCB.filter())
    router.message.register(bind_in_private, Command("bind"), F.chat.type == "private")
    return router
