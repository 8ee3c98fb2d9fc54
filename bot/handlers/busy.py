"""A chat action ("sending a file…", "typing…") shown while a report or a sheet is built.

Telegram shows an action for five seconds or until the bot's next message, so it is sent
again every few seconds while the work runs. Unlike aiogram's ChatActionSender, a failed
action (a 429, a network hiccup) is only logged: it is a courtesy, and its task must not
end with an exception nobody collects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

log = logging.getLogger(__name__)

REPEAT = 4.5  # seconds: just inside the five Telegram shows an action for
WAIT = 2.0  # seconds at most for one action's request
_first_actions: set[asyncio.Task[bool]] = set()  # referenced until done (asyncio keeps none)


@contextlib.asynccontextmanager
async def showing(message: Message, action: ChatAction) -> AsyncIterator[None]:
    """Shows `action` in the message's chat until the block ends."""
    bot = message.bot
    if bot is None:  # a message not bound to a Bot (never so for an update's)
        yield
        return

    async def send() -> bool:
        try:
            # Bounded: the request middleware would wait out a 429 here, holding the work.
            async with asyncio.timeout(WAIT):
                await bot.send_chat_action(message.chat.id, action)
        except (TelegramAPIError, TimeoutError) as exc:
            log.info("chat action in %s not shown: %r", message.chat.id, exc)
            return False
        return True

    async def repeat() -> None:
        while True:
            await asyncio.sleep(REPEAT)
            if not await send():
                return

    # From tasks: the work (and its transaction) never waits on Telegram for a courtesy.
    # The first action goes out as the work begins and is not cut short when the work
    # ends first: the file itself is sent only after the commit (bot.middlewares.held).
    first = asyncio.create_task(send())
    _first_actions.add(first)
    first.add_done_callback(_first_actions.discard)
    task = asyncio.create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
