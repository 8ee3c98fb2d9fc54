"""/statement and /statements: a student files a time-zone or absence statement.

The draft is kept in the FSM (database or Redis), so a restart in the middle loses
nothing; an album of photos arrives as separate updates and all of them join the draft.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Student
from bot.db.session import AsyncSession
from bot.domain.exams import EventKind
from bot.domain.statements import (
    MAX_FILES,
    MAX_TEXT,
    MIN_APPEAL_TEXT,
    AbsenceReason,
    AppealProblem,
    AppealViolation,
    StatementDraft,
    StatementKind,
    StatementStatus,
    appeal_deadline,
    appeal_problem,
    documents_problem,
    text_problem,
)
from bot.domain.timezones import parse_timezone
from bot.handlers.replies import (
    answer_long,
    edit_pressed,
    incoming_file,
    next_page,
    unknown_zone_text,
)
from bot.handlers.states import StatementForm
from bot.i18n import ngettext
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
)
from bot.keyboards.inline import (
    absence_reasons,
    appeal_violations,
    statement_action,
    statement_actions,
    statement_exams,
    statement_kinds,
    statement_preview,
    take_statement_zone,
)
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.statements import (
    Eligible,
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
from bot.views import dates
from bot.views.html import fmt, join_lines
from bot.views.paging import clamp, pager_row
from bot.views.texts import kind_label, kind_name, reason_name, status_name, violation_name

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
    eligible = await eligible_exams(session, student, clock.now(), settings)
    if not eligible:
        await message.answer(_("There is no exam you could file a statement for now."))
        return
    await state.clear()
    await state.set_state(StatementForm.exam)
    items = [
        (
            e.exam.id,
            f"{e.exam.discipline.name} — {kind_label(e.exam.kind)}, "
            + dates.when(e.exam.starts_at, settings.tz, actor.locale, dates.zone_of(actor.user.tz)),
        )
        for e in eligible
    ]
    await message.answer(
        _("Which exam is the statement about?"), reply_markup=statement_exams(items)
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
        {e.exam.id: e for e in await eligible_exams(session, actor.student, clock.now(), settings)}
        if actor.student is not None
        else {}
    )
    chosen = eligible.get(callback_data.exam_id)
    if chosen is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    # Also pressed on the day-before card, possibly in the middle of another dialogue:
    # the card itself stays as it is, the questions come as a new message.
    from_menu = await state.get_state() == StatementForm.exam.state
    await query.answer()
    text = fmt(_("{exam}: what would you like to ask?"), exam=chosen.exam.discipline.name)
    window = _appeal_window_text(chosen, clock.now(), settings, actor.locale)
    if not chosen.kinds:
        # Graded lately but the appeal window is closed: say when it was open.
        await state.clear()
        await edit_pressed(query, fmt("{}: {}", chosen.exam.discipline.name, window))
        return
    await state.set_data({"exam_id": chosen.exam.id, "files": [], "acked_groups": []})
    await state.set_state(StatementForm.kind)
    if window:
        text += "\n\n" + window
    markup = statement_kinds(k.value for k in chosen.kinds)
    if from_menu:
        await edit_pressed(query, text, reply_markup=markup)
    elif isinstance(query.message, Message):
        await query.message.answer(text, reply_markup=markup)


def _appeal_window_text(chosen: Eligible, now: datetime, settings: Settings, locale: str) -> str:
    """Why there is no appeal button (or until when there is one)."""
    exam = chosen.exam
    if chosen.grade_posted_at is None:
        if exam.starts_at <= now and exam.kind == EventKind.EXAM:
            return _(
                "An appeal can be filed once your grade is posted, until the end of the next day."
            )
        return ""
    deadline = dates.when(appeal_deadline(chosen.grade_posted_at, settings.tz), settings.tz, locale)
    if StatementKind.APPEAL in chosen.kinds:
        return fmt(_("An appeal is possible until {deadline}."), deadline=deadline)
    return fmt(
        _(
            "The appeal window for this exam was open from the grade's posting until {deadline}; "
            "it is closed now."
        ),
        deadline=deadline,
    )


async def chose_kind(
    query: CallbackQuery,
    callback_data: StmtKindCB,
    actor: Actor,
    state: FSMContext,
) -> None:
    if callback_data.kind not in (
        StatementKind.TIMEZONE,
        StatementKind.ABSENCE,
        StatementKind.APPEAL,
    ):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await state.update_data(kind=callback_data.kind)
    await query.answer()
    if callback_data.kind == StatementKind.APPEAL:
        await state.set_state(StatementForm.violation)
        await edit_pressed(query, violation_question(), reply_markup=_violations())
        return
    if callback_data.kind == StatementKind.TIMEZONE:
        await state.set_state(StatementForm.zone)
        current = actor.user.tz
        text = _(
            "Which time zone do you live in? Type its name (e.g. Asia/Novosibirsk) or a UTC "
            "offset (e.g. UTC+7)."
        )
        if current:
            await edit_pressed(
                query,
                text + "\n" + fmt(_("Or keep the one you set: {zone}."), zone=current),
                reply_markup=statement_action(StmtAction.ZONE, current),
            )
        else:
            await edit_pressed(query, text)
        return
    await state.set_state(StatementForm.reason)
    await edit_pressed(query, _("What is the reason?"), reply_markup=absence_reasons())


def violation_question() -> str:
    return _(
        "Under the regulation an appeal is considered only for a concrete violation of the "
        "exam procedure, not for disagreement with the grade as such. What was violated?"
    )


def _violations() -> InlineKeyboardMarkup:
    return appeal_violations((v.value, violation_name(v.value)) for v in AppealViolation)


async def _chosen(
    query: CallbackQuery, state: FSMContext, field: str, value: str, *, allowed: type[StrEnum]
) -> bool:
    """A reason or a violation pressed: kept in the draft, the description asked next;
    False for a value that is none of `allowed` (a forged or stale button)."""
    if value not in allowed._value2member_map_:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return False
    await state.update_data({field: value})
    await state.set_state(StatementForm.text)
    await query.answer()
    return True


async def chose_violation(
    query: CallbackQuery, callback_data: StmtViolationCB, state: FSMContext
) -> None:
    value = callback_data.violation
    if await _chosen(query, state, "violation", value, allowed=AppealViolation):
        await edit_pressed(query, appeal_prompt(value))


async def violation_needed(message: Message) -> None:
    """Text typed before a violation is chosen: no appeal without one (the table)."""
    await message.answer(
        _("First choose with a button what was violated; then describe it.")
        + "\n\n"
        + violation_question(),
        reply_markup=_violations(),
    )


async def _ask_window(target: Message, state: FSMContext, zone: str) -> None:
    await state.update_data(time_zone=zone)
    await state.set_state(StatementForm.window)
    await target.answer(
        fmt(
            _(
                "Time zone: {zone}. When could you take the exam? Write a window in your own "
                "time, e.g. “10:00–14:00”."
            ),
            zone=zone,
        )
    )


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


async def window_typed(message: Message, state: FSMContext) -> None:
    window = (message.text or "").strip()[:255]
    await state.update_data(window=window)
    await state.set_state(StatementForm.text)
    await message.answer(
        _("Anything to add for the dean's office? Write it, or press Skip."),
        reply_markup=statement_action(StmtAction.SKIP, _("Skip")),
    )


async def chose_reason(
    query: CallbackQuery, callback_data: StmtReasonCB, state: FSMContext
) -> None:
    if await _chosen(query, state, "reason", callback_data.reason, allowed=AbsenceReason):
        await edit_pressed(query, _("Describe the reason in a few words."))


async def text_typed(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if text_problem(text) is not None:
        await message.answer(fmt(_too_long(), limit=MAX_TEXT))
        return
    data = await state.get_data()
    problem = (
        appeal_problem(data.get("violation"), text)
        if data.get("kind") == StatementKind.APPEAL
        else None
    )
    if problem is AppealProblem.NO_VIOLATION:
        # A draft from before the choice existed (kept in the FSM over an update): ask it.
        await state.set_state(StatementForm.violation)
        await message.answer(violation_question(), reply_markup=_violations())
        return
    if problem is AppealProblem.TOO_SHORT:
        await message.answer(
            fmt(
                ngettext(
                    "Please describe the violation in more detail (at least {count} character).",
                    "Please describe the violation in more detail (at least {count} characters).",
                    MIN_APPEAL_TEXT,
                ),
                count=MIN_APPEAL_TEXT,
            )
            + "\n\n"
            + appeal_prompt(str(data.get("violation")))
        )
        return
    await state.update_data(text=text)
    if data.get("kind") == StatementKind.APPEAL:
        await state.set_state(StatementForm.files)
        await message.answer(
            fmt(
                _(
                    "If you have scans (e.g. the signed appeal), send them now as photos or "
                    "PDF (up to {count}); otherwise just press Done."
                ),
                count=MAX_FILES,
            ),
            reply_markup=statement_action(StmtAction.DONE, _("Done")),
        )
        return
    if data.get("kind") == StatementKind.ABSENCE:
        await state.set_state(StatementForm.files)
        await message.answer(
            fmt(
                _(
                    "Now send the supporting documents: photos, or PDF or image files (up to "
                    "{count}). Press Done when all are sent."
                ),
                count=MAX_FILES,
            ),
            reply_markup=statement_action(StmtAction.DONE, _("Done")),
        )
        return
    await _preview(message, state)


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
    if len(files) >= MAX_FILES:
        await message.answer(
            fmt(_("That is the most I can attach ({count}). Press Done."), count=MAX_FILES)
        )
        return
    files.append(entry)
    acked: list[str] = list(data.get("acked_groups", []))
    await state.update_data(files=files)
    # An album arrives as one update per photo: answer it once, not once per photo.
    if message.media_group_id:
        if message.media_group_id in acked:
            return
        acked.append(message.media_group_id)
        await state.update_data(acked_groups=acked)
    await message.answer(
        _("Attached. Send more, or press Done."),
        reply_markup=statement_action(StmtAction.DONE, _("Done")),
    )


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
        session, actor.student, callback_data.statement_id, clock.now(), settings
    )
    if statement is None:
        await query.answer(
            _("Documents can no longer be added to this statement."), show_alert=True
        )
        return
    await state.set_state(StatementForm.more_files)
    await state.set_data({"statement_id": statement.id, "files": [], "acked_groups": []})
    await query.answer()
    if isinstance(query.message, Message):
        text = (
            fmt(
                _(
                    "Statement №{number}. The dean's office asks: {question}\nWrite your answer "
                    "and/or send the documents, then press Done."
                ),
                number=statement.id,
                question=statement.decision_comment or "…",
            )
            if statement.decision_comment is not None
            else fmt(
                _("Send the documents for statement №{number}, then press Done."),
                number=statement.id,
            )
        )
        await query.message.answer(text, reply_markup=statement_action(StmtAction.DONE, _("Done")))


async def answer_typed(message: Message, state: FSMContext) -> None:
    """A written answer to the dean's question, gathered until Done."""
    data = await state.get_data()
    answer = (str(data.get("answer", "")) + "\n" + (message.text or "")).strip()
    if text_problem(answer) is not None:
        await message.answer(fmt(_too_long(), limit=MAX_TEXT))
        return
    await state.update_data(answer=answer)
    await message.answer(
        _("Noted. Send more, or press Done."),
        reply_markup=statement_action(StmtAction.DONE, _("Done")),
    )


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
        await query.answer(
            _("Write an answer or attach a document first (or it is too late now)."),
            show_alert=True,
        )
        return
    await state.clear()
    await query.answer()
    await edit_pressed(
        query,
        fmt(
            _("Added to statement №{number}; the dean's office will see them."), number=statement.id
        ),
    )


