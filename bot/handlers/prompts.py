"""Questions whose typed answer the bot waits for, in private and in group chats.

A bot's privacy mode is on by default, and then Telegram delivers from a group only
commands, replies to the bot's own messages, @mentions and service messages: a plain
message typed after "write the reason" never reaches the bot. So in a group the question
is a `ForceReply(selective=True)` that mentions the member who pressed (their app opens
a reply to it; nobody else's does), and only their reply to it is the answer. A reply by
someone else is refused politely; a plain message is ignored, as Telegram does not send
it anyway. In a private chat every message arrives, and a plain one answers too.

The question's message ids live in the asker's dialogue data (`PROMPTS`) and, to tell
another member whose question it was, in the group's own data (a storage key of the
chat with itself as the user).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import Chat, ForceReply, Message, User

from bot.middlewares.held import after_commit
from bot.views.common import question_for

GROUP_CHATS = frozenset({"group", "supergroup"})
PROMPTS = "prompt_messages"  # in the asker's dialogue data: ids of questions put to them
_KEPT = 50  # the group remembers its latest questions only


def _group_prompts(state: FSMContext, chat_id: int) -> FSMContext:
    key = replace(state.key, chat_id=chat_id, user_id=chat_id, destiny="group-prompts")
    return FSMContext(storage=state.storage, key=key)


async def ask(bot: Bot, chat: Chat, who: User, *, text: str, state: FSMContext) -> None:
    """Puts the question `text` (HTML) to `who` in `chat`; the dialogue's state must be
    set already (the answer is handled in it)."""
    if chat.type not in GROUP_CHATS:
        await bot.send_message(chat.id, text)
        return

    async def put() -> None:
        # After the commit (bot.middlewares.held): its message id is what the answer
        # replies to, kept in the dialogue's data by a transaction of its own.
        sent = await bot.send_message(
            chat.id,
            f"{who.mention_html()}\n{text}",
            reply_markup=ForceReply(force_reply=True, selective=True),
        )
        data = await state.get_data()
        await state.update_data({PROMPTS: [*data.get(PROMPTS, []), sent.message_id]})
        group = _group_prompts(state, chat.id)
        asked: dict[str, Any] = await group.get_data()
        asked[str(sent.message_id)] = {"id": who.id, "name": who.full_name}
        await group.set_data(dict(list(asked.items())[-_KEPT:]))

    after_commit(put)


async def answers_prompt(message: Message, state: FSMContext) -> bool:
    """Filter: the message answers the question put to its sender (in a group: it is a
    reply to that question)."""
    if message.chat.type not in GROUP_CHATS:
        return True
    replied = message.reply_to_message
    if replied is None:
        return False
    return replied.message_id in (await state.get_data()).get(PROMPTS, [])


async def answered(message: Message, state: FSMContext) -> None:
    """Forgets the group's questions to the sender once answered (call before clearing
    the state)."""
    if message.chat.type not in GROUP_CHATS:
        return
    ids = {str(i) for i in (await state.get_data()).get(PROMPTS, [])}
    group = _group_prompts(state, message.chat.id)
    asked: dict[str, Any] = await group.get_data()
    await group.set_data({k: v for k, v in asked.items() if k not in ids})


async def someone_elses_prompt(
    message: Message, state: FSMContext, bot: Bot
) -> dict[str, Any] | bool:
    """Filter: a reply in a group to a question the bot put to another member; passes
    `asked` (their id and name) on."""
    replied = message.reply_to_message
    if (
        message.chat.type not in GROUP_CHATS
        or replied is None
        or replied.from_user is None
        or replied.from_user.id != bot.id
    ):
        return False
    asked = (await _group_prompts(state, message.chat.id).get_data()).get(str(replied.message_id))
    if asked is None or message.from_user is None or asked["id"] == message.from_user.id:
        return False
    return {"asked": asked}


async def not_yours(message: Message, asked: dict[str, Any]) -> None:
    await message.reply(question_for(asked["name"]))
