"""What a command or a button of a role one does not hold is answered with: whom it is
for (bot.handlers.refusals). Nothing is changed by such a press."""

from __future__ import annotations

from enum import StrEnum

from bot.i18n import gettext as _


class Refusal(StrEnum):
    STUDENTS = "students"
    TEACHERS = "teachers"
    ADMINS = "admins"
    DEAN_OFFICE = "dean_office"
    NOT_YOUR_EXAM = "not_your_exam"
    DECIDE = "decide"
    BIND = "bind"
    INVITES = "invites"
    EMAIL = "email"
    REPORTS = "reports"
    ANNOUNCEMENTS = "announcements"
    ANNOUNCE_TO = "announce_to"  # a target outside one's faculties
    IMPORTS = "imports"


def refusal(kind: Refusal) -> str:
    return {
        Refusal.STUDENTS: _(
            "This command is for students. Send /start to link your account to the roster."
        ),
        Refusal.TEACHERS: _(
            "This command is for teachers. Ask the administrator for an invite link."
        ),
        Refusal.ADMINS: _("This command is for administrators."),
        Refusal.DEAN_OFFICE: _("This command is for the dean's office."),
        Refusal.NOT_YOUR_EXAM: _("This is not one of your exams."),
        Refusal.DECIDE: _("Only the dean's office of the student's faculty can decide this."),
        Refusal.BIND: _("Only a member of the dean's office can bind this chat."),
        Refusal.INVITES: _("Only the dean's office or an administrator can make invites."),
        Refusal.EMAIL: _("Only the dean's office or an administrator can set this."),
        Refusal.REPORTS: _("Reports are for the dean's office and administrators."),
        Refusal.ANNOUNCEMENTS: _("Announcements are for the dean's office and administrators."),
        Refusal.ANNOUNCE_TO: _("You can only write to your own faculty's students."),
        Refusal.IMPORTS: _(
            "I accept roster and schedule files only from the dean's office or an administrator."
        ),
    }[kind]
