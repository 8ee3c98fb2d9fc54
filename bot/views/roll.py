"""The teacher's roll console as chat shows it (and the Mini App redraws in chat): the
head with the counts, a line a student, cut into pages that fit one message and
Telegram's 100 buttons; a student's card; the menus for tickets, subgroups and written
work; the texts to say aloud; and what each outcome of a press says."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup

from bot.config import Settings
from bot.domain.roll import Mark, grades_for, outage_deadline
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.keyboards.roll import (
    ICONS,
    PAGE,
    app_button,
    card_keyboard,
    roll_keyboard,
    split_menu,
    tickets_menu,
    written_menu,
)
from bot.services.roll import Outcome, RollView, texts_aloud
from bot.views import dates
from bot.views.html import Html, bold, code, fmt, join, join_lines
from bot.views.paging import PAGE_BUDGET, clamp, pages_of
from bot.views.screen import Screen
from bot.views.texts import exam_title, grade_name, mark_name


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
            pages=len(self.ranges),
            locked=view.exam.roll_confirmed_at is not None,
            app=app,
        )


def roll_text(view: RollView, page: int, settings: Settings, *, locale: str) -> Html:
    return RollPages(view, settings, locale).text(page)


def roll_markup(
    view: RollView, page: int, settings: Settings, *, locale: str
) -> InlineKeyboardMarkup:
    return RollPages(view, settings, locale).markup(page)


def press_answer(outcome: Outcome, settings: Settings) -> tuple[str | None, bool]:
    """What a console press is answered with: (the text, whether as an alert). A press
    that did what it said is answered silently; a double tap with a toast."""
    if outcome is Outcome.OK:
        return None, False
    if outcome is Outcome.ALREADY:
        return _("Already done."), False
    return outcome_text(outcome, settings), True


def card_screen(
    view: RollView, student_id: int, page: int, *, settings: Settings, locale: str
) -> Screen:
    """A student's card: who, the state, the subgroup, the outage's clock, the ticket, the
    grade; and the marks and grades to set."""
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
    markup = card_keyboard(
        view.exam.id,
        student_id,
        page,
        mark=line.mark,
        pass_fail=view.exam.pass_fail,
        grades=grades_for(view.exam.pass_fail),
    )
    return Screen(join_lines(lines), markup)


def tickets_screen(exam_id: int, page: int) -> Screen:
    return Screen(
        _("🎫 How are tickets handed out to the present students?"), tickets_menu(exam_id, page)
    )


def parts_screen(exam_id: int, page: int) -> Screen:
    return Screen(_("👥 Into how many subgroups?"), split_menu(exam_id, page, None))


def gaps_screen(exam_id: int, page: int, parts: int) -> Screen:
    text = fmt(
        ngettext(
            "👥 {count} subgroup, alphabetically. How far apart do they start?",
            "👥 {count} subgroups, alphabetically. How far apart do they start?",
            parts,
        ),
        count=parts,
    )
    return Screen(text, split_menu(exam_id, page, parts))


def written_screen(exam_id: int, page: int) -> Screen:
    return Screen(
        _("✍️ How long is the written work? The clock starts when you choose."),
        written_menu(exam_id, page),
    )


def console_updated() -> str:
    """A press on a console button from before the bot was updated: nothing was done."""
    return _(
        "The bot has been updated: the roll call is shown again. Nothing was changed, "
        "press the button once more."
    )


def confirmed_toast() -> str:
    return _("🔒 The roll is confirmed. The sheet follows.")


def sheet_caption(view: RollView) -> Html:
    return fmt(_("Attendance sheet: {title}"), title=exam_title(view.exam))


def aloud_text(view: RollView, settings: Settings) -> Html:
    """What the teacher says on the recording, in Russian as the regulation words it."""
    aloud = texts_aloud(view, settings.tz)
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
    blocks.append(_("Recording file name:") + join("", ("\n" + code(n) for n in aloud.file_names)))
    return join("\n\n", blocks)


def ticket_list_prompt() -> str:
    return _(
        "Send the list, a line per student: surname (or full name, or record "
        "book) and the ticket number, e.g. «Иванова 7». Or /cancel."
    )


def ticket_list_needs_text() -> str:
    return _("Send the list as text, or /cancel.")


def ticket_list_mistakes(errors: list[tuple[int, str]]) -> Html:
    """The lines of a sent ticket list that are wrong, and why; nothing was handed out."""
    reasons = {
        "unknown": _("nobody of this group"),
        "ambiguous": _("more than one student matches: give the full name"),
        "bad_number": _("no ticket number"),
        "duplicate": _("this student is already listed"),
        "out_of_range": _("the number is out of range"),
    }
    return Html(
        _("The list has mistakes; nothing was handed out. Fix these lines and send it again:")
    ) + join(
        "",
        (
            "\n" + fmt(_("line {line}: {reason}"), line=line, reason=reasons.get(code, code))
            for line, code in errors
        ),
    )


def tickets_listed(given: int, absent: int) -> Html:
    text = fmt(_("🎫 Tickets handed out: {count}."), count=given)
    if absent:
        text += "\n" + fmt(_("Not present, so not given: {count}."), count=absent)
    return text
