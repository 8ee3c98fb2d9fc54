"""The administrators' commands as they read them: /invite's links and refusals,
/semester's dates, /unlock's outcome (and /status, in bot.views.texts.summary_text)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from bot.db.models import Semester
from bot.i18n import gettext as _
from bot.views.html import Html, fmt


def invite_usage() -> str:
    return _(
        "How to invite:\n"
        "/invite teacher Full Name — a teacher\n"
        "/invite dean Faculty — a member of a faculty's dean's office\n"
        "/invite admin — an administrator (administrators only)"
    )


def admins_only_invite() -> str:
    return _("Only an administrator can invite administrators.")


def own_dean_office_only(own: Iterable[str]) -> Html:
    return fmt(
        _("You can invite only to your own dean's office: {faculties}."),
        faculties=", ".join(sorted(own)),
    )


def unknown_faculty(name: str, known: list[str]) -> Html:
    return fmt(
        _("Unknown faculty “{name}”. Known faculties: {known}."),
        name=name,
        known=", ".join(known) or "—",
    )


def invite_link(username: str | None, token: str) -> Html:
    return fmt(
        _(
            "One-time invite link (send it to that person only; it works once):\n"
            "https://t.me/{username}?start={token}"
        ),
        username=username,
        token=token,
    )


def _day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def semesters_list(known: list[Semester]) -> str:
    """The semesters (✓: the past session's files destroyed), and how to set one."""
    if known:
        lines = [_("Semesters (start — end):")] + [
            f"• {_day(s.starts_on)} — {_day(s.ends_on)}"
            + (" ✓" if s.retention_done_at is not None else "")
            for s in known
        ]
    else:
        lines = [_("No semester is set yet.")]
    lines.append(_("Set one: /semester 09.02.2027 30.06.2027"))
    return "\n".join(lines)


def semester_usage() -> str:
    return _("Send the start and the end, e.g. /semester 09.02.2027 30.06.2027.")


def semester_bad_order() -> str:
    return _("The end must come after the start. Nothing was changed.")


def semester_saved(start: date, end: date) -> Html:
    return fmt(
        _(
            "Semester {start} — {end} saved. On {start}, teachers are reminded to destroy "
            "the past session's recordings and written works, and the bot deletes the "
            "documents it kept."
        ),
        start=_day(start),
        end=_day(end),
    )


def unlock_usage() -> str:
    return _("Send /unlock and the exam's number, e.g. /unlock 42.")


def unlocked(exam_id: int, *, done: bool) -> Html:
    if not done:
        return fmt(_("Exam {number} does not exist or its roll is not confirmed."), number=exam_id)
    return fmt(
        _("The roll of exam {number} is open again; the teacher can correct and confirm it."),
        number=exam_id,
    )
