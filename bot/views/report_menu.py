"""/reports in chat: the menu of reports and the caption of the file sent. Apart from
bot.views.reports, which the command line also draws its reports with: the command line
never imports aiogram (seconds and ~150 MB), and this menu is aiogram's keyboard."""

from __future__ import annotations

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.keyboards.callbacks import ReportCB
from bot.services.reports import ReportKind
from bot.views.html import Html, fmt
from bot.views.reports import Report, report_title
from bot.views.screen import Screen


def reports_menu_screen() -> Screen:
    kb = InlineKeyboardBuilder()
    for kind in ReportKind:
        kb.button(text=report_title(kind), callback_data=ReportCB(kind=kind))
    kb.adjust(1)
    return Screen(_("Which report? It comes as XLSX and CSV."), kb.as_markup())


def report_caption(kind: ReportKind, report: Report) -> Html:
    rows = len(report.table.rows)
    return fmt(
        ngettext("{title}: {count} row", "{title}: {count} rows", rows),
        title=report_title(kind),
        count=rows,
    )
