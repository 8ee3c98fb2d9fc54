"""The teacher's roll console as chat shows it (and the Mini App redraws in chat): the
head with the counts, a line a student, cut into pages that fit one message and
Telegram's 100 buttons; and what each outcome of a press says."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup

from bot.config import Settings
from bot.domain.roll import Mark, outage_deadline
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.keyboards.roll import ICONS, PAGE, app_button, roll_keyboard
from bot.services.roll import Outcome, RollView
from bot.views import dates
from bot.views.html import Html, fmt, join, join_lines
from bot.views.paging import PAGE_BUDGET, clamp, pages_of
from bot.views.texts import exam_title, grade_name


def outcome_text(outcome: Outcome, settings: Settings) -> str:
    return {
        Outcome.NOT_YOURS: _("This is not one of your exams."),
        Outcome.LOCKED: _(
            "The roll is confirmed and locked. An administrator can unlock it if a "
            "correction is needed."
        ),
        Outcome.ALREADY: _("Already done."),
        Outcome.NOT_PRESENT: _("Only a student marked present can get a grade or a ticket."),
        Outcome.HAS_GRADE: _("This student already has a grade; they cannot be marked absent."),
        Outcome.TOO_LATE: fmt(
            ngettext(
                "The {minutes} minute is over: the student is recorded as absent for a valid "
                "reason (technical failure) and was told so.",
                "The {minutes} minutes are over: the student is recorded as absent for a valid "
                "reason (technical failure) and was told so.",
                int(settings.outage_wait.total_seconds() // 60),
            ),
            minutes=int(settings.outage_wait.total_seconds() // 60),
        ),
        Outcome.UNMARKED: _("Mark every student first: some are not marked yet."),
        Outcome.OUTAGE_RUNNING: _(
            "An outage clock is still running: mark it resolved, or wait until it runs out."
        ),
        Outcome.NOBODY: _("Nobody is marked present yet."),
        Outcome.INVALID: _("That does not fit this exam."),
        Outcome.STARTED: _("The exam has started: subgroups are set before the start."),
    }.get(outcome, _("Done."))


def student_lines(view: RollView, settings: Settings, locale: str) -> list[Html]:
    uni = settings.tz
    lines = []
    for number, line in enumerate(view.lines, start=1):
        parts: list[object] = [fmt("{}. {} {}", number, ICONS[line.mark], line.student.full_name)]
        if line.subgroup is not None:
            parts.append(fmt(_("sg {number}"), number=line.subgroup))
        if line.entry.ticket:
            parts.append(fmt("🎫 {}", line.entry.ticket))
        if line.entry.grade:
            parts.append(grade_name(line.entry.grade))
        if line.mark is Mark.OUTAGE and line.entry.outage_since is not None:
            parts.append(
                fmt(
                    _("outage until {clock}"),
                    clock=dates.clock(
                        outage_deadline(line.entry.outage_since, settings.outage_wait), uni, locale
                    ),
                )
            )
        lines.append(join(" · ", parts))
    return lines


def roll_head(view: RollView, settings: Settings, locale: str) -> list[object]:
    exam = view.exam
    uni = settings.tz
    c = view.counts
    lines: list[object] = [
        fmt(_("📋 <b>{title}</b>, group {group}"), title=exam_title(exam), group=exam.group.name),
        dates.when(exam.starts_at, uni, locale),
    ]
    regular = [s for s in exam.subgroups if not s.individual]
    if regular:
        lines.append(
            fmt(
                _("Subgroups: {list}"),
                list=", ".join(
                    f"{s.number} — {dates.hhmm(s.starts_at, uni, locale)}" for s in regular
                ),
            )
        )
    lines.append(
        fmt(
            _(
                "✅ {present} · 📄 {excused} · ❌ {absent} · ⚡ {outage} · ▫️ {unmarked} · "
                "total {total}"
            ),
            present=c.present,
            excused=c.excused,
            absent=c.absent,
            outage=c.outage,
            unmarked=c.unmarked,
            total=c.total,
        )
    )
    if exam.roll_confirmed_at is not None:
        lines.append(
            fmt(_("🔒 Confirmed {when}"), when=dates.when(exam.roll_confirmed_at, uni, locale))
        )
    return lines


class RollPages:
    """The roll cut into pages: at most PAGE students (two buttons each, within Telegram's
    100 buttons) and as many as fit one message, whatever the length of the names."""

    def __init__(self, view: RollView, settings: Settings, locale: str) -> None:
        self.view = view
        self.settings = settings
        self.head = join_lines(roll_head(view, settings, locale))
        self.lines = student_lines(view, settings, locale)
        budget = PAGE_BUDGET - len(self.head)
        self.ranges = pages_of(self.lines, budget, max_items=PAGE)

    def text(self, page: int) -> Html:
        shown = self.ranges[clamp(page, len(self.ranges))]
        return join_lines([self.head, "", *(self.lines[i] for i in shown)])

    def markup(self, page: int, chat_id: int | None = None) -> InlineKeyboardMarkup:
        """`chat_id`: where it is shown, for the Mini App's button (WEBAPP_URL set)."""
        page = clamp(page, len(self.ranges))
        view = self.view
        items = [
            (i + 1, view.lines[i].student.id, view.lines[i].student.full_name, view.lines[i].mark)
            for i in self.ranges[page]
        ]
        app = (
            app_button(self.settings.webapp_url, chat_id, roll=view.exam.id)
            if chat_id is not None
            else None
        )
        return roll_keyboard(
            view.exam.id,
            items,
            page,
            len(self.ranges),
            locked=view.exam.roll_confirmed_at is not None,
            app=app,
        )


def roll_text(view: RollView, page: int, settings: Settings, locale: str) -> Html:
    return RollPages(view, settings, locale).text(page)


def roll_markup(view: RollView, page: int, settings: Settings, locale: str) -> InlineKeyboardMarkup:
    return RollPages(view, settings, locale).markup(page)
