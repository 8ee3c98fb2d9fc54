"""/invite: one-time links for teachers, dean's office members and administrators."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.db.models import InviteRole
from bot.db.session import AsyncSession
from bot.domain.imports import name_key
from bot.services.actors import Actor
from bot.services.onboarding import InviteError, create_invite, dean_faculties
from bot.views.html import fmt

ROLE_WORDS = {
    "teacher": InviteRole.TEACHER,
    "преподаватель": InviteRole.TEACHER,
    "dean": InviteRole.DEAN,
    "деканат": InviteRole.DEAN,
    "декан": InviteRole.DEAN,
    "admin": InviteRole.ADMIN,
    "админ": InviteRole.ADMIN,
    "администратор": InviteRole.ADMIN,
}


def usage() -> str:
    return _(
        "How to invite:\n"
        "/invite teacher Full Name — a teacher\n"
        "/invite dean Faculty — a member of a faculty's dean's office\n"
        "/invite admin — an administrator (administrators only)"
    )


async def invite(
    message: Message, command: CommandObject, bot: Bot, actor: Actor, session: AsyncSession
) -> None:
    role_word, _sep, name = (command.args or "").strip().partition(" ")
    name = " ".join(name.split())
    role = ROLE_WORDS.get(role_word.lower())
    if role is None:
        await message.answer(usage())
        return
    if role is InviteRole.ADMIN and not actor.is_admin:
        await message.answer(_("Only an administrator can invite administrators."))
        return
    if role is InviteRole.DEAN and not actor.is_admin:
        own = {f.name for f in await dean_faculties(session, actor.dean_faculty_ids)}
        if name_key(name) not in {name_key(f) for f in own}:
            await message.answer(
                fmt(
                    _("You can invite only to your own dean's office: {faculties}."),
                    faculties=", ".join(sorted(own)),
                )
            )
            return
    if role is not InviteRole.ADMIN and not name:
        await message.answer(usage())
        return
    try:
        created = await create_invite(session, role, name=name or None)
    except InviteError as exc:
        known = ", ".join(exc.known) or "—"
        await message.answer(
            fmt(_("Unknown faculty “{name}”. Known faculties: {known}."), name=name, known=known)
        )
        return
    me = await bot.me()
    await message.answer(
        fmt(
            _(
                "One-time invite link (send it to that person only; it works once):\n"
                "https://t.me/{username}?start={token}"
            ),
            username=me.username,
            token=created.token,
        ),
    )


def setup() -> Router:
    router = Router(name="admin-invites")
    router.message.register(invite, Command("invite"))
    return router
