"""/announce as the dean's office reads it: whom to (a button a faculty, group or exam),
the question, the preview, the progress line, and what the outcome of a step says (chat
and Mini App)."""

from __future__ import annotations

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.config import Settings
from bot.db.models import Exam, Faculty, Group
from bot.domain.announcements import Target
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.keyboards.callbacks import AnnounceActCB, AnnounceAction, AnnounceCB
from bot.services.announcements import MAX_TEXT, AnnounceOutcome, Audience
from bot.views import dates
from bot.views.html import Html, fmt
from bot.views.screen import Screen

# Groups and exams offered as buttons, at most (a faculty has fewer).
MAX_BUTTONS = 40


def outcome_text(outcome: AnnounceOutcome) -> str:
    return {
        AnnounceOutcome.EMPTY: _("There is nothing to send: write a text or attach a file."),
        AnnounceOutcome.TOO_LONG: fmt(
            ngettext(
                "That is too long: at most {limit} character.",
                "That is too long: at most {limit} characters.",
                MAX_TEXT,
            ),
            limit=MAX_TEXT,
        ),
        AnnounceOutcome.FORBIDDEN: _("You can only write to your own faculty's students."),
        AnnounceOutcome.NOBODY: _(
            "Nobody there has linked their account to the bot yet, so nobody would get it."
        ),
    }.get(outcome, "")


def targets_screen(
    found: tuple[list[Faculty], list[Group], list[Exam]], settings: Settings, locale: str
) -> Screen:
    """Whom to write to: the author's faculties, their groups, the exams near now."""
    faculties, groups, exams = found
    kb = InlineKeyboardBuilder()
    for faculty in faculties:
        kb.button(
            text=_("🏛 Whole faculty: {name}").format(name=faculty.name),
            callback_data=AnnounceCB(target=Target.FACULTY, target_id=faculty.id),
        )
    for group in groups[:MAX_BUTTONS]:
        kb.button(
            text=_("👥 Group {name}").format(name=group.name),
            callback_data=AnnounceCB(target=Target.GROUP, target_id=group.id),
        )
    for exam in exams[:MAX_BUTTONS]:
        kb.button(
            text=f"📝 {exam.discipline.name}, {exam.group.name}, "
            f"{dates.when(exam.starts_at, settings.tz, locale)}",
            callback_data=AnnounceCB(target=Target.EXAM, target_id=exam.id),
        )
    kb.adjust(1)
    return Screen(_("📢 To whom?"), kb.as_markup())


def content_question(who: Audience) -> Html:
    return fmt(
        _(
            "To {label} ({count} with the bot). Send the text — or a photo or a document "
            "with a caption. /cancel to stop."
        ),
        label=who.label,
        count=len(who.users),
    )


def content_expected() -> str:
    return _("Send a text, a photo or a document, or /cancel.")


def preview(who: Audience, text: str, *, with_file: bool) -> Screen:
    """The announcement as its recipients will read it, with Send and Cancel."""
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📤 Send"), callback_data=AnnounceActCB(action=AnnounceAction.SEND))
    kb.button(text=_("✖️ Cancel"), callback_data=AnnounceActCB(action=AnnounceAction.CANCEL))
    shown = fmt(
        ngettext(
            "<b>Preview</b> — to {label}, {count} recipient:",
            "<b>Preview</b> — to {label}, {count} recipients:",
            len(who.users),
        ),
        label=who.label,
        count=len(who.users),
    )
    shown += "\n\n" + fmt(_("📢 <b>From the dean's office</b>")) + "\n\n" + text
    if with_file:
        shown += "\n\n" + _("(with the attached file)")
    return Screen(shown, kb.as_markup())


def cancelled() -> str:
    return _("Cancelled: nothing was sent.")


def sending(number: int, total: int) -> Html:
    return fmt(
        ngettext(
            "📤 Announcement №{number}: sending to {total} recipient…",
            "📤 Announcement №{number}: sending to {total} recipients…",
            total,
        ),
        number=number,
        total=total,
    )
