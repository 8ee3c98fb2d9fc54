"""/invite: one-time links for teachers, dean's office members and administrators."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.db.models import InviteRole
from bot.db.session import AsyncSession
from bot.domain.imports import name_key
from bot.services.actors import Actor
from bot.services.onboarding import InviteError, create_invite, dean_faculties
from bot.views import admin as view

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


async def invite(
    message: Message, command: CommandObject, bot: Bot, actor: Actor, session: AsyncSession
) -> None:
    role_word, _sep, name = (command.args or "").strip().partition(" ")
    name = " ".join(name.split())
    role = ROLE_WORDS.get(role_word.lower())
    if role is None:
        await message.answer(view.invite_usage())
        return
    if role is InviteRole.ADMIN and not actor.is_admin:
        await message.answer(view.admins_only_invite())
        return
    if role is InviteRole.DEAN and not actor.is_admin:
        own = {f.name for f in await dean_faculties(session, actor.dean_faculty_ids)}
        if name_key(name) not in {name_key(f) for f in own}:
            await message.answer(view.own_dean_office_only(own))
            return
    if role is not InviteRole.ADMIN and not name:
        await message.answer(view.invite_usage())
        return
    try:
        created = await create_invite(session, role, name=name or None)
    except InviteError as exc:
        await message.answer(view.unknown_faculty(name, exc.known))
        return
    me = await bot.me()
    await message.answer(view.invite_link(me.username, created.token))


def setup() -> Router:
    router = Router(name="admin-invites")
    router.message.register(invite, Command("invite"))
    return router
