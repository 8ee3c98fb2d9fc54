"""/statement and /statements: a student files a time-zone or absence statement.

The draft is kept in the FSM (database or Redis), so a restart in the middle loses
nothing; an album of photos arrives as separate updates and all of them join the draft.
"""

from __future__ import annotations

import math
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Student
from bot.db.session import AsyncSession
from bot.domain.statements import (
    MAX_FILES,
    MAX_WINDOW,
    AppealProblem,
    StatementDraft,
    StatementKind,
    StatementStatus,
    appeal_problem,
    documents_problem,
    room_for_documents,
    text_problem,
)
from bot.domain.timezones import COMMON_ZONES, parse_timezone, zone_label
from bot.handlers.replies import (
    answer_long,
    edit_into,
    edit_pressed,
    incoming_file,
    next_page,
    show,
    stale,
    unknown_zone_text,
)
from bot.handlers.states import StatementForm
from bot.keyboards.callbacks import (
    Listing,
    PageCB,
    StmtActCB,
    StmtAction,
    StmtAddDocsCB,
    StmtExamCB,
    StmtKindCB,
    StmtReasonCB,
    StmtViolationCB,
    StmtWithdrawCB,
    StmtZoneCB,
    StmtZonePickCB,
)
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.statements import (
    StatementRules,
    SubmitOutcome,
    add_documents,
    announce_statement,
    can_add_documents,
    eligible_exams,
    open_for_documents,
    student_statements,
    submit,
    take_zone,
    withdraw,
)
from bot.views import statements as view
from bot.views.paging import clamp

# Statements a page: each is its own message with its own buttons.
STATEMENTS_PAGE = 10


async def start_statement(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    student: Student,
) -> None:
    eligible = await eligible_exams(session, student, clock.now(), settings=settings)
    if not eligible:
        await message.answer(view.no_exam_to_file())
        return
    await state.clear()
    await state.set_state(StatementForm.exam)
    await show(
        message, view.exam_choice(eligible, settings, locale=actor.locale, zone=actor.user.tz)
    )


async def chose_exam(
    query: CallbackQuery,
    callback_data: StmtExamCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
) -> None:
    eligible = (
        {
            e.exam.id: e
            for e in await eligible_exams(session, actor.student, clock.now(), settings=settings)
        }
        if actor.student is not None
        else {}
    )
    chosen = eligible.get(callback_data.exam_id)
    if chosen is None:
        await stale(query)
        return
    # Also pressed on the day-before card, possibly in the middle of another dialogue:
    # the card itself stays as it is, the questions come as a new message.
    from_menu = await state.get_state() == StatementForm.exam.state
    await query.answer()
    window = view.appeal_window(chosen, clock.now(), settings, locale=actor.locale)
    if not chosen.kinds:
        await state.clear()
        await edit_pressed(query, view.window_closed(chosen, window))
        return
    await state.set_data({"exam_id": chosen.exam.id, "files": [], "acked_groups": []})
    await state.set_state(StatementForm.kind)
    screen = view.kind_choice(chosen, window)
    if from_menu:
        await edit_into(query, screen)
    elif isinstance(query.message, Message):
        await show(query.message, screen)


async def chose_kind(
    query: CallbackQuery,
    callback_data: StmtKindCB,
    actor: Actor,
    state: FSMContext,
    clock: Clock,
) -> None:
    kind = callback_data.kind
    await state.update_data(kind=kind)
    await query.answer()
    if kind is StatementKind.APPEAL:
        await state.set_state(StatementForm.violation)
        await edit_into(query, view.violation_choice())
    elif kind is StatementKind.TIMEZONE:
        await state.set_state(StatementForm.zone)
        now = clock.now()
        zones = [(zone, zone_label(zone, now, actor.locale)) for zone in COMMON_ZONES]
        await edit_into(query, view.zone_question(actor.user.tz, zones))
    else:
        await state.set_state(StatementForm.reason)
        await edit_into(query, view.reason_question())


async def _chosen(state: FSMContext, field: str, value: str) -> None:
    """A reason or a violation pressed: kept in the draft, the description asked next."""
    await state.update_data({field: value})
    await state.set_state(StatementForm.text)


async def chose_violation(
    query: CallbackQuery, callback_data: StmtViolationCB, state: FSMContext
) -> None:
    await _chosen(state, "violation", callback_data.violation)
    await query.answer()
    await edit_pressed(query, view.appeal_prompt(callback_data.violation))


async def violation_needed(message: Message) -> None:
    """Text typed before a violation is chosen: no appeal without one (the table)."""
    await show(message, view.violation_needed())


