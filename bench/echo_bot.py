"""The bare bot bench/updates.py compares with: aiogram 3's own polling and one reply per
message, nothing else. Imports aiogram only (no bot, no database), as such a bot would.

    TELEGRAM_API_URL=http://127.0.0.1:PORT BOT_TOKEN=... python bench/echo_bot.py
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message


async def echo(message: Message) -> None:
    await message.answer(message.text or "?")


def main() -> None:
    dispatcher = Dispatcher()
    dispatcher.message.register(echo)
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(token=os.environ["BOT_TOKEN"], session=session)
    timeout = int(os.environ.get("POLLING_TIMEOUT", "1"))
    asyncio.run(dispatcher.start_polling(bot, polling_timeout=timeout))


if __name__ == "__main__":
    main()
