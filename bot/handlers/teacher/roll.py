"""The exam-day console: the roll (one message that edits itself), a student's card with
marks and grades, tickets, subgroups, written work, the texts to say aloud, confirming.

Every console button carries its exam: before any handler runs, the router's middleware
(`pressed_on_own_exam`) checks the exam is the presser's and hands the handler a
`RollPress` (the exam, the page, the time, the reply); a press on anyone else's exam is
refused there, once for all. The handlers only parse what is typed already, call the
service and hand the view (bot.views.roll) back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message, TelegramObject

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Exam, Teacher
from bot.db.session import AsyncSession
from bot.domain.roll import MAX_TICKETS, Mark, MarkAction, TicketMethod, parse_ticket_list
from bot.handlers.busy import showing
from bot.handlers.states import TeacherTickets
from bot.keyboards.callbacks import (
    ROLL_PRESSES,
    RollAction,
    RollCB,
    RollGradeCB,
    RollLegacyCB,
    RollMarkCB,
    RollPartsCB,
    RollSplitCB,
    RollTicketsCB,
    RollWrittenCB,
)
from bot.middlewares.held import latest_state
from bot.services import roll as service
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.roll import Outcome, RollRules, RollView
from bot.services.roll_messages import RollMessage, remember
from bot.services.sheets import sheet_csv, sheet_xlsx
from bot.views.paging import clamp
from bot.views.roll import (
    RollPages,
    aloud_text,
    card_screen,
    confirmed_toast,
    console_updated,
    gaps_screen,
    outcome_text,
    parts_screen,
    press_answer,
    sheet_caption,
    ticket_list_mistakes,
    ticket_list_needs_text,
    ticket_list_prompt,
    tickets_listed,
    tickets_screen,
    written_screen,
)
from bot.views.roll_sheet import build_sheet
from bot.views.screen import Screen


@dataclass
class RollPress:
    """A console button pressed on the presser's own exam: what every handler of the
    console needs, and how it answers (the toast, the redrawn roll or card)."""

    query: CallbackQuery
    exam: Exam
    page: int
    student_id: int
    teacher: Teacher
    session: AsyncSession
    settings: Settings
    locale: str
    clock: Clock
    outbox: Outbox

    @property
    def rules(self) -> RollRules:
        return RollRules.of(self.settings)

    @property
    def message(self) -> Message | None:
        return self.query.message if isinstance(self.query.message, Message) else None

    async def roll(self) -> RollView:
        return await service.load_roll(self.session, self.exam, self.clock.now(), rules=self.rules)

    async def edit(self, screen: Screen) -> None:
        """The console redraws itself as the latest state: taps faster than Telegram lets a
        message be edited show in the next redraw (bot.middlewares.held)."""
        if self.message is None:
            return
        # A double tap's identical edit counts as done in the request layer (bot.notify.retry).
        with latest_state():
            await self.message.edit_text(screen.text, reply_markup=screen.markup)

    async def show_roll(self, view: RollView) -> None:
        pages = RollPages(view, self.settings, self.locale)
        page = clamp(self.page, len(pages.ranges))
        chat_id = self.message.chat.id if self.message is not None else None
        await self.edit(Screen(pages.text(page), pages.markup(page, chat_id)))

    async def show_card(self, view: RollView) -> None:
        if view.line(self.student_id) is None:
            await self.show_roll(view)
            return
        await self.edit(
            card_screen(
                view, self.student_id, page=self.page, settings=self.settings, locale=self.locale
            )
        )

    async def refuse(self) -> None:
        await self.query.answer(outcome_text(Outcome.NOT_YOURS, self.settings), show_alert=True)

    async def redraw(self, outcome: Outcome, *, card: bool = False) -> None:
        """After an action: say how it went, then redraw the roll (or the student's card)."""
        text, alert = press_answer(outcome, self.settings)
        await self.query.answer(text, show_alert=alert)
        # The exam as the action left it (a service may have changed or locked it).
        exam = await service.own_exam(self.session, self.teacher, self.exam.id)
        assert exam is not None
        self.exam = exam
        view = await self.roll()
        if card:
            await self.show_card(view)
        else:
            await self.show_roll(view)

    async def open_menu(self, screen: Screen) -> None:
        """The tickets', subgroups' or written work's menu; a confirmed roll is locked
        (said, and the roll redrawn)."""
        if self.exam.roll_confirmed_at is not None:
            await self.redraw(Outcome.LOCKED)
            return
        await self.query.answer()
        await self.edit(screen)

    async def send_sheet(self, view: RollView) -> None:
        if self.message is None:
            return
        async with showing(self.message, ChatAction.UPLOAD_DOCUMENT):
            sheet, name = build_sheet(view, self.settings, self.locale)
            await self.message.answer_document(
                BufferedInputFile(sheet_xlsx(sheet), filename=f"{name}.xlsx"),
                caption=sheet_caption(view),
            )
            await self.message.answer_document(
                BufferedInputFile(sheet_csv(sheet), filename=f"{name}.csv")
            )


Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


async def pressed_on_own_exam(handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
    """The console's one prologue: the exam pressed is the presser's (else refused with an
    alert, and no handler runs), handed on as `press`."""
    cb = data.get("callback_data")
    if not isinstance(event, CallbackQuery) or not isinstance(cb, ROLL_PRESSES):
        return await handler(event, data)
    actor: Actor = data["actor"]
    settings: Settings = data["settings"]
    session: AsyncSession = data["session"]
    exam = await service.own_exam(session, actor.teacher, cb.exam_id)  # type: ignore[attr-defined]
    if exam is None or actor.teacher is None:
        await event.answer(outcome_text(Outcome.NOT_YOURS, settings), show_alert=True)
        return None
    data["press"] = RollPress(
        query=event,
        exam=exam,
        page=cb.page,  # type: ignore[attr-defined]
        student_id=getattr(cb, "student_id", 0),
        teacher=actor.teacher,
        session=session,
        settings=settings,
        locale=actor.locale,
        clock=data["clock"],
        outbox=data["outbox"],
    )
    return await handler(event, data)


async def on_show(_query: CallbackQuery, press: RollPress) -> None:
    # The console opened, refreshed or turned to another page: a web mark redraws it here.
    if press.message is not None:
        shown = RollMessage(
            press.message.chat.id, press.message.message_id, press.page, press.locale
        )
        await remember(press.session, press.exam.id, shown)
    await press.redraw(Outcome.OK)


async def on_card(_query: CallbackQuery, press: RollPress) -> None:
    view = await press.roll()
    if view.line(press.student_id) is None:
        await press.refuse()
        return
    await press.query.answer()
    await press.show_card(view)


async def on_mark(_query: CallbackQuery, press: RollPress, callback_data: RollMarkCB) -> None:
    """A mark from the roll (back to the roll) or from the card (back to the card)."""
    outcome = await service.set_mark(
        press.session,
        press.teacher,
        press.query.from_user.id,
        exam_id=press.exam.id,
        student_id=press.student_id,
        action=callback_data.mark,
        now=press.clock.now(),
        rules=press.rules,
        outbox=press.outbox,
    )
    await press.redraw(outcome, card=callback_data.card)


async def on_grade(_query: CallbackQuery, press: RollPress, callback_data: RollGradeCB) -> None:
    outcome = await service.set_grade(
        press.session,
        press.teacher,
        press.query.from_user.id,
        exam_id=press.exam.id,
        student_id=press.student_id,
        grade=callback_data.grade,
        now=press.clock.now(),
        rules=press.rules,
        outbox=press.outbox,
    )
    await press.redraw(outcome, card=True)


async def on_rest_absent(_query: CallbackQuery, press: RollPress) -> None:
    """Every student not marked yet whose own start has come is marked absent, until one
    mark is refused: a later subgroup's students are not due yet."""
    view = await press.roll()
    now = press.clock.now()
    unmarked = [x.student.id for x in view.lines if x.mark is Mark.UNMARKED and x.starts_at <= now]
    outcome = Outcome.ALREADY if not unmarked else Outcome.OK
    for student_id in unmarked:
        outcome = await service.set_mark(
            press.session,
            press.teacher,
            press.query.from_user.id,
            exam_id=press.exam.id,
            student_id=student_id,
            action=MarkAction.ABSENT,
            now=now,
            rules=press.rules,
            outbox=press.outbox,
        )
        if outcome is not Outcome.OK:
            break
    await press.redraw(outcome)


async def on_ticket_menu(_query: CallbackQuery, press: RollPress) -> None:
    await press.open_menu(tickets_screen(press.exam.id, press.page))


async def on_tickets(_query: CallbackQuery, press: RollPress, callback_data: RollTicketsCB) -> None:
    outcome, _assigned = await service.hand_out_tickets(
        press.session,
        press.teacher,
        press.exam.id,
        method=callback_data.method,
        tickets=callback_data.count,
        now=press.clock.now(),
        rules=press.rules,
        outbox=press.outbox,
    )
    await press.redraw(outcome)


async def on_ticket_list(_query: CallbackQuery, press: RollPress, state: FSMContext) -> None:
    """Tickets from a list the teacher sends next (got_ticket_list)."""
    await state.set_state(TeacherTickets.ticket_list)
    await state.update_data(exam_id=press.exam.id)
    await press.query.answer()
    if press.message is not None:
        await press.message.answer(ticket_list_prompt())


async def on_split_menu(_query: CallbackQuery, press: RollPress) -> None:
    await press.open_menu(parts_screen(press.exam.id, press.page))


async def on_parts(_query: CallbackQuery, press: RollPress, callback_data: RollPartsCB) -> None:
    await press.open_menu(gaps_screen(press.exam.id, press.page, callback_data.parts))


async def on_split(
    _query: CallbackQuery, press: RollPress, callback_data: RollSplitCB, settings: Settings
) -> None:
    outcome, _chunks = await service.split(
        press.session,
        press.teacher,
        press.exam.id,
        parts=callback_data.parts,
        gap=timedelta(minutes=callback_data.minutes),
        now=press.clock.now(),
        settings=settings,
        outbox=press.outbox,
    )
    await press.redraw(outcome)


async def on_written_menu(_query: CallbackQuery, press: RollPress) -> None:
    await press.open_menu(written_screen(press.exam.id, press.page))


async def on_written(_query: CallbackQuery, press: RollPress, callback_data: RollWrittenCB) -> None:
    outcome = await service.start_written(
        press.session,
        press.teacher,
        press.exam.id,
        minutes=callback_data.minutes,
        now=press.clock.now(),
        rules=press.rules,
        outbox=press.outbox,
    )
    await press.redraw(outcome)


async def on_texts(_query: CallbackQuery, press: RollPress) -> None:
    view = await press.roll()
    await press.query.answer()
    if press.message is not None:
        await press.message.answer(aloud_text(view, press.settings))


async def on_confirm(_query: CallbackQuery, press: RollPress) -> None:
    outcome, confirmed = await service.confirm_roll(
        press.session,
        press.teacher,
        press.query.from_user.id,
        exam_id=press.exam.id,
        now=press.clock.now(),
        rules=press.rules,
        outbox=press.outbox,
    )
    if outcome is Outcome.OK and confirmed is not None:
        await press.query.answer(confirmed_toast())
        await press.show_roll(confirmed)
        await press.send_sheet(confirmed)
        return
    await press.redraw(outcome)


async def on_sheet(_query: CallbackQuery, press: RollPress) -> None:
    view = await press.roll()
    await press.query.answer()
    await press.send_sheet(view)


async def on_old_button(
    _query: CallbackQuery, press: RollPress, callback_data: RollLegacyCB
) -> None:
    """A button of the console as it was before the bot was updated (still in the chat): the
    console is drawn again with today's buttons, the teacher told to press once more."""
    await press.query.answer(console_updated(), show_alert=True)
    view = await press.roll()
    if callback_data.on_card:
        await press.show_card(view)
    else:
        await press.show_roll(view)


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
    view = await service.load_roll(session, exam, now, rules=RollRules.of(settings))
    students = {x.student.id: (x.student.full_name, x.student.record_book) for x in view.lines}
    # No ticket count is set for a list; a number past any exam's is a typo on its line.
    assigned, errors = parse_ticket_list(message.text or "", students, MAX_TICKETS)
    if errors:
        await message.answer(ticket_list_mistakes(errors))
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
    await message.answer(tickets_listed(len(present_assigned), len(absent)))


async def ticket_list_needs_it(message: Message) -> None:
    await message.answer(ticket_list_needs_text())


def setup() -> Router:
    router = Router(name="teacher-roll")
    router.callback_query.middleware(pressed_on_own_exam)
    press = router.callback_query.register
    for action, handler in (
        (RollAction.SHOW, on_show),
        (RollAction.CARD, on_card),
        (RollAction.REST_ABSENT, on_rest_absent),
        (RollAction.TICKET_MENU, on_ticket_menu),
        (RollAction.SPLIT_MENU, on_split_menu),
        (RollAction.WRITTEN_MENU, on_written_menu),
        (RollAction.TEXTS, on_texts),
        (RollAction.CONFIRM, on_confirm),
        (RollAction.SHEET, on_sheet),
    ):
        press(handler, RollCB.filter(F.action == action))
    press(on_mark, RollMarkCB.filter())
    press(on_grade, RollGradeCB.filter())
    press(on_ticket_list, RollTicketsCB.filter(F.method == TicketMethod.LIST))
    press(on_tickets, RollTicketsCB.filter(F.method != TicketMethod.LIST))
    press(on_parts, RollPartsCB.filter())
    press(on_split, RollSplitCB.filter())
    press(on_written, RollWrittenCB.filter())
    press(on_old_button, RollLegacyCB.filter())
    text_sent = (TeacherTickets.ticket_list, F.text, ~F.text.startswith("/"))
    router.message.register(got_ticket_list, *text_sent)
    router.message.register(ticket_list_needs_it, TeacherTickets.ticket_list, ~F.text)
    return router
