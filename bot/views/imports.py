"""A file sent to import, as the dean's office reads the answer: what was imported, every
row's error, the plan's warnings, a file refused; and the templates' captions."""

from __future__ import annotations

from bot.config import Settings
from bot.i18n import gettext as _
from bot.services.imports import ImportReport, TableKind
from bot.services.reminders import PlanReport
from bot.views.html import Html, fmt
from bot.views.texts import distance_warning_text, import_result_text, plan_warning_text


def too_large(settings: Settings) -> Html:
    return fmt(_("The file is too large: the limit is {mb:g} MB."), mb=settings.max_upload_mb)


def imported(kind: TableKind | None, report: ImportReport, planned: PlanReport | None) -> Html:
    """Every row error is listed (the reply is split between messages if it is long)."""
    text = import_result_text(kind or TableKind.ROSTER, report)
    text += distance_warning_text(report.distance_excesses)
    if planned is not None:
        text += plan_warning_text(planned)
    return text


def templates_intro() -> str:
    return _(
        "Three templates: fill them in (or send them back as they are, to try) — each is "
        "imported when you send it to me."
    )


def template_caption(name: str) -> str:
    return {
        "roster.xlsx": _("The roster: one student a row."),
        "schedule.xlsx": _(
            "The schedule: dates as DD.MM.YYYY, times in the university's time zone; the "
            "teacher and the links may stay empty."
        ),
        "plan.xlsx": _(
            "Individual study plans (appendix 1): import them after the roster, whose record "
            "books they name."
        ),
    }[name]
