"""/email: the dean's office (or an admin) sets the faculty's e-mail, which gets a copy of
every statement. `/email` shows it, `/email name@university.ru` sets it, `/email off`
clears it; a faculty's name after it chooses the faculty when there is more than one
(in a bound dean's office chat, that chat's faculty is meant)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.db.models import Faculty
from bot.db.session import AsyncSession
from bot.domain.mail import normalize_address
from bot.services.actors import Actor
from bot.services.deanery_mail import (
    chat_faculty,
    faculty_named,
    manageable_faculties,
    set_faculty_email,
)
from bot.views.html import Html, fmt, join_lines

OFF = "off"


def _usage() -> str:
    return _(
        "Send /email name@university.ru to get a copy of every statement by e-mail, "
        "/email off to stop. With several faculties, add the faculty's name: "
        "/email name@university.ru Faculty name"
    )


def _listing(faculties: list[Faculty]) -> Html:
    lines = [fmt(_("<b>Dean's office e-mail</b> (a copy of every statement goes there):"))]
    for faculty in faculties:
        lines.append(fmt("{}: {}", faculty.name, faculty.email or _("not set")))
    return join_lines(lines)


async def email_command(
    message: Message,
    command: CommandObject,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
) -> None:
    own = await manageable_faculties(session, actor.is_admin, actor.dean_faculty_ids)
    if not own:
        await message.answer(_("There are no faculties yet: import the roster first."))
        return
    word, _space, name = (command.args or "").strip().partition(" ")
    if not word:
        await message.answer(_listing(own) + "\n\n" + _usage())
        return
    if word.casefold() == OFF:
        address = None
    else:
        address = normalize_address(word)
        if address is None:
            await message.answer(
                fmt(_("“{text}” is not an e-mail address."), text=word[:100]) + "\n" + _usage()
            )
            return
    faculty = await _which(session, message, own, name)
    if faculty is None:
        await message.answer(
            fmt(
                _("Which faculty? Add its name after the address. Yours: {names}"),
                names=", ".join(f.name for f in own),
            )
            if not name
            else fmt(
                _("No faculty of yours is called “{name}”. Yours: {names}"),
                name=name.strip(),
                names=", ".join(f.name for f in own),
            )
        )
        return
    changed = await set_faculty_email(
        session, actor.is_admin, actor.dean_faculty_ids, faculty.id, address
    )
    if changed is None:  # chosen from the actor's own list, so only a race gets here
        await message.answer(_("Only the dean's office or an administrator can set this."))
        return
    if address is None:
        await message.answer(
            fmt(_("Statements of {faculty} are no longer e-mailed."), faculty=changed.name)
        )
        return
    reply = fmt(
        _("Every new statement of {faculty} will also be e-mailed to {address}."),
        faculty=changed.name,
        address=address,
    )
    if settings.smtp is None:
        reply += "\n" + _(
            "E-mail is not set up on the server yet (SMTP_URL), so nothing is sent until it is."
        )
    await message.answer(reply)


async def _which(
    session: AsyncSession, message: Message, own: list[Faculty], name: str
) -> Faculty | None:
    """The faculty meant: named, this dean's office chat's, or the only one there is."""
    if name.strip():
        return faculty_named(own, name)
    bound = await chat_faculty(session, message.chat.id)
    if bound is not None:
        return next((f for f in own if f.id == bound), None)
    return own[0] if len(own) == 1 else None


def setup() -> Router:
    router = Router(name="dean-email")
    router.message.register(email_command, Command("email"))
    return router
