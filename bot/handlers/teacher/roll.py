"""The exam-day console: the roll (one message that edits itself), a student's card with
marks and grades, tickets, subgroups, written work, the texts to say aloud, confirming."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Exam
from bot.db.session import AsyncSession
from bot.domain.roll import (
    Grade,
    Mark,
    TicketMethod,
    grades_for,
    outage_deadline,
    parse_ticket_list,
)
from bot.handlers.busy import showing
from bot.handlers.states import TeacherTickets
from bot.i18n import ngettext
from bot.keyboards.callbacks import RollAction, RollCB
from bot.keyboards.roll import (
    ICONS,
    card_keyboard,
    split_menu,
    tickets_menu,
    written_menu,
)
from bot.middlewares.held import latest_state
from bot.services import roll as service
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.roll import MarkAction, Outcome, RollRules, RollView
from bot.services.roll_messages import RollMessage, remember
from bot.services.sheets import sheet_csv, sheet_xlsx
from bot.views import dates
from bot.views.html import Html, bold, code, fmt, join, join_lines
from bot.views.paging import clamp
from bot.views.roll import RollPages, outcome_text
from bot.views.roll_sheet import build_sheet
from bot.views.texts import exam_title, grade_name, mark_name


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup) -> None:
    """The console redraws itself as the latest state: taps faster than Telegram lets a
    message be edited show in the next redraw (bot.middlewares.held)."""
    if not isinstance(query.message, Message):
        return
    # A double tap's identical edit counts as done in the request layer (bot.notify.retry).
    with latest_state():
        await query.message.edit_text(text, reply_markup=markup)


async def _show_roll(
    query: CallbackQuery,
    view: RollView,
    page: int,
    settings: Settings,
    locale: str,
) -> None:
    pages = RollPages(view, settings, locale)
    page = clamp(page, len(pages.ranges))
    chat_id = query.message.chat.id if isinstance(query.message, Message) else None
    await _edit(query, pages.text(page), pages.markup(page, chat_id))


def card_text(view: RollView, student_id: int, settings: Settings, locale: str) -> Html:
    line = view.line(student_id)
    assert line is not None
    uni = settings.tz
    student = line.student
    lines: list[object] = [
        bold(student.full_name),
        fmt(
            _("Record book {book}, group {group}"),
            book=student.record_book,
            group=view.exam.group.name,
        ),
        exam_title(view.exam),
        fmt(_("State: {mark}"), mark=f"{ICONS[line.mark]} {mark_name(line.mark)}"),
    ]
    if line.subgroup is not None:
        lines.append(
            fmt(
                _("Subgroup {number}, start {clock}"),
                number=line.subgroup,
                clock=dates.clock(line.starts_at, uni, locale),
            )
        )
    if line.entry.outage_since is not None and line.mark in (Mark.OUTAGE, Mark.FAILURE):
        lines.append(
            fmt(
                _("Outage since {since}; recorded as a failure at {until} unless resolved."),
                since=dates.clock(line.entry.outage_since, uni, locale),
                until=dates.clock(
                    outage_deadline(line.entry.outage_since, settings.outage_wait), uni, locale
                ),
            )
        )
    if line.entry.ticket:
        lines.append(fmt(_("Ticket №{number}"), number=line.entry.ticket))
    if line.entry.grade:
        lines.append(fmt(_("Grade: {grade}"), grade=grade_name(line.entry.grade)))
    return join_lines(lines)


async def _show_card(
    query: CallbackQuery,
    view: RollView,
    student_id: int,
    page: int,
    settings: Settings,
    locale: str,
) -> None:
    line = view.line(student_id)
    if line is None:
        await _show_roll(query, view, page, settings, locale)
        return
    await _edit(
        query,
        card_text(view, student_id, settings, locale),
        card_keyboard(
            view.exam.id,
            student_id,
            page,
            mark=line.mark,
            pass_fail=view.exam.pass_fail,
            grades=grades_for(view.exam.pass_fail),
        ),
    )


async def _own_exam(
    query: CallbackQuery, cb: RollCB, actor: Actor, session: AsyncSession, settings: Settings
) -> Exam | None:
    """The exam pressed, if it is the presser's; else the press is refused with an alert."""
    exam = await service.own_exam(session, actor.teacher, cb.exam_id)
    if exam is None:
        await _refuse(query, settings)
    return exam


async def _refuse(query: CallbackQuery, settings: Settings) -> None:
    await query.answer(outcome_text(Outcome.NOT_YOURS, settings), show_alert=True)


