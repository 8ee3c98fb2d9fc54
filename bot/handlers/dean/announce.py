"""/announce: a dean (own faculty) or an admin writes to a group, a faculty or one exam's
students: choose, write (text, or a photo/document with a caption), preview, send. The
progress message then updates itself (bot.notify.progress)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession, async_sessionmaker
from bot.handlers.prompts import answered, answers_prompt, ask
from bot.handlers.replies import answer_long, show
from bot.handlers.states import Announce
from bot.keyboards.callbacks import AnnounceActCB, AnnounceAction, AnnounceCB
from bot.middlewares.held import after_commit
from bot.services.actors import Actor
from bot.services.announcements import (
    MAX_TEXT,
    AnnounceOutcome,
    Target,
    announce,
    audience,
    show_progress_in,
    targets,
)
from bot.services.outbox import Outbox
from bot.views import announcements as view
from bot.views.announcements import outcome_text


def _scope(actor: Actor) -> frozenset[int] | None:
    return None if actor.is_admin else actor.dean_faculty_ids


async def start(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    found = await targets(session, _scope(actor), clock.now())
    await show(message, view.targets_screen(found, settings, actor.locale))


async def chose_target(
    query: CallbackQuery,
    callback_data: AnnounceCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
) -> None:
    target = callback_data.target
    who = await audience(session, target, callback_data.target_id, faculty_ids=_scope(actor))
    if who is None:
        await query.answer(outcome_text(AnnounceOutcome.FORBIDDEN), show_alert=True)
        return
    if not who.users:
        await query.answer(outcome_text(AnnounceOutcome.NOBODY), show_alert=True)
        return
    await state.set_state(Announce.text)
    await state.set_data({"target": target.value, "target_id": callback_data.target_id})
    await query.answer()
    if isinstance(query.message, Message):
        text = view.content_question(who)
        await ask(bot, query.message.chat, query.from_user, text=text, state=state)


async def got_content(
    message: Message, actor: Actor, session: AsyncSession, state: FSMContext
) -> None:
    text = message.text or message.caption or ""
    file_kind = file_id = None
    if message.photo:
        file_kind, file_id = "photo", message.photo[-1].file_id
    elif message.document:
        file_kind, file_id = "document", message.document.file_id
    elif message.text is None:
        await message.answer(view.content_expected())
        return
    if not text.strip() and file_id is None:
        await message.answer(outcome_text(AnnounceOutcome.EMPTY))
        return
    if len(text) > MAX_TEXT:
        await message.answer(outcome_text(AnnounceOutcome.TOO_LONG))
        return
    data = await state.get_data()
    who = await audience(
        session, Target(data["target"]), int(data["target_id"]), faculty_ids=_scope(actor)
    )
    if who is None:
        await state.clear()
        await message.answer(outcome_text(AnnounceOutcome.FORBIDDEN))
        return
    await answered(message, state)
    await state.update_data(text=text, file_kind=file_kind, file_id=file_id)
    await state.set_state(Announce.preview)
    preview = view.preview(who, text, with_file=file_kind is not None)
    # Escaped, a text within MAX_TEXT can still outgrow one message: the buttons go last.
    await answer_long(message, preview.text, reply_markup=preview.markup)


async def preview_cancelled(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(view.cancelled())


async def preview_send(
    query: CallbackQuery,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    outbox: Outbox,
) -> None:
    data = await state.get_data()
    await state.clear()
    outcome, announcement = await announce(
        session,
        query.from_user.id,
        _scope(actor),
        target=Target(data.get("target", Target.GROUP)),
        target_id=int(data.get("target_id", 0)),
        text=str(data.get("text", "")),
        file_kind=data.get("file_kind"),
        file_id=data.get("file_id"),
        now=clock.now(),
        outbox=outbox,
    )
    if outcome is not AnnounceOutcome.OK or announcement is None:
        await query.answer(outcome_text(outcome), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        text = view.sending(announcement.id, announcement.recipients)
        origin, number = query.message, announcement.id

        async def show_progress() -> None:
            # After the commit (its id is needed): the message is edited as it goes out.
            shown = await origin.answer(text)
            async with sessionmaker.begin() as kept:
                await show_progress_in(kept, number, shown.chat.id, message_id=shown.message_id)

        after_commit(show_progress)


def setup() -> Router:
    router = Router(name="dean-announce")
    router.message.register(start, Command("announce"))
    router.callback_query.register(chose_target, AnnounceCB.filter())
    # In a group only a reply to the question counts (see bot.handlers.prompts).
    router.message.register(got_content, Announce.text, ~F.text.startswith("/"), answers_prompt)
    router.callback_query.register(
        preview_send, Announce.preview, AnnounceActCB.filter(F.action == AnnounceAction.SEND)
    )
    router.callback_query.register(
        preview_cancelled, Announce.preview, AnnounceActCB.filter(F.action == AnnounceAction.CANCEL)
    )
    return router