async def files_done(query: CallbackQuery, state: FSMContext) -> None:
    data = await state.get_data()
    draft = StatementDraft.from_form(data)
    if documents_problem(draft.kind, len(draft.files)) is not None:
        await query.answer(_("Attach at least one document first."), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await _preview(query.message, state)


def _too_long() -> str:
    return ngettext(
        "That is too long: at most {limit} character, please.",
        "That is too long: at most {limit} characters, please.",
        MAX_TEXT,
    )


def appeal_prompt(violation: str) -> str:
    return fmt(
        ngettext(
            "Violation: {violation}. Describe it (at least {count} character): what happened, "
            "and when.",
            "Violation: {violation}. Describe it (at least {count} characters): what happened, "
            "and when.",
            MIN_APPEAL_TEXT,
        ),
        violation=violation_name(violation),
        count=MIN_APPEAL_TEXT,
    )


async def _preview(target: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_state(StatementForm.preview)
    lines: list[object] = [
        fmt(_("<b>Your statement</b> (not sent yet)")),
        fmt(_("Kind: {kind}"), kind=kind_name(str(data.get("kind")))),
    ]
    if data.get("time_zone"):
        lines.append(fmt(_("Time zone: {zone}"), zone=str(data["time_zone"])))
        lines.append(fmt(_("Preferred time: {window}"), window=str(data.get("window"))))
    if data.get("reason"):
        lines.append(fmt(_("Reason: {reason}"), reason=reason_name(str(data["reason"]))))
    if data.get("violation"):
        lines.append(
            fmt(
                _("Violation of the procedure: {violation}"),
                violation=violation_name(str(data["violation"])),
            )
        )
    if data.get("text"):
        lines.append(str(data["text"]))
    if data.get("files"):
        lines.append(fmt(_("Documents: {count}"), count=len(data["files"])))
    await answer_long(target, join_lines(lines), reply_markup=statement_preview())


async def preview_cancelled(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    await edit_pressed(query, _("Cancelled: nothing was sent."))


async def preview_edit(query: CallbackQuery, state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_data({"exam_id": data.get("exam_id"), "files": [], "acked_groups": []})
    await state.set_state(StatementForm.kind)
    await query.answer()
    exam_kinds = [str(data.get("kind"))]
    await edit_pressed(query, _("Let's start over."), reply_markup=statement_kinds(exam_kinds))


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
    result = await submit(session, student, draft, clock.now(), settings)
    await query.answer()
    if result.outcome is SubmitOutcome.CLOSED:
        await state.clear()
        await edit_pressed(query, _("It is too late for this kind of statement for that exam."))
        return
    if result.outcome is not SubmitOutcome.OK or result.statement is None:
        await state.clear()
        await edit_pressed(
            query, _("Something in the statement is missing. Start again: /statement")
        )
        return
    await state.clear()
    await announce_statement(session, result.statement, clock.now(), settings, outbox=outbox)
    # Told after the commit (bot.middlewares.held): the student hears it only once it is kept.
    filed = result.statement
    text = fmt(
        _(
            "Statement №{number} is submitted to the dean's office. You will be told the "
            "decision here; /statements shows all of yours."
        ),
        number=filed.id,
    )
    markup = None
    if filed.time_zone and filed.time_zone != actor.user.tz:
        # The zone is known now: one press instead of asking for it again with /tz.
        text += fmt(
            "\n\n" + _("Show the bot's times in your zone, {zone}, as well?"),
            zone=filed.time_zone,
        )
        markup = take_statement_zone(filed.id, filed.time_zone)
    await edit_pressed(query, text, reply_markup=markup)


async def zone_taken(
    query: CallbackQuery,
    callback_data: StmtZoneCB,
    actor: Actor,
    session: AsyncSession,
) -> None:
    """The time-zone statement's zone becomes the student's own (as /tz would set it)."""
    zone = await take_zone(session, actor.student, actor.user, callback_data.statement_id)
    if zone is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    await edit_pressed(
        query,
        fmt(
            _("Your time zone is now {zone}: times are shown in it as well. /tz changes it."),
            zone=zone,
        ),
    )


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
        await query.answer(_("This button is no longer valid."), show_alert=True)
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
        await target.answer(_("You have no statements yet. /statement files one."))
        return
    pages = max(1, math.ceil(len(statements) / STATEMENTS_PAGE))
    page = clamp(page, pages)
    shown = statements[page * STATEMENTS_PAGE : (page + 1) * STATEMENTS_PAGE]
    for statement in shown:
        text = fmt(
            _("№{number}: {kind}, {exam} — {status}"),
            number=statement.id,
            kind=kind_name(statement.kind),
            exam=statement.exam.discipline.name,
            status=status_name(statement.status),
        )
        if statement.decision_comment:
            text = join_lines([text, statement.decision_comment])
        markup = (
            statement_actions(
                statement.id, can_add_documents(statement, statement.exam, clock.now(), settings)
            )
            if statement.status == StatementStatus.SUBMITTED
            else None
        )
        await answer_long(target, text, reply_markup=markup)
    row = pager_row(page, pages, lambda p: PageCB(listing=Listing.STATEMENTS, page=p))
    if row:
        first = page * STATEMENTS_PAGE + 1
        await target.answer(
            fmt(
                _("Statements {first}–{last} of {total}."),
                first=first,
                last=first + len(shown) - 1,
                total=len(statements),
            ),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[row]),
        )


async def withdraw_pressed(
    query: CallbackQuery,
    callback_data: StmtWithdrawCB,
    actor: Actor,
    session: AsyncSession,
    clock: Clock,
) -> None:
    statement = await withdraw(session, actor.student, callback_data.statement_id, clock.now())
    if statement is None:
        await query.answer(_("This statement cannot be withdrawn."), show_alert=True)
        return
    await query.answer()
    await edit_pressed(query, fmt(_("Statement №{number} is withdrawn."), number=statement.id))


async def needs_text(message: Message) -> None:
    await message.answer(_("Please answer with text, or /cancel."))


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
    router.message.register(zone_typed, StatementForm.zone, *text)
    router.message.register(window_typed, StatementForm.window, *text)
    router.callback_query.register(chose_reason, StatementForm.reason, StmtReasonCB.filter())
    router.callback_query.register(
        chose_violation, StatementForm.violation, StmtViolationCB.filter()
    )
    router.message.register(violation_needed, StatementForm.violation)
    router.callback_query.register(zone_taken, StmtZoneCB.filter())
    router.message.register(text_typed, StatementForm.text, *text)
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
