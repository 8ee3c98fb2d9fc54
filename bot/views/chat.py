"""/bind as the dean's office reads it: which faculty's chat this is, and why binding it
is refused."""

from __future__ import annotations

from bot.db.models import Faculty
from bot.i18n import gettext as _
from bot.keyboards.inline import faculties
from bot.views.html import Html, fmt
from bot.views.screen import Screen


def which_faculty(own: list[Faculty]) -> Screen:
    return Screen(_("Which faculty's dean's office is this chat?"), faculties(own))


def bound_elsewhere() -> str:
    return _(
        "This chat is already another faculty's dean's office chat: only a member of "
        "that dean's office can bind it anew."
    )


def bound(faculty: Faculty) -> Html:
    return fmt(
        _("This chat is now the dean's office chat of {faculty}. Requests will arrive here."),
        faculty=faculty.name,
    )


def not_this_faculty() -> str:
    return _("Only a member of this faculty's dean's office can choose it.")


def bind_in_a_group() -> str:
    return _("Add me to your dean's office group chat and send /bind there.")
