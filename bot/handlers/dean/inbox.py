"""The dean's office decides statements: buttons on the card, /inbox for what is open."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, User

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Statement
from bot.db.session import AsyncSession
from bot.domain.statements import MAX_COMMENT, Decision, StatementKind, StatementStatus
from bot.domain.timezones import parse_moment
from bot.handlers.prompts import answered, answers_prompt, ask, not_yours, someone_elses_prompt
from bot.handlers.replies import show, stale
from bot.handlers.states import DeanComment, DeanReschedule
from bot.keyboards.callbacks import (
    DecideAction,
    DecideCB,
    InboxOpenCB,
    Listing,
    PageCB,
    RescheduleCB,
)
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.roll import RollRules, additional_session
from bot.services.statements import (
    DecideOutcome,
    MoveOutcome,
    answer_new_start,
    card_again,
    dean_may_decide,
    decide,
    propose_new_start,
    undecided,
)
from bot.views import inbox as view
from bot.views.screen import Screen
from bot.views.texts import no_longer_valid


async def _apply(
    actor: Actor,
    session: AsyncSession,
    statement_id: int,
    action: Decision,
    comment: str | None,
    clock: Clock,
    *,
    outbox: Outbox,
) -> tuple[DecideOutcome, str, Statement | None]:
    outcome, decided = await decide(
        session,
        actor.dean_faculty_ids,
        actor.user.id,
        statement_id=statement_id,
        action=action,
        comment=comment,
        now=clock.now(),
        outbox=outbox,
    )
    who = actor.user.first_name or str(actor.user.id)
    line = view.decided_line(outcome, action, who)
    return outcome, line, decided if outcome is not DecideOutcome.FORBIDDEN else None


def _card(query: CallbackQuery) -> Message | None:
    return query.message if isinstance(query.message, Message) else None


async def approve_pressed(
    query: CallbackQuery,
    callback_data: DecideCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    clock: Clock,
    bot: Bot,
    *,
    outbox: Outbox,
) -> None:
    message = _card(query)
    outcome, line, statement = await _apply(
        actor, session, callback_data.statement_id, Decision.APPROVE, None, clock, outbox=outbox
    )
    if outcome is not DecideOutcome.OK:
        await query.answer(line, show_alert=True)
        return
    await query.answer()
    if message is not None:
        # A time-zone statement keeps a button to set the new time: the office may have
        # to agree it with the teacher first, and the question below may go unanswered.
        retime = (
            statement.id
            if statement is not None and statement.kind == StatementKind.TIMEZONE
            else None
        )
        await message.edit_text(
            f"{message.html_text}\n\n{line}",
            reply_markup=view.retime_markup(retime) if retime is not None else None,
        )
        if retime is not None:
            await _ask_new_start(bot, message, query.from_user, state=state, statement_id=retime)


async def retime_pressed(
    query: CallbackQuery,
    callback_data: DecideCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
) -> None:
    allowed = await dean_may_decide(session, actor.dean_faculty_ids, callback_data.statement_id)
    if allowed is None:
        await query.answer(view.not_your_faculty(), show_alert=True)
        return
    if (
        allowed.kind != StatementKind.TIMEZONE
        or allowed.status != StatementStatus.APPROVED
        or allowed.teacher_confirmed_at is not None
    ):
        # Said at the press, not after the dean has typed a time (the service refuses too).
        await query.answer(view.cannot_reschedule(), show_alert=True)
        return
    await query.answer()
    await _ask_new_start(bot, _card(query), query.from_user, state=state, statement_id=allowed.id)


async def reject_pressed(
    query: CallbackQuery,
    callback_data: DecideCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
) -> None:
    await _ask_comment(
        query,
        callback_data.statement_id,
        Decision.REJECT,
        actor=actor,
        session=session,
        state=state,
        bot=bot,
    )


async def more_pressed(
    query: CallbackQuery,
    callback_data: DecideCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
) -> None:
    await _ask_comment(
        query,
        callback_data.statement_id,
        Decision.MORE,
        actor=actor,
        session=session,
        state=state,
        bot=bot,
    )


async def _ask_comment(
    query: CallbackQuery,
    statement_id: int,
    decision: Decision,
    *,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
) -> None:
    """Rejecting and asking for more take a text: the reason, or what else is needed."""
    message = _card(query)
    # Checked before asking for a reason, not after the dean has typed one: whose it is,
    # and whether another member of the office decided it (or the student withdrew it).
    statement = await dean_may_decide(session, actor.dean_faculty_ids, statement_id)
    if statement is None:
        await query.answer(view.not_your_faculty(), show_alert=True)
        return
    if statement.status != StatementStatus.SUBMITTED:
        await query.answer(view.already_decided(), show_alert=True)
        return
    await state.set_state(DeanComment.text)
    await state.update_data(
        statement_id=statement_id,
        action=decision.value,
        card_chat=message.chat.id if message else None,
        card_message=message.message_id if message else None,
    )
    await query.answer()
    if message is not None:
        await ask(
            bot,
            message.chat,
            query.from_user,
            text=view.comment_prompt(decision, statement_id),
            state=state,
        )


async def _ask_new_start(
    bot: Bot, message: Message | None, who: User, *, state: FSMContext, statement_id: int
) -> None:
    await state.set_state(DeanReschedule.when)
    await state.update_data(statement_id=statement_id)
    if message is not None:
        await ask(bot, message.chat, who, text=view.new_start_prompt(statement_id), state=state)


async def comment_written(
    message: Message,
    bot: Bot,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    data = await state.get_data()
    comment = (message.text or "").strip()
    if len(comment) > MAX_COMMENT:
        # Refused whole, not cut: the student would read half a reason. Asked again.
        await message.answer(view.comment_too_long())
        return
    try:
        decision = Decision(str(data.get("action")))
    except ValueError:  # not ours (a dialogue of an older version): asked anew
        await state.clear()
        await message.answer(no_longer_valid())
        return
    outcome, line, _statement = await _apply(
        actor, session, int(data.get("statement_id", 0)), decision, comment, clock, outbox=outbox
    )
    await answered(message, state)
    await state.clear()
    if outcome is not DecideOutcome.OK:
        await message.answer(line)
        return
    chat, card = data.get("card_chat"), data.get("card_message")
    if chat is not None and card is not None and decision is not Decision.MORE:
        # The card's buttons go: the decision is made (a second press is refused anyway).
        # Asking for more decides nothing: the card stays the way to decide, whether the
        # student answers or not.
        # Held until the commit (bot.middlewares.held): a refused edit is only logged.
        await bot.edit_message_reply_markup(chat_id=chat, message_id=card, reply_markup=None)
    await message.answer(view.with_comment(line, comment))


async def new_start_written(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    moment = parse_moment(message.text or "", settings.tz)
    if moment is None:
        await message.answer(view.moment_expected())
        return
    data = await state.get_data()
    outcome, _statement = await propose_new_start(
        session,
        actor.dean_faculty_ids,
        int(data.get("statement_id", 0)),
        new_start=moment,
        now=clock.now(),
        settings=settings,
        outbox=outbox,
    )
    if outcome is MoveOutcome.IN_PAST:
        await message.answer(view.moment_passed())
        return
    await answered(message, state)
    await state.clear()
    await message.answer(view.rescheduled(outcome, moment, settings, locale=actor.locale))


async def teacher_answered(
    query: CallbackQuery,
    callback_data: RescheduleCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    outcome, statement = await answer_new_start(
        session,
        actor.teacher,
        callback_data.statement_id,
        confirm=callback_data.confirm,
        now=clock.now(),
        settings=settings,
        outbox=outbox,
    )
    if outcome is MoveOutcome.FORBIDDEN or statement is None:
        await query.answer(view.not_your_exam(), show_alert=True)
        return
    if outcome is MoveOutcome.NOT_APPROVED:
        await stale(query)
        return
    await query.answer()
    line = view.teacher_answer_line(outcome)
    if isinstance(query.message, Message):
        await query.message.edit_text(f"{query.message.html_text}\n\n{line}", reply_markup=None)


async def _inbox_page(actor: Actor, session: AsyncSession, settings: Settings, page: int) -> Screen:
    items = await undecided(session, actor.dean_faculty_ids)
    return view.inbox_page(items, page, settings, locale=actor.locale)


async def inbox(message: Message, actor: Actor, session: AsyncSession, settings: Settings) -> None:
    await show(message, await _inbox_page(actor, session, settings, 0))


async def open_pressed(
    query: CallbackQuery,
    callback_data: InboxOpenCB,
    actor: Actor,
    session: AsyncSession,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    """A statement pressed in /inbox: its card comes again, to decide from."""
    message = _card(query)
    if message is None:
        await stale(query)
        return
    private = message.chat.type == ChatType.PRIVATE
    outcome = await card_again(
        session,
        actor.dean_faculty_ids,
        callback_data.statement_id,
        chat_id=message.chat.id,
        user_id=actor.user.id if private else None,
        now=clock.now(),
        outbox=outbox,
    )
    if outcome is not DecideOutcome.OK:
        refusal = (
            view.not_your_faculty()
            if outcome is DecideOutcome.FORBIDDEN
            else view.already_decided()
        )
        await query.answer(refusal, show_alert=True)
        return
    await query.answer(view.card_coming())


async def _additional_page(
    actor: Actor, session: AsyncSession, settings: Settings, clock: Clock, page: int
) -> Screen:
    items = await additional_session(
        session, actor.dean_faculty_ids, clock.now(), rules=RollRules.of(settings)
    )
    return view.additional_page(items, page, settings, locale=actor.locale)


async def additional(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    """The additional session's list: absent for a valid reason, per exam."""
    await show(message, await _additional_page(actor, session, settings, clock, 0))


