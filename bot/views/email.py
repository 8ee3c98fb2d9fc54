"""/email as the dean's office reads it: the faculties' addresses for copies of the
statements, how to set one, and what setting it did."""

from __future__ import annotations

from bot.db.models import Faculty
from bot.i18n import gettext as _
from bot.views.html import Html, fmt, join_lines


def usage() -> str:
    return _(
        "Send /email name@university.ru to get a copy of every statement by e-mail, "
        "/email off to stop. With several faculties, add the faculty's name: "
        "/email name@university.ru Faculty name"
    )


def listing(faculties: list[Faculty]) -> Html:
    lines = [fmt(_("<b>Dean's office e-mail</b> (a copy of every statement goes there):"))]
    for faculty in faculties:
        lines.append(fmt("{}: {}", faculty.name, faculty.email or _("not set")))
    return join_lines(lines) + "\n\n" + usage()


def no_faculties() -> str:
    return _("There are no faculties yet: import the roster first.")


def not_an_address(text: str) -> Html:
    return fmt(_("“{text}” is not an e-mail address."), text=text[:100]) + "\n" + usage()


def which_faculty(own: list[Faculty], name: str) -> Html:
    """No faculty chosen (several are the dean's), or none of theirs by that name."""
    names = ", ".join(f.name for f in own)
    if not name:
        return fmt(_("Which faculty? Add its name after the address. Yours: {names}"), names=names)
    return fmt(
        _("No faculty of yours is called “{name}”. Yours: {names}"), name=name.strip(), names=names
    )


def may_not_set() -> str:
    return _("Only the dean's office or an administrator can set this.")


def email_set(faculty: Faculty, address: str | None, *, smtp: bool) -> Html:
    """What changed; a copy that cannot go out yet (no SMTP_URL) is said so."""
    if address is None:
        return fmt(_("Statements of {faculty} are no longer e-mailed."), faculty=faculty.name)
    reply = fmt(
        _("Every new statement of {faculty} will also be e-mailed to {address}."),
        faculty=faculty.name,
        address=address,
    )
    if not smtp:
        reply += "\n" + _(
            "E-mail is not set up on the server yet (SMTP_URL), so nothing is sent until it is."
        )
    return reply
