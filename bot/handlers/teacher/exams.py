"""/exams: a teacher's upcoming exams, with buttons to post the conference and Moodle links."""

from __future__ import annotations

import math

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.handlers.replies import answer_long, next_page, show
from bot.handlers.states import TeacherLink
from bot.keyboards.callbacks import ExamCB, Listing, PageCB
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.reminders import announce_link
from bot.services.schedule import LinkField, LinkOutcome, set_exam_link, teacher_exam, teacher_exams
from bot.views import exams as view
from bot.views.paging import clamp
from bot.views.texts import not_your_exam

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
        await query.answer(not_your_exam(), show_alert=True)
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
        await target.answer(view.no_exams())
        return
    pages = max(1, math.ceil(len(exams) / EXAMS_PAGE))
    page = clamp(page, pages)
    if page == 0:
        await target.answer(view.exams_count(len(exams)))
    shown = exams[page * EXAMS_PAGE : (page + 1) * EXAMS_PAGE]
    for exam in shown:
        item = view.exam_item(exam, settings, actor.locale)
        await answer_long(target, item.text, reply_markup=item.markup)
    pager = view.exams_pager(
        page, pages, first=page * EXAMS_PAGE + 1, shown=len(shown), total=len(exams)
    )
    if pager is not None:
        await show(target, pager)


async def ask_link(
    query: CallbackQuery,
    callback_data: ExamCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
) -> None:
    exam = await teacher_exam(session, actor.teacher, callback_data.exam_id)
    if exam is None:
        await query.answer(not_your_exam(), show_alert=True)
        return
    await state.set_state(TeacherLink.url)
    await state.update_data(exam_id=exam.id, field=callback_data.action.value)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(view.link_prompt(callback_data.action, exam))


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
        session, actor.teacher, int(data.get("exam_id", 0)), field=field, text=message.text or ""
    )
    if outcome is LinkOutcome.INVALID:
        await message.answer(view.not_a_link())
        return
    await state.clear()
    if outcome is not LinkOutcome.OK or exam is None:
        await message.answer(not_your_exam())
        return
    await announce_link(
        session,
        exam,
        clock.now(),
        settings=settings,
        outbox=outbox,
        moodle=field is LinkField.MOODLE,
    )
    saved = view.exam_item(exam, settings, actor.locale, saved=True)
    await answer_long(message, saved.text, reply_markup=saved.markup)


async def link_needs_text(message: Message) -> None:
    await message.answer(view.link_needs_text())


def setup() -> Router:
    router = Router(name="teacher-exams")
    router.message.register(list_exams, Command("exams"))
    router.callback_query.register(ask_link, ExamCB.filter())
    router.callback_query.register(exams_page_pressed, PageCB.filter(F.listing == Listing.EXAMS))
    router.message.register(got_link, TeacherLink.url, F.text, ~F.text.startswith("/"))
    router.message.register(link_needs_text, TeacherLink.url, ~F.text)
    return router
