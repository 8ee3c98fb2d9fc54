"""/start: linking a student to the roster, or redeeming an invite link."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import InviteRole
from bot.db.session import AsyncSession
from bot.handlers.common.help import help_text
from bot.handlers.replies import edit_pressed
from bot.handlers.states import Join
from bot.keyboards.callbacks import JoinCB
from bot.keyboards.inline import join_confirm
from bot.notify.menus import CommandMenus
from bot.services.actors import Actor, actor_for
from bot.services.onboarding import (
    LinkOutcome,
    RedeemOutcome,
    confirm_link,
    find_roster_entry,
    login_budget,
    redeem_invite,
)
from bot.services.outbox import Outbox
from bot.services.reminders import plan_faculty, plan_for_student
from bot.views import dates
from bot.views.html import fmt

MAX_FIELD = 64


def _role_name(role: InviteRole | None) -> str:
    if role is InviteRole.TEACHER:
        return _("teacher")
    if role is InviteRole.DEAN:
        return _("dean's office staff")
    return _("administrator")


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
    result = await redeem_invite(session, actor.user, (command.args or "").strip(), clock.now())
    if result.outcome is RedeemOutcome.UNKNOWN:
        await message.answer(_("This invite link is not valid. Ask for a new one."))
        return
    if result.outcome is RedeemOutcome.USED:
        await message.answer(
            _("This invite link has already been used. Ask the administrator for a new one.")
        )
        return
    if result.outcome is RedeemOutcome.TEACHER_TAKEN:
        await message.answer(
            fmt(
                _(
                    "The teacher profile {name} is already linked to another Telegram account. "
                    "Contact the administrator."
                ),
                name=result.name,
            )
        )
        return
    await state.clear()
    menus.refresh_after_commit(session, actor.user.id)  # the menu of the new role
    role = _role_name(result.role)
    text = (
        fmt(_("Welcome! You are now registered as {role}: {name}."), role=role, name=result.name)
        if result.name
        else fmt(_("Welcome! You are now registered as {role}."), role=role)
    )
    actor = await actor_for(session, actor.user, settings.admin_ids)
    for faculty_id in actor.dean_faculty_ids:
        # A new dean without a bound chat is told of missing links privately.
        await plan_faculty(session, faculty_id, clock.now(), settings, outbox=outbox)
    await message.answer(text + "\n\n" + help_text(actor))


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
        await message.answer(
            fmt(
                _("You are linked as {name}, group {group}."),
                name=actor.student.full_name,
                group=actor.student.group.name,
            )
            + "\n\n"
            + help_text(actor)
        )
        return
    if actor.teacher or actor.is_dean or actor.is_admin:
        await message.answer(help_text(actor))
        return
    if not await _attempts_left(message, actor, session, settings, clock):
        return
    await state.set_state(Join.record_book)
    await message.answer(
        fmt(
            _(
                "Hello! I am the exam session bot of {institution}.\n\n"
                "To find you in the roster, send your record-book number (№ зачётной книжки)."
            ),
            institution=settings.institution_name,
        )
    )


async def _attempts_left(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> bool:
    budget = await login_budget(
        session, actor.user.id, clock.now(), settings.login_attempts_per_hour, settings.login_window
    )
    if budget.left == 0 and budget.retry_at is not None:
        await message.answer(
            fmt(
                _("Too many unsuccessful attempts. Try again after {clock} (university time)."),
                clock=dates.clock(budget.retry_at, settings.tz, actor.locale),
            )
        )
        return False
    return True


async def got_record_book(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if not 0 < len(text) <= MAX_FIELD:
        await message.answer(_("That does not look like a record-book number. Try again."))
        return
    await state.update_data(record_book=text)
    await state.set_state(Join.surname)
    await message.answer(_("Now send your surname (as in the roster)."))


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
        await message.answer(_("Please send your surname, or /cancel."))
        return
    data = await state.get_data()
    if surname == data.get("record_book"):
        # The number again (sent twice while the bot was slow to answer): not a failed
        # attempt, just the question once more.
        await message.answer(_("Now send your surname (as in the roster)."))
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
        await message.answer(
            fmt(
                _(
                    "No student with this record-book number and surname was found. "
                    "Check both and send the record-book number again. Attempts left: {left}."
                ),
                left=left,
            )
        )
        return
    if result.outcome is LinkOutcome.TAKEN:
        await state.clear()
        await message.answer(
            _(
                "This roster entry is already linked to another Telegram account. "
                "Please contact your dean's office."
            )
        )
        return
    assert result.student is not None
    await state.set_state(Join.confirm)
    await state.update_data(student_id=result.student.id)
    await message.answer(
        fmt(
            _("Is this you?\n<b>{name}</b>\nGroup {group}, {faculty}"),
            name=result.student.full_name,
            group=result.student.group.name,
            faculty=result.student.group.faculty.name,
        ),
        reply_markup=join_confirm(),
    )


async def join_needs_text(message: Message) -> None:
    await message.answer(_("Please answer with text, or /cancel."))


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
        await edit_pressed(query, _("Let's try again: send /start."))
        return
    result = await confirm_link(session, actor.user, int(data.get("student_id", 0)), clock.now())
    await query.answer()
    if result.outcome is LinkOutcome.LINKED and result.student is not None:
        actor.student = result.student
        if actor.teacher or actor.is_dean or actor.is_admin:  # their own menu gains a student's
            menus.refresh_after_commit(session, actor.user.id)
        await plan_for_student(session, result.student, clock.now(), settings, outbox=outbox)
        await edit_pressed(
            query,
            fmt(
                _("Done! You are linked as {name}, group {group}."),
                name=result.student.full_name,
                group=result.student.group.name,
            ),
        )
        if isinstance(query.message, Message):
            await query.message.answer(help_text(actor))
    elif result.outcome is LinkOutcome.ALREADY:
        await edit_pressed(query, _("Your Telegram account is already linked to a roster entry."))
    elif result.outcome is LinkOutcome.TAKEN:
        await edit_pressed(
            query,
            _(
                "This roster entry is already linked to another Telegram account. "
                "Please contact your dean's office."
            ),
        )
    else:
        await edit_pressed(query, _("Something changed in the roster. Send /start to try again."))


async def join_stale(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid."), show_alert=True)


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
