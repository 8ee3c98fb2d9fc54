"""/help and /lang as the user reads them: the commands of every role they hold, the
language choice, and what is said to a message or a command nobody understood."""

from __future__ import annotations

from bot.i18n import gettext as _
from bot.keyboards.inline import languages
from bot.services.actors import Actor
from bot.views.screen import Screen


def help_text(actor: Actor) -> str:
    lines = [_("<b>What I can do</b>")]
    if actor.student is not None:
        lines += [
            _("/schedule — your upcoming exams and consultations"),
            _("/calendar — the schedule as a calendar file (.ics)"),
            _(
                "/statement — ask the dean's office: another time (time zone), an absence, "
                "or an appeal once graded"
            ),
            _("/statements — your statements and their status"),
            _("/plan — your individual study plan"),
            _("/mydata — what the bot holds about you; unlink your account"),
        ]
    else:
        lines.append(_("/start — link your account to the roster (students)"))
    lines.append(_("/tz — your time zone"))
    if actor.teacher is not None:
        lines.append(
            _("/exams — your exams: conference and Moodle links, and the roll call on the day")
        )
        if actor.student is None:
            lines.append(_("/calendar — the exams you run as a calendar file (.ics)"))
    if actor.can_import:
        lines.append(_("Send a CSV or XLSX file to import the roster or the exam schedule."))
    if actor.is_admin:
        lines.append(_("/status — the outbox of notices"))
        lines.append(_("/semester — the semester's dates (retention of the session's files)"))
        lines.append(_("/unlock N — reopen a confirmed roll"))
    if actor.is_dean or actor.is_admin:
        lines.append(_("/invite — invite a teacher, a dean's office member or an administrator"))
        lines.append(_("/email — the dean's office e-mail that gets a copy of every statement"))
    if actor.is_dean:
        lines.append(_("/inbox — undecided statements"))
        lines.append(_("/additional — the additional session's list"))
    if actor.is_dean or actor.is_admin:
        lines.append(_("/reports — reports as XLSX and CSV"))
        lines.append(_("/templates — the roster, schedule and plan templates to fill in"))
        lines.append(_("/announce — a message to a group, a faculty or an exam's students"))
        lines.append(_("/bind — in a group chat: make it your dean's office chat"))
    lines += [
        _("/lang — language"),
        _("/cancel — stop the current dialogue"),
        _("/help — this list"),
    ]
    return "\n".join(lines)


def language_choice() -> Screen:
    return Screen(_("Choose your language:"), languages())


def language_set() -> str:
    """In the language just chosen (the caller sets it)."""
    return _("Language: English")


def not_understood(actor: Actor, *, command: bool) -> str:
    prefix = _("I don't know this command.") if command else _("I didn't understand that.")
    return prefix + "\n\n" + help_text(actor)
