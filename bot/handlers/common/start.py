"""/start: linking a student to the roster, or redeeming an invite link."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.handlers.replies import edit_pressed, show, stale
from bot.handlers.states import Join
from bot.keyboards.callbacks import JoinCB
from bot.notify.menus import CommandMenus
from bot.services.actors import Actor, actor_for
from bot.services.onboarding import (
    LinkOutcome,
    confirm_link,
    find_roster_entry,
    login_budget,
    redeem_invite,
)
from bot.services.outbox import Outbox
from bot.services.reminders import plan_faculty, plan_for_student
from bot.views import start as view

MAX_FIELD = 64


async def start_with_token(
    message: Message,
    command: CommandObject,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    menus: CommandMenus,
    *,
    outbox: Outbox,
) -> None:
    result = await redeem_invite(session, actor.user, (command.args or "").strip(), now=clock.now())
    refused = view.invite_refused(result)
    if refused is not None:
        await message.answer(refused)
        return
    await state.clear()
    menus.refresh_after_commit(session, actor.user.id)  # the menu of the new role
    actor = await actor_for(session, actor.user, settings.admin_ids)
    for faculty_id in actor.dean_faculty_ids:
        # A new dean without a bound chat is told of missing links privately.
        await plan_faculty(session, faculty_id, clock.now(), settings=settings, outbox=outbox)
    await message.answer(view.welcome(result, actor))


async def start(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
) -> None:
    await state.clear()
    if actor.student is not None:
        await message.answer(view.linked_already(actor.student, actor))
        return
    if actor.teacher or actor.is_dean or actor.is_admin:
        await message.answer(view.help_text(actor))
        return
    if not await _attempts_left(message, actor, session, settings, clock):
        return
    await state.set_state(Join.record_book)
    await message.answer(view.hello(settings))


async def _attempts_left(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> bool:
    budget = await login_budget(
        session,
        actor.user.id,
        clock.now(),
        limit=settings.login_attempts_per_hour,
        window=settings.login_window,
    )
    if budget.left == 0 and budget.retry_at is not None:
        await message.answer(view.too_many_attempts(budget.retry_at, settings, actor.locale))
        return False
    return True


async def got_record_book(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if not 0 < len(text) <= MAX_FIELD:
        await message.answer(view.not_a_record_book())
        return
    await state.update_data(record_book=text)
    await state.set_state(Join.surname)
    await message.answer(view.surname_question())


async def got_surname(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
) -> None:
    surname = (message.text or "").strip()
    if not 0 < len(surname) <= MAX_FIELD:
        await message.answer(view.surname_expected())
        return
    data = await state.get_data()
    if surname == data.get("record_book"):
        # The number again (sent twice while the bot was slow to answer): not a failed
        # attempt, just the question once more.
        await message.answer(view.surname_question())
        return
    result = await find_roster_entry(
        session,
        actor.user,
        str(data.get("record_book", "")),
        surname=surname,
        now=clock.now(),
        limit=settings.login_attempts_per_hour,
        window=settings.login_window,
    )
    if result.outcome is LinkOutcome.LIMITED:
        await state.clear()
        await _attempts_left(message, actor, session, settings, clock)
        return
    if result.outcome is LinkOutcome.NOT_FOUND:
        left = result.budget.left if result.budget else 0
        if left == 0:
            await state.clear()
            await _attempts_left(message, actor, session, settings, clock)
            return
        await state.set_state(Join.record_book)
        await message.answer(view.not_found(left))
        return
    if result.outcome is LinkOutcome.TAKEN:
        await state.clear()
        await message.answer(view.entry_taken())
        return
    assert result.student is not None
    await state.set_state(Join.confirm)
    await state.update_data(student_id=result.student.id)
    await show(message, view.is_this_you(result.student))


async def join_needs_text(message: Message) -> None:
    await message.answer(view.needs_text())


async def join_confirmed(
    query: CallbackQuery,
    callback_data: JoinCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    menus: CommandMenus,
    *,
    outbox: Outbox,
) -> None:
    data = await state.get_data()
    await state.clear()
    if not callback_data.confirm:
        await query.answer()
        await edit_pressed(query, view.try_again())
        return
    result = await confirm_link(
        session, actor.user, int(data.get("student_id", 0)), now=clock.now()
    )
    await query.answer()
    if result.outcome is LinkOutcome.LINKED and result.student is not None:
        actor.student = result.student
        if actor.teacher or actor.is_dean or actor.is_admin:  # their own menu gains a student's
            menus.refresh_after_commit(session, actor.user.id)
        await plan_for_student(
            session, result.student, clock.now(), settings=settings, outbox=outbox
        )
    await edit_pressed(query, view.link_outcome(result.outcome, result.student))
    linked = result.outcome is LinkOutcome.LINKED and result.student is not None
    if linked and isinstance(query.message, Message):
        await query.message.answer(view.help_text(actor))


async def join_stale(query: CallbackQuery) -> None:
    await stale(query)


def setup() -> Router:
    router = Router(name="start")
    router.message.register(start_with_token, CommandStart(deep_link=True))
    router.message.register(start, CommandStart())
    router.message.register(got_record_book, Join.record_book, F.text, ~F.text.startswith("/"))
    router.message.register(got_surname, Join.surname, F.text, ~F.text.startswith("/"))
    router.message.register(join_needs_text, StateFilter(Join), ~F.text)
    router.callback_query.register(join_confirmed, Join.confirm, JoinCB.filter())
    router.callback_query.register(join_stale, JoinCB.filter())
    return router
