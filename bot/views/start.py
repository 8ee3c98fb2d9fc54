"""/start as a newcomer reads it: the invite's welcome (or why the link fails), the
questions that find a student in the roster, the card to confirm, and the outcome."""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.db.models import InviteRole, Student
from bot.i18n import gettext as _
from bot.keyboards.inline import join_confirm
from bot.services.actors import Actor
from bot.services.onboarding import LinkOutcome, RedeemOutcome, RedeemResult
from bot.views import dates
from bot.views.help import help_text as help_text  # re-exported: /start ends with it
from bot.views.html import Html, fmt
from bot.views.screen import Screen


def role_name(role: InviteRole | None) -> str:
    if role is InviteRole.TEACHER:
        return _("teacher")
    if role is InviteRole.DEAN:
        return _("dean's office staff")
    return _("administrator")


def invite_refused(result: RedeemResult) -> str | None:
    """Why an invite link does not work, or None when it did."""
    if result.outcome is RedeemOutcome.UNKNOWN:
        return _("This invite link is not valid. Ask for a new one.")
    if result.outcome is RedeemOutcome.USED:
        return _("This invite link has already been used. Ask the administrator for a new one.")
    if result.outcome is RedeemOutcome.TEACHER_TAKEN:
        return fmt(
            _(
                "The teacher profile {name} is already linked to another Telegram account. "
                "Contact the administrator."
            ),
            name=result.name,
        )
    return None


def welcome(result: RedeemResult, actor: Actor) -> str:
    """The new role, and what it may do now."""
    role = role_name(result.role)
    text = (
        fmt(_("Welcome! You are now registered as {role}: {name}."), role=role, name=result.name)
        if result.name
        else fmt(_("Welcome! You are now registered as {role}."), role=role)
    )
    return text + "\n\n" + help_text(actor)


def linked_already(student: Student, actor: Actor) -> Html:
    return (
        fmt(
            _("You are linked as {name}, group {group}."),
            name=student.full_name,
            group=student.group.name,
        )
        + "\n\n"
        + help_text(actor)
    )


def hello(settings: Settings) -> Html:
    return fmt(
        _(
            "Hello! I am the exam session bot of {institution}.\n\n"
            "To find you in the roster, send your record-book number (№ зачётной книжки)."
        ),
        institution=settings.institution_name,
    )


def too_many_attempts(retry_at: datetime, settings: Settings, locale: str) -> Html:
    return fmt(
        _("Too many unsuccessful attempts. Try again after {clock} (university time)."),
        clock=dates.clock(retry_at, settings.tz, locale),
    )


def not_a_record_book() -> str:
    return _("That does not look like a record-book number. Try again.")


def surname_question() -> str:
    return _("Now send your surname (as in the roster).")


def surname_expected() -> str:
    return _("Please send your surname, or /cancel.")


def not_found(left: int) -> Html:
    return fmt(
        _(
            "No student with this record-book number and surname was found. "
            "Check both and send the record-book number again. Attempts left: {left}."
        ),
        left=left,
    )


def entry_taken() -> str:
    return _(
        "This roster entry is already linked to another Telegram account. "
        "Please contact your dean's office."
    )


def is_this_you(student: Student) -> Screen:
    text = fmt(
        _("Is this you?\n<b>{name}</b>\nGroup {group}, {faculty}"),
        name=student.full_name,
        group=student.group.name,
        faculty=student.group.faculty.name,
    )
    return Screen(text, join_confirm())


def needs_text() -> str:
    return _("Please answer with text, or /cancel.")


def try_again() -> str:
    return _("Let's try again: send /start.")


def link_outcome(outcome: LinkOutcome, student: Student | None) -> str:
    """How confirming the roster entry ended."""
    if outcome is LinkOutcome.LINKED and student is not None:
        return fmt(
            _("Done! You are linked as {name}, group {group}."),
            name=student.full_name,
            group=student.group.name,
        )
    if outcome is LinkOutcome.ALREADY:
        return _("Your Telegram account is already linked to a roster entry.")
    if outcome is LinkOutcome.TAKEN:
        return entry_taken()
    return _("Something changed in the roster. Send /start to try again.")