async def page_pressed(
    query: CallbackQuery,
    callback_data: PageCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """◀ ▶ under /inbox or /additional: the page is drawn anew from the data as it is now."""
    if callback_data.listing is Listing.INBOX:
        screen = await _inbox_page(actor, session, settings, callback_data.page)
    else:
        screen = await _additional_page(actor, session, settings, clock, callback_data.page)
    await query.answer()
    if isinstance(query.message, Message):
        # The n/N button itself edits into the same page: "not modified" counts as done
        # (bot.notify.retry).
        await query.message.edit_text(screen.text, reply_markup=screen.markup)


def setup() -> Router:
    router = Router(name="dean-inbox")
    router.message.register(additional, Command("additional"))
    for action, handler in (
        (DecideAction.APPROVE, approve_pressed),
        (DecideAction.REJECT, reject_pressed),
        (DecideAction.MORE, more_pressed),
        (DecideAction.RETIME, retime_pressed),
    ):
        router.callback_query.register(handler, DecideCB.filter(F.action == action))
    router.message.register(inbox, Command("inbox"))
    router.callback_query.register(open_pressed, InboxOpenCB.filter())
    router.callback_query.register(
        page_pressed, PageCB.filter(F.listing.in_({Listing.INBOX, Listing.ADDITIONAL}))
    )
    # In a group only a reply to the question counts (see bot.handlers.prompts).
    router.message.register(
        new_start_written, DeanReschedule.when, F.text, ~F.text.startswith("/"), answers_prompt
    )
    router.message.register(
        comment_written, DeanComment.text, F.text, ~F.text.startswith("/"), answers_prompt
    )
    return router


def setup_teachers() -> Router:
    """The teacher's answer to the new time the dean's office set (a time-zone statement)."""
    router = Router(name="teacher-reschedule")
    router.callback_query.register(teacher_answered, RescheduleCB.filter())
    return router


def setup_open() -> Router:
    """Anyone in a group: a reply to a question the bot put to someone else is refused."""
    router = Router(name="others-prompts")
    router.message.register(not_yours, someone_elses_prompt)
    return router
