"""A user blocking or unblocking the bot: remembered, so nobody is messaged in vain."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from bot.services.actors import Actor


async def blocked(event: ChatMemberUpdated, actor: Actor) -> None:
    actor.user.is_active = False


async def unblocked(event: ChatMemberUpdated, actor: Actor) -> None:
    actor.user.is_active = True


def setup() -> Router:
    router = Router(name="membership")
    router.my_chat_member.register(blocked, ChatMemberUpdatedFilter(member_status_changed=KICKED))
    router.my_chat_member.register(unblocked, ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    return router
