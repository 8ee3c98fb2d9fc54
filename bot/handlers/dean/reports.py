"""/reports: the dean's (own faculties) and the admin's (all) reports as XLSX and CSV."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.handlers.busy import showing
from bot.i18n import ngettext
from bot.keyboards.callbacks import ReportCB
from bot.services.actors import Actor
from bot.services.reports import ReportKind, report_data
from bot.services.roll import RollRules
from bot.services.sheets import table_csv, table_xlsx
from bot.views.html import fmt
from bot.views.reports import render_report, report_title


def _scope(actor: Actor) -> frozenset[int] | None:
    """An admin sees every faculty; a dean their own."""
    return None if actor.is_admin else actor.dean_faculty_ids


async def reports_menu(message: Message, actor: Actor) -> None:
    kb = InlineKeyboardBuilder()
    for kind in ReportKind:
        kb.button(text=report_title(kind), callback_data=ReportCB(kind=kind))
    kb.adjust(1)
    await message.answer(_("Which report? It comes as XLSX and CSV."), reply_markup=kb.as_markup())


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
        caption = fmt(
            ngettext("{title}: {count} row", "{title}: {count} rows", len(report.table.rows)),
            title=report_title(kind),
            count=len(report.table.rows),
        )
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
