"""/semester: an admin sets the next semester's dates; when it begins, the past session's
recordings and works are to be destroyed (bot.services.semester does it)."""

from __future__ import annotations

from datetime import date

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.db.session import AsyncSession
from bot.domain.imports import parse_date
from bot.services.actors import Actor
from bot.services.semester import SemesterOutcome, semesters, set_semester
from bot.views.html import fmt


def _day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


async def semester(
    message: Message, command: CommandObject, actor: Actor, session: AsyncSession
) -> None:
    parts = (command.args or "").split()
    if not parts:
        known = await semesters(session)
        lines = [_("Semesters (start — end):")] + [
            f"• {_day(s.starts_on)} — {_day(s.ends_on)}"
            + (" ✓" if s.retention_done_at is not None else "")
            for s in known
        ]
        if not known:
            lines = [_("No semester is set yet.")]
        lines.append(_("Set one: /semester 09.02.2027 30.06.2027"))
        await message.answer("\n".join(lines))
        return
    start = parse_date(parts[0]) if len(parts) == 2 else None
    end = parse_date(parts[1]) if len(parts) == 2 else None
    if start is None or end is None:
        await message.answer(_("Send the start and the end, e.g. /semester 09.02.2027 30.06.2027."))
        return
    outcome = await set_semester(
        session, start, end, message.from_user.id if message.from_user else None
    )
    if outcome is SemesterOutcome.BAD_ORDER:
        await message.answer(_("The end must come after the start. Nothing was changed."))
        return
    await message.answer(
        fmt(
            _(
                "Semester {start} — {end} saved. On {start}, teachers are reminded to destroy "
                "the past session's recordings and written works, and the bot deletes the "
                "documents it kept."
            ),
            start=_day(start),
            end=_day(end),
        )
    )


def setup() -> Router:
    router = Router(name="admin-semester")
    router.message.register(semester, Command("semester"))
    return router
