"""/email: the dean's office (or an admin) sets the faculty's e-mail, which gets a copy of
every statement. `/email` shows it, `/email name@university.ru` sets it, `/email off`
clears it; a faculty's name after it chooses the faculty when there is more than one
(in a bound dean's office chat, that chat's faculty is meant)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

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
from bot.views import email as view

OFF = "off"


async def email_command(
    message: Message,
    command: CommandObject,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
) -> None:
    own = await manageable_faculties(session, actor.is_admin, actor.dean_faculty_ids)
    if not own:
        await message.answer(view.no_faculties())
        return
    word, _space, name = (command.args or "").strip().partition(" ")
    if not word:
        await message.answer(view.listing(own))
        return
    if word.casefold() == OFF:
        address = None
    else:
        address = normalize_address(word)
        if address is None:
            await message.answer(view.not_an_address(word))
            return
    faculty = await _which(session, message, own, name)
    if faculty is None:
        await message.answer(view.which_faculty(own, name))
        return
    changed = await set_faculty_email(
        session, actor.is_admin, actor.dean_faculty_ids, faculty_id=faculty.id, address=address
    )
    if changed is None:  # chosen from the actor's own list, so only a race gets here
        await message.answer(view.may_not_set())
        return
    await message.answer(view.email_set(changed, address, smtp=settings.smtp is not None))


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
