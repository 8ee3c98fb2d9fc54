"""/reports: the dean's (own faculties) and the admin's (all) reports as XLSX and CSV."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.handlers.busy import showing
from bot.handlers.replies import show
from bot.keyboards.callbacks import ReportCB
from bot.services.actors import Actor
from bot.services.reports import report_data
from bot.services.roll import RollRules
from bot.services.sheets import table_csv, table_xlsx
from bot.views.report_menu import report_caption, reports_menu_screen
from bot.views.reports import render_report


def _scope(actor: Actor) -> frozenset[int] | None:
    """An admin sees every faculty; a dean their own."""
    return None if actor.is_admin else actor.dean_faculty_ids


async def reports_menu(message: Message, actor: Actor) -> None:
    await show(message, reports_menu_screen())


async def report_pressed(
    query: CallbackQuery,
    callback_data: ReportCB,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    kind = callback_data.kind
    await query.answer()
    if not isinstance(query.message, Message):
        return
    async with showing(query.message, ChatAction.UPLOAD_DOCUMENT):
        data = await report_data(
            session, kind, _scope(actor), now=clock.now(), rules=RollRules.of(settings)
        )
        report = render_report(data, settings)
        caption = report_caption(kind, report)
        await query.message.answer_document(
            BufferedInputFile(table_xlsx(report.table), filename=f"{report.file_name}.xlsx"),
            caption=caption,
        )
        await query.message.answer_document(
            BufferedInputFile(table_csv(report.table), filename=f"{report.file_name}.csv")
        )


def setup() -> Router:
    router = Router(name="dean-reports")
    router.message.register(reports_menu, Command("reports"))
    router.callback_query.register(report_pressed, ReportCB.filter())
    return router
