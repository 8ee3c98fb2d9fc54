"""/exams as a teacher reads it: their upcoming exams, a message each with its buttons
(the conference and Moodle links, the roll on an exam's day), paged, and the prompts for
a link."""

from __future__ import annotations

from bot.config import Settings
from bot.db.models import Exam
from bot.domain.exams import EventKind
from bot.i18n import gettext as _
from bot.keyboards.callbacks import ExamAction, Listing
from bot.keyboards.inline import exam_links
from bot.views.html import Html, fmt
from bot.views.paging import pager_screen
from bot.views.screen import Screen
from bot.views.texts import exam_title, teacher_card


def no_exams() -> str:
    return _("You have no upcoming exams.")


def exams_count(count: int) -> str:
    return _("Your upcoming exams: {count}").format(count=count)


def exam_item(exam: Exam, settings: Settings, locale: str, *, saved: bool = False) -> Screen:
    """An exam's card with its buttons; `saved`: after a link was set."""
    card = teacher_card(exam, settings.tz, locale)
    text = _("Saved.") + "\n\n" + card if saved else card
    return Screen(text, exam_links(exam.id, roll=exam.kind == EventKind.EXAM))


def exams_pager(page: int, pages: int, *, first: int, shown: int, total: int) -> Screen | None:
    """◀ n/N ▶ under the last exam of a page, when there are more pages."""
    text = fmt(
        _("Exams {first}–{last} of {total}."), first=first, last=first + shown - 1, total=total
    )
    return pager_screen(Listing.EXAMS, page, pages, text=text)


def link_prompt(action: ExamAction, exam: Exam) -> Html:
    prompt = (
        _("Send the conference link for {title} (http:// or https://), or /cancel.")
        if action is ExamAction.LINK
        else _("Send the Moodle link for {title} (http:// or https://), or /cancel.")
    )
    return fmt(prompt, title=exam_title(exam))


def not_a_link() -> str:
    return _("This is not a link. Send an address starting with http:// or https://, or /cancel.")


def link_needs_text() -> str:
    return _("Send the link as text, or /cancel.")