async def _ask_window(target: Message, state: FSMContext, zone: str) -> None:
    await state.update_data(time_zone=zone)
    await state.set_state(StatementForm.window)
    await target.answer(view.window_question(zone))


async def zone_typed(message: Message, state: FSMContext) -> None:
    zone = parse_timezone(message.text or "")
    if zone is None:
        await message.answer(unknown_zone_text())
        return
    await _ask_window(message, state, zone)


async def zone_kept(query: CallbackQuery, actor: Actor, state: FSMContext) -> None:
    await query.answer()
    if actor.user.tz and isinstance(query.message, Message):
        await _ask_window(query.message, state, actor.user.tz)


async def zone_picked(
    query: CallbackQuery, callback_data: StmtZonePickCB, state: FSMContext
) -> None:
    """A zone from the list: the question becomes the next one (its buttons go)."""
    zone = parse_timezone(callback_data.zone)
    if zone is None:
        await stale(query)
        return
    await query.answer()
    await state.update_data(time_zone=zone)
    await state.set_state(StatementForm.window)
    await edit_pressed(query, view.window_question(zone))


async def window_typed(message: Message, state: FSMContext) -> None:
    window = (message.text or "").strip()
    if len(window) > MAX_WINDOW:
        # Refused, not cut: the dean's office would read a window that ends mid-way.
        await message.answer(view.too_long(MAX_WINDOW))
        return
    await state.update_data(window=window)
    await state.set_state(StatementForm.text)
    await show(message, view.anything_to_add())


async def chose_reason(
    query: CallbackQuery, callback_data: StmtReasonCB, state: FSMContext
) -> None:
    await _chosen(state, "reason", callback_data.reason)
    await query.answer()
    await edit_pressed(query, view.describe_reason())


async def text_typed(message: Message, state: FSMContext) -> None:
    await _described(message, state, (message.text or "").strip())


async def described_with_files(message: Message, state: FSMContext) -> None:
    """A photo or document sent with the description as its caption (an album carries it
    on its first photo): the caption is the description, the file the first document,
    and the album's other photos, arriving next, join the same draft."""
    kind = StatementDraft.from_form(await state.get_data()).kind
    if kind is not StatementKind.ABSENCE and kind is not StatementKind.APPEAL:
        await needs_text(message, state)
        return
    if await _described(message, state, (message.caption or "").strip()):
        await file_sent(message, state)


async def _described(message: Message, state: FSMContext, text: str) -> bool:
    """The description taken (or why not, said); True when documents are asked next."""
    if text_problem(text) is not None:
        await message.answer(view.too_long())
        return False
    data = await state.get_data()
    draft = StatementDraft.from_form(data)
    problem = appeal_problem(draft.violation, text) if draft.kind is StatementKind.APPEAL else None
    if problem is AppealProblem.NO_VIOLATION:
        # A draft from before the choice existed (kept in the FSM over an update): ask it.
        await state.set_state(StatementForm.violation)
        await show(message, view.violation_choice())
        return False
    if problem is AppealProblem.TOO_SHORT:
        await message.answer(view.appeal_too_short(str(draft.violation)))
        return False
    await state.update_data(text=text)
    if draft.kind is StatementKind.APPEAL or draft.kind is StatementKind.ABSENCE:
        await state.set_state(StatementForm.files)
        await show(message, view.files_question(draft.kind))
        return True
    await _preview(message, state)
    return False


