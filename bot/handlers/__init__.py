"""Routers, one per module, put together in the order they must be tried.

Each module's `setup()` makes a fresh Router, so an application can be built more than
once in a process (tests restart the bot).
"""

from __future__ import annotations

from aiogram import Router

from bot.handlers.admin import invites, semester, status
from bot.handlers.common import cancel, errors, help, membership, start
from bot.handlers.dean import announce, chat, email, imports, inbox, reports
from bot.handlers.student import mydata, plan, schedule, statements, timezone, works
from bot.handlers.teacher import exams, roll


def setup_routers() -> Router:
    root = Router(name="root")
    root.include_routers(
        errors.setup(),
        membership.setup(),
        cancel.setup(),  # first: /cancel must work inside any dialogue
        start.setup(),
        help.setup(),
        schedule.setup(),
        plan.setup(),
        timezone.setup(),
        statements.setup(),
        mydata.setup(),
        exams.setup(),
        roll.setup(),
        chat.setup(),
        email.setup(),
        inbox.setup(),
        reports.setup(),
        announce.setup(),
        invites.setup(),
        status.setup(),
        semester.setup(),
        works.setup(),  # before imports: a student's PDF is their work, not an import
        imports.setup(),
        help.setup_fallback(),  # last: whatever nobody else took
    )
    return root