async def _redraw(
    query: CallbackQuery,
    cb: RollCB,
    outcome: Outcome,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    *,
    back_to_card: bool = False,
) -> None:
    """After an action: say how it went, then redraw the roll (or the student's card)."""
    if outcome is Outcome.OK or outcome is Outcome.ALREADY:
        await query.answer(_("Already done.") if outcome is Outcome.ALREADY else None)
    else:
        await query.answer(outcome_text(outcome, settings), show_alert=True)
    exam = await service.own_exam(session, actor.teacher, cb.exam_id)
    assert exam is not None
    view = await service.load_roll(session, exam, now, RollRules.of(settings))
    if back_to_card:
        await _show_card(query, view, cb.student_id, cb.page, settings, actor.locale)
    else:
        await _show_roll(query, view, cb.page, settings, actor.locale)


async def on_show(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    exam = await _own_exam(query, callback_data, actor, session, settings)
    if exam is None:
        return
    # The console opened, refreshed or turned to another page: a web mark redraws it here.
    await _shown_here(session, exam.id, query, callback_data.page, actor.locale)
    await _redraw(query, callback_data, Outcome.OK, actor, session, settings, clock.now())


async def _shown_here(
    session: AsyncSession, exam_id: int, query: CallbackQuery, page: int, locale: str
) -> None:
    """This message is the exam's console now: a mark made in the Mini App redraws it."""
    if isinstance(query.message, Message):
        shown = RollMessage(query.message.chat.id, query.message.message_id, page, locale)
        await remember(session, exam_id, shown)


async def on_mark(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    """A mark from the roll (back to the roll) or from the card (back to the card)."""
    cb = callback_data
    now = clock.now()
    exam = await _own_exam(query, cb, actor, session, settings)
    if exam is None:
        return
    try:
        action = MarkAction(cb.value)
    except ValueError:
        await _refuse(query, settings)
        return
    outcome = await service.set_mark(
        session,
        actor.teacher,
        query.from_user.id,
        exam_id=exam.id,
        student_id=cb.student_id,
        action=action,
        now=now,
        rules=RollRules.of(settings),
        outbox=outbox,
    )
    await _redraw(
        query,
        cb,
        outcome,
        actor,
        session,
        settings,
        now,
        back_to_card=cb.action is RollAction.CARD_MARK,
    )


async def on_grade(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    cb = callback_data
    now = clock.now()
    exam = await _own_exam(query, cb, actor, session, settings)
    if exam is None:
        return
    try:
        grade = Grade(cb.value)
    except ValueError:
        await _refuse(query, settings)
        return
    outcome = await service.set_grade(
        session,
        actor.teacher,
        query.from_user.id,
        exam_id=exam.id,
        student_id=cb.student_id,
        grade=grade,
        now=now,
        rules=RollRules.of(settings),
        outbox=outbox,
    )
    await _redraw(query, cb, outcome, actor, session, settings, now, back_to_card=True)


async def on_rest_absent(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    now = clock.now()
    exam = await _own_exam(query, callback_data, actor, session, settings)
    if exam is None:
        return
    outcome = await _rest_absent(
        session, actor, query.from_user.id, exam.id, now, settings, outbox=outbox
    )
    await _redraw(query, callback_data, outcome, actor, session, settings, now)


async def on_card(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    cb = callback_data
    exam = await _own_exam(query, cb, actor, session, settings)
    if exam is None:
        return
    view = await service.load_roll(session, exam, clock.now(), RollRules.of(settings))
    if view.line(cb.student_id) is None:
        await _refuse(query, settings)
        return
    await query.answer()
    await _show_card(query, view, cb.student_id, cb.page, settings, actor.locale)


async def _open_menu(
    query: CallbackQuery,
    cb: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> Exam | None:
    """The exam whose tickets, subgroups or written work menu is opened; a confirmed roll
    is locked (said, and the roll redrawn)."""
    exam = await _own_exam(query, cb, actor, session, settings)
    if exam is not None and exam.roll_confirmed_at is not None:
        await _redraw(query, cb, Outcome.LOCKED, actor, session, settings, clock.now())
        return None
    return exam


async def on_ticket_menu(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    exam = await _open_menu(query, callback_data, actor, session, settings, clock)
    if exam is None:
        return
    await query.answer()
    await _edit(
        query,
        _("🎫 How are tickets handed out to the present students?"),
        tickets_menu(exam.id, callback_data.page),
    )


async def on_tickets(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    state: FSMContext,
    *,
    outbox: Outbox,
) -> None:
    cb = callback_data
    now = clock.now()
    exam = await _own_exam(query, cb, actor, session, settings)
    if exam is None:
        return
    method, _sep, number = cb.value.partition("-")
    if method == TicketMethod.LIST:
        await state.set_state(TeacherTickets.ticket_list)
        await state.update_data(exam_id=exam.id)
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer(
                _(
                    "Send the list, a line per student: surname (or full name, or record "
                    "book) and the ticket number, e.g. «Иванова 7». Or /cancel."
                )
            )
        return
    try:
        ticket_method = TicketMethod(method)
        tickets = int(number)
    except ValueError:
        await _refuse(query, settings)
        return
    outcome, _assigned = await service.hand_out_tickets(
        session,
        actor.teacher,
        exam.id,
        method=ticket_method,
        tickets=tickets,
        now=now,
        rules=RollRules.of(settings),
        outbox=outbox,
    )
    await _redraw(query, cb, outcome, actor, session, settings, now)


async def on_split_menu(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """How many subgroups (no value yet), then how far apart they start."""
    cb = callback_data
    exam = await _open_menu(query, cb, actor, session, settings, clock)
    if exam is None:
        return
    await query.answer()
    if not cb.value:
        await _edit(query, _("👥 Into how many subgroups?"), split_menu(exam.id, cb.page, None))
        return
    await _edit(
        query,
        fmt(
            ngettext(
                "👥 {count} subgroup, alphabetically. How far apart do they start?",
                "👥 {count} subgroups, alphabetically. How far apart do they start?",
                _int(cb.value),
            ),
            count=cb.value,
        ),
        split_menu(exam.id, cb.page, _int(cb.value)),
    )


async def on_split(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    cb = callback_data
    now = clock.now()
    exam = await _own_exam(query, cb, actor, session, settings)
    if exam is None:
        return
    parts, _sep, gap = cb.value.partition("x")
    outcome, _chunks = await service.split(
        session,
        actor.teacher,
        exam.id,
        parts=_int(parts),
        gap=timedelta(minutes=_int(gap)),
        now=now,
        settings=settings,
        outbox=outbox,
    )
    await _redraw(query, cb, outcome, actor, session, settings, now)


async def on_written_menu(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    exam = await _open_menu(query, callback_data, actor, session, settings, clock)
    if exam is None:
        return
    await query.answer()
    await _edit(
        query,
        _("✍️ How long is the written work? The clock starts when you choose."),
        written_menu(exam.id, callback_data.page),
    )


async def on_written(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    cb = callback_data
    now = clock.now()
    exam = await _own_exam(query, cb, actor, session, settings)
    if exam is None:
        return
    outcome = await service.start_written(
        session,
        actor.teacher,
        exam.id,
        minutes=_int(cb.value),
        now=now,
        rules=RollRules.of(settings),
        outbox=outbox,
    )
    await _redraw(query, cb, outcome, actor, session, settings, now)


async def on_texts(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    exam = await _own_exam(query, callback_data, actor, session, settings)
    if exam is None:
        return
    view = await service.load_roll(session, exam, clock.now(), RollRules.of(settings))
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(aloud_text(view, settings))


async def on_confirm(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    cb = callback_data
    now = clock.now()
    exam = await _own_exam(query, cb, actor, session, settings)
    if exam is None:
        return
    outcome, confirmed = await service.confirm_roll(
        session,
        actor.teacher,
        query.from_user.id,
        exam_id=exam.id,
        now=now,
        rules=RollRules.of(settings),
        outbox=outbox,
    )
    if outcome is Outcome.OK and confirmed is not None:
        await query.answer(_("🔒 The roll is confirmed. The sheet follows."))
        await _show_roll(query, confirmed, cb.page, settings, actor.locale)
        await _send_sheet(query, confirmed, settings, actor.locale)
        return
    await _redraw(query, cb, outcome, actor, session, settings, now)


async def on_sheet(
    query: CallbackQuery,
    callback_data: RollCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    exam = await _own_exam(query, callback_data, actor, session, settings)
    if exam is None:
        return
    view = await service.load_roll(session, exam, clock.now(), RollRules.of(settings))
    await query.answer()
    await _send_sheet(query, view, settings, actor.locale)


def _int(value: str) -> int:
    """A count from a button's value; 0 (which every use refuses) unless it is a sane one:
    a forged huge number would break timedelta() before the service could refuse it."""
    try:
        number = int(value)
    except ValueError:
        return 0
    return number if abs(number) <= 100_000 else 0


async def _rest_absent(
    session: AsyncSession,
    actor: Actor,
    user_id: int,
    exam_id: int,
    now: datetime,
    settings: Settings,
    *,
    outbox: Outbox,
) -> Outcome:
    exam = await service.own_exam(session, actor.teacher, exam_id)
    assert exam is not None
    view = await service.load_roll(session, exam, now, RollRules.of(settings))
    unmarked = [x.student.id for x in view.lines if x.mark is Mark.UNMARKED]
    if not unmarked:
        return Outcome.ALREADY
    outcome = Outcome.OK
    for student_id in unmarked:
        outcome = await service.set_mark(
            session,
            actor.teacher,
            user_id,
            exam_id=exam_id,
            student_id=student_id,
            action=MarkAction.ABSENT,
            now=now,
            rules=RollRules.of(settings),
            outbox=outbox,
        )
        if outcome is not Outcome.OK:
            break
    return outcome


def aloud_text(view: RollView, settings: Settings) -> Html:
    """What the teacher says on the recording, in Russian as the regulation words it."""
    aloud = service.texts_aloud(view, settings.tz)
    # The domain's wording is plain text (the discipline as imported): join() escapes it.
    blocks: list[object] = [fmt(_("📢 <b>To say aloud</b> (the regulation's wording):"))]
    blocks += aloud.openings
    blocks.append(
        aloud.closing
        if aloud.closing is not None
        else _(
            "At the end: the regulation prescribes no closing text for a computer test, "
            "so there is nothing to say aloud."
        )
    )
    blocks.append(_("Recording file name:") + "\n" + code(aloud.file_name))
    return join("\n\n", blocks)


async def _send_sheet(
    query: CallbackQuery, view: RollView, settings: Settings, locale: str
) -> None:
    if not isinstance(query.message, Message):
        return
    async with showing(query.message, ChatAction.UPLOAD_DOCUMENT):
        sheet, name = build_sheet(view, settings, locale)
        await query.message.answer_document(
            BufferedInputFile(sheet_xlsx(sheet), filename=f"{name}.xlsx"),
            caption=fmt(_("Attendance sheet: {title}"), title=exam_title(view.exam)),
        )
        await query.message.answer_document(
            BufferedInputFile(sheet_csv(sheet), filename=f"{name}.csv")
        )


async def got_ticket_list(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    data = await state.get_data()
    now = clock.now()
    exam = await service.own_exam(session, actor.teacher, int(data.get("exam_id", 0)))
    if exam is None:
        await state.clear()
        await message.answer(outcome_text(Outcome.NOT_YOURS, settings))
        return
    view = await service.load_roll(session, exam, now, RollRules.of(settings))
    students = {x.student.id: (x.student.full_name, x.student.record_book) for x in view.lines}
    assigned, errors = parse_ticket_list(message.text or "", students, None)
    if errors:
        reasons = {
            "unknown": _("nobody of this group"),
            "ambiguous": _("more than one student matches: give the full name"),
            "bad_number": _("no ticket number"),
            "duplicate": _("this student is already listed"),
            "out_of_range": _("the number is out of range"),
        }
        await message.answer(
            _("The list has mistakes; nothing was handed out. Fix these lines and send it again:")
            + "".join(
                "\n" + fmt(_("line {line}: {reason}"), line=line, reason=reasons.get(code, code))
                for line, code in errors
            )
        )
        return
    absent = [
        s for s in assigned if (line := view.line(s)) is None or line.mark is not Mark.PRESENT
    ]
    present_assigned = {s: n for s, n in assigned.items() if s not in absent}
    outcome, _given = await service.hand_out_tickets(
        session,
        actor.teacher,
        exam.id,
        method=TicketMethod.LIST,
        tickets=max(present_assigned.values(), default=1),
        now=now,
        rules=RollRules.of(settings),
        listed=present_assigned,
        outbox=outbox,
    )
    await state.clear()
    if outcome is not Outcome.OK:
        await message.answer(outcome_text(outcome, settings))
        return
    text = fmt(_("🎫 Tickets handed out: {count}."), count=len(present_assigned))
    if absent:
        text += "\n" + fmt(_("Not present, so not given: {count}."), count=len(absent))
    await message.answer(text)


async def ticket_list_needs_text(message: Message) -> None:
    await message.answer(_("Send the list as text, or /cancel."))


def setup() -> Router:
    router = Router(name="teacher-roll")
    for action, handler in (
        (RollAction.SHOW, on_show),
        (RollAction.CARD, on_card),
        (RollAction.MARK, on_mark),
        (RollAction.CARD_MARK, on_mark),
        (RollAction.GRADE, on_grade),
        (RollAction.REST_ABSENT, on_rest_absent),
        (RollAction.TICKET_MENU, on_ticket_menu),
        (RollAction.TICKETS, on_tickets),
        (RollAction.SPLIT_MENU, on_split_menu),
        (RollAction.SPLIT, on_split),
        (RollAction.WRITTEN_MENU, on_written_menu),
        (RollAction.WRITTEN, on_written),
        (RollAction.TEXTS, on_texts),
        (RollAction.CONFIRM, on_confirm),
        (RollAction.SHEET, on_sheet),
    ):
        router.callback_query.register(handler, RollCB.filter(F.action == action))
    router.message.register(
        got_ticket_list, TeacherTickets.ticket_list, F.text, ~F.text.startswith("/")
    )
    router.message.register(ticket_list_needs_text, TeacherTickets.ticket_list, ~F.text)
    return router