async def text_skipped(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    await state.update_data(text="")
    if isinstance(query.message, Message):
        await _preview(query.message, state)


async def file_sent(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    files: list[dict[str, Any]] = list(data.get("files", []))
    entry = await incoming_file(message)
    if entry is None:
        return
    # A follow-up takes what the statement still has room for (MAX_STATEMENT_FILES).
    room = int(data.get("room", MAX_FILES))
    if len(files) >= room:
        if await _first_of_album(message, state, "full_groups"):
            await message.answer(view.too_many_files(room) if room else view.statement_full())
        return
    files.append(entry)
    await state.update_data(files=files)
    if await _first_of_album(message, state, "acked_groups"):
        await show(message, view.attached())


async def _first_of_album(message: Message, state: FSMContext, said: str) -> bool:
    """Whether to answer this message: an album arrives as one update per photo, and is
    answered once, not once per photo (ten answers at Telegram's one a second to a chat).
    `said`: the dialogue's list of the albums that got this answer."""
    group = message.media_group_id
    if not group:
        return True
    answered: list[str] = list((await state.get_data()).get(said, []))
    if group in answered:
        return False
    await state.update_data({said: [*answered[-19:], group]})
    return True


async def add_documents_pressed(
    query: CallbackQuery,
    callback_data: StmtAddDocsCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
) -> None:
    statement = await open_for_documents(
        session, actor.student, callback_data.statement_id, now=clock.now(), settings=settings
    )
    if statement is None:
        await query.answer(view.documents_closed(), show_alert=True)
        return
    await state.set_state(StatementForm.more_files)
    await state.set_data(
        {
            "statement_id": statement.id,
            "files": [],
            "acked_groups": [],
            "room": room_for_documents(len(statement.files)),
        }
    )
    await query.answer()
    if isinstance(query.message, Message):
        await show(query.message, view.more_documents(statement))


async def answer_typed(message: Message, state: FSMContext) -> None:
    """A written answer to the dean's question, gathered until Done."""
    data = await state.get_data()
    answer = (str(data.get("answer", "")) + "\n" + (message.text or "")).strip()
    if text_problem(answer) is not None:
        await message.answer(view.too_long())
        return
    await state.update_data(answer=answer)
    await show(message, view.answer_noted())


async def more_files_done(
    query: CallbackQuery,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    data = await state.get_data()
    statement = await add_documents(
        session,
        actor.student,
        int(data.get("statement_id", 0)),
        files=list(data.get("files", [])),
        now=clock.now(),
        settings=settings,
        answer=str(data.get("answer", "")),
        outbox=outbox,
    )
    if statement is None:
        await query.answer(view.answer_or_document_first(), show_alert=True)
        return
    await state.clear()
    await query.answer()
    await edit_pressed(query, view.documents_added(statement))


async def files_done(query: CallbackQuery, state: FSMContext) -> None:
    draft = StatementDraft.from_form(await state.get_data())
    if documents_problem(draft.kind, len(draft.files)) is not None:
        await query.answer(view.attach_first(), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await _preview(query.message, state)


async def _preview(target: Message, state: FSMContext) -> None:
    draft = StatementDraft.from_form(await state.get_data())
    await state.set_state(StatementForm.preview)
    screen = view.preview(draft)
    await answer_long(target, screen.text, reply_markup=screen.markup)


async def preview_cancelled(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    await edit_pressed(query, view.cancelled())


async def preview_edit(query: CallbackQuery, state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_data({"exam_id": data.get("exam_id"), "files": [], "acked_groups": []})
    await state.set_state(StatementForm.kind)
    await query.answer()
    await edit_into(query, view.start_over([str(data.get("kind"))]))


async def preview_send(
    query: CallbackQuery,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    student: Student,
    *,
    outbox: Outbox,
) -> None:
    draft = StatementDraft.from_form(await state.get_data())
    result = await submit(session, student, draft, now=clock.now(), settings=settings)
    await query.answer()
    await state.clear()
    if result.outcome is SubmitOutcome.CLOSED:
        await edit_pressed(
            query, await _too_late(session, student, draft, settings, clock, actor.locale)
        )
        return
    if result.outcome is not SubmitOutcome.OK or result.statement is None:
        await edit_pressed(query, view.something_missing())
        return
    await announce_statement(
        session, result.statement, clock.now(), settings=settings, outbox=outbox
    )
    # Told after the commit (bot.middlewares.held): the student hears it only once it is kept.
    await edit_into(query, view.submitted(result.statement, actor.user.tz))


async def _too_late(
    session: AsyncSession,
    student: Student,
    draft: StatementDraft,
    settings: Settings,
    clock: Clock,
    locale: str,
) -> str:
    """The refusal of a draft whose window closed while it was written; an appeal's says
    when the window was open (the table: until the end of the day after the grade)."""
    if draft.kind is StatementKind.APPEAL:
        now = clock.now()
        for chosen in await eligible_exams(session, student, now, settings=settings):
            if chosen.exam.id == draft.exam_id:
                window = view.appeal_window(chosen, now, settings, locale=locale)
                if window:
                    return view.window_closed(chosen, window)
    return view.too_late()


async def zone_taken(
    query: CallbackQuery,
    callback_data: StmtZoneCB,
    actor: Actor,
    session: AsyncSession,
) -> None:
    """The time-zone statement's zone becomes the student's own (as /tz would set it)."""
    zone = await take_zone(
        session, actor.student, actor.user, statement_id=callback_data.statement_id
    )
    if zone is None:
        await stale(query)
        return
    await query.answer()
    await edit_pressed(query, view.zone_taken(zone))


async def list_statements(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    await _statements_page(message, actor, session, settings, clock, 0)


async def statements_page_pressed(
    query: CallbackQuery,
    callback_data: PageCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    if not isinstance(query.message, Message):
        await stale(query)
        return
    await next_page(query)
    await _statements_page(query.message, actor, session, settings, clock, callback_data.page)


async def _statements_page(
    target: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    page: int,
) -> None:
    """A page of the student's statements, each a message with its own buttons, and
    ◀ n/N ▶ under the last one when there are more."""
    assert actor.student is not None
    statements = await student_statements(session, actor.student)
    if not statements:
        await target.answer(view.no_statements())
        return
    pages = max(1, math.ceil(len(statements) / STATEMENTS_PAGE))
    page = clamp(page, pages)
    shown = statements[page * STATEMENTS_PAGE : (page + 1) * STATEMENTS_PAGE]
    for statement in shown:
        item = view.statement_item(
            statement,
            can_add_documents=can_add_documents(
                statement, statement.exam, clock.now(), rules=StatementRules.of(settings)
            ),
            open_=statement.status == StatementStatus.SUBMITTED,
        )
        await answer_long(target, item.text, reply_markup=item.markup)
    pager = view.statements_pager(
        page,
        pages,
        first=page * STATEMENTS_PAGE + 1,
        shown=len(shown),
        total=len(statements),
    )
    if pager is not None:
        await show(target, pager)


async def withdraw_pressed(
    query: CallbackQuery,
    callback_data: StmtWithdrawCB,
    actor: Actor,
    session: AsyncSession,
    clock: Clock,
) -> None:
    statement = await withdraw(session, actor.student, callback_data.statement_id, now=clock.now())
    if statement is None:
        await query.answer(view.cannot_withdraw(), show_alert=True)
        return
    await query.answer()
    await edit_pressed(query, view.withdrawn(statement))


async def needs_text(message: Message, state: FSMContext) -> None:
    if await _first_of_album(message, state, "hinted_groups"):
        await message.answer(view.needs_text())


def setup() -> Router:
    router = Router(name="student-statements")
    text = (F.text, ~F.text.startswith("/"))
    router.message.register(start_statement, Command("statement"))
    router.message.register(list_statements, Command("statements"))
    router.callback_query.register(chose_exam, StmtExamCB.filter())
    router.callback_query.register(chose_kind, StatementForm.kind, StmtKindCB.filter())
    router.callback_query.register(
        zone_kept, StatementForm.zone, StmtActCB.filter(F.action == StmtAction.ZONE)
    )
    router.callback_query.register(zone_picked, StatementForm.zone, StmtZonePickCB.filter())
    router.message.register(zone_typed, StatementForm.zone, *text)
    router.message.register(window_typed, StatementForm.window, *text)
    router.callback_query.register(chose_reason, StatementForm.reason, StmtReasonCB.filter())
    router.callback_query.register(
        chose_violation, StatementForm.violation, StmtViolationCB.filter()
    )
    router.message.register(violation_needed, StatementForm.violation)
    router.callback_query.register(zone_taken, StmtZoneCB.filter())
    router.message.register(text_typed, StatementForm.text, *text)
    router.message.register(
        described_with_files, StatementForm.text, F.caption, F.photo | F.document
    )
    router.callback_query.register(
        text_skipped, StatementForm.text, StmtActCB.filter(F.action == StmtAction.SKIP)
    )
    router.message.register(file_sent, StatementForm.files, ~F.text)
    router.callback_query.register(
        files_done, StatementForm.files, StmtActCB.filter(F.action == StmtAction.DONE)
    )
    for action, handler in (
        (StmtAction.SEND, preview_send),
        (StmtAction.EDIT, preview_edit),
        (StmtAction.CANCEL, preview_cancelled),
    ):
        router.callback_query.register(
            handler, StatementForm.preview, StmtActCB.filter(F.action == action)
        )
    router.callback_query.register(withdraw_pressed, StmtWithdrawCB.filter())
    router.callback_query.register(
        statements_page_pressed, PageCB.filter(F.listing == Listing.STATEMENTS)
    )
    router.callback_query.register(add_documents_pressed, StmtAddDocsCB.filter())
    router.message.register(file_sent, StatementForm.more_files, ~F.text)
    router.message.register(answer_typed, StatementForm.more_files, *text)
    router.callback_query.register(
        more_files_done, StatementForm.more_files, StmtActCB.filter(F.action == StmtAction.DONE)
    )
    for waiting_for_text in (StatementForm.zone, StatementForm.window, StatementForm.text):
        router.message.register(needs_text, waiting_for_text, ~F.text)
    return router
