"""/exams: a teacher's upcoming exams, with buttons to post the conference and Moodle links."""

from __future__ import annotations

import math

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.domain.exams import EventKind
from bot.handlers.replies import answer_long, next_page
from bot.handlers.states import TeacherLink
from bot.keyboards.callbacks import ExamAction, ExamCB, Listing, PageCB
from bot.keyboards.inline import exam_links
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.reminders import announce_link
from bot.services.schedule import LinkField, LinkOutcome, set_exam_link, teacher_exam, teacher_exams
from bot.views.html import fmt
from bot.views.paging import clamp, pager_row
from bot.views.texts import exam_title, teacher_card

# One message per exam keeps every exam's buttons next to it; the rest are a page away.
EXAMS_PAGE = 10


async def list_exams(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    await _exams_page(message, actor, session, settings, clock, 0)


async def exams_page_pressed(
    query: CallbackQuery,
    callback_data: PageCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    if not isinstance(query.message, Message):
        await query.answer(_("This is not one of your exams."), show_alert=True)
        return
    await next_page(query)
    await _exams_page(query.message, actor, session, settings, clock, callback_data.page)


async def _exams_page(
    target: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    page: int,
) -> None:
    assert actor.teacher is not None
    exams = await teacher_exams(session, actor.teacher, clock.now())
    if not exams:
        await target.answer(_("You have no upcoming exams."))
        return
    pages = max(1, math.ceil(len(exams) / EXAMS_PAGE))
    page = clamp(page, pages)
    if page == 0:
        await target.answer(_("Your upcoming exams: {count}").format(count=len(exams)))
    shown = exams[page * EXAMS_PAGE : (page + 1) * EXAMS_PAGE]
    for exam in shown:
        await answer_long(
            target,
            teacher_card(exam, settings.tz, actor.locale),
            reply_markup=exam_links(exam.id, roll=exam.kind == EventKind.EXAM),
        )
    row = pager_row(page, pages, lambda p: PageCB(listing=Listing.EXAMS, page=p))
    if row:
        first = page * EXAMS_PAGE + 1
        await target.answer(
            fmt(
                _("Exams {first}–{last} of {total}."),
                first=first,
                last=first + len(shown) - 1,
                total=len(exams),
            ),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[row]),
        )


async def ask_link(
    query: CallbackQuery,
    callback_data: ExamCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
) -> None:
    exam = await teacher_exam(session, actor.teacher, callback_data.exam_id)
    if exam is None:
        await query.answer(_("This is not one of your exams."), show_alert=True)
        return
    await state.set_state(TeacherLink.url)
    await state.update_data(exam_id=exam.id, field=callback_data.action.value)
    await query.answer()
    prompt = (
        _("Send the conference link for {title} (http:// or https://), or /cancel.")
        if callback_data.action is ExamAction.LINK
        else _("Send the Moodle link for {title} (http:// or https://), or /cancel.")
    )
    if isinstance(query.message, Message):
        await query.message.answer(fmt(prompt, title=exam_title(exam)))


async def got_link(
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
    field = LinkField(data.get("field", LinkField.CONFERENCE))
    outcome, exam = await set_exam_link(
        session, actor.teacher, int(data.get("exam_id", 0)), field, message.text or ""
    )
    if outcome is LinkOutcome.INVALID:
        await message.answer(
            _("This is not a link. Send an address starting with http:// or https://, or /cancel.")
        )
        return
    await state.clear()
    if outcome is not LinkOutcome.OK or exam is None:
        await message.answer(_("This is not one of your exams."))
        return
    if field is LinkField.CONFERENCE:
        await announce_link(session, exam, clock.now(), settings, outbox=outbox)
    await answer_long(
        message,
        _("Saved.") + "\n\n" + teacher_card(exam, settings.tz, actor.locale),
        reply_markup=exam_links(exam.id, roll=exam.kind == EventKind.EXAM),
    )


async def link_needs_text(message: Message) -> None:
    await message.answer(_("Send the link as text, or /cancel."))


def setup() -> Router:
    router = Router(name="teacher-exams")
    router.message.register(list_exams, Command("exams"))
    router.callback_query.register(ask_link, ExamCB.filter())
    router.callback_query.register(exams_page_pressed, PageCB.filter(F.listing == Listing.EXAMS))
    router.message.register(got_link, TeacherLink.url, F.text, ~F.text.startswith("/"))
    router.message.register(link_needs_text, TeacherLink.url, ~F.text)
    return router
