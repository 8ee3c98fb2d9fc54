"""The pieces of "commit, then speak" on their own: the roll's edit coalescer, a failed
reply turned into an outbox message and back (end to end: tests/e2e/test_replies.py,
tests/integration/test_update_outages.py)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters

from bot.middlewares.held import as_message
from bot.notify.edits import EditCoalescer
from bot.notify.stored_replies import reply_parts, stored_message

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="✅ О'Нил & <Ко>", callback_data="rl:mark:1")]]
)


class RecordingBot:
    """Stands in for a Bot: records (when, chat, text) of each request; refuses the first
    `refuse` with a 429."""

    def __init__(self, refuse: int = 0) -> None:
        self.sent: list[tuple[float, Any, str]] = []
        self.refuse = refuse
        self.default = DefaultBotProperties(parse_mode=ParseMode.HTML)

    async def __call__(self, method: TelegramMethod[Any]) -> Any:
        await asyncio.sleep(0.01)  # a round trip
        if self.refuse:
            self.refuse -= 1
            raise TelegramRetryAfter(method, "Too Many Requests: retry after 1", 1)
        self.sent.append((time.monotonic(), getattr(method, "chat_id", None), _text(method)))
        return True


def _text(method: TelegramMethod[Any]) -> str:
    return str(getattr(method, "text", ""))


def edit(chat: int, text: str, message: int = 1) -> EditMessageText:
    return EditMessageText(chat_id=chat, message_id=message, text=text, reply_markup=KEYBOARD)


async def test_the_latest_state_wins_at_the_chats_pace() -> None:
    bot = RecordingBot()
    edits = EditCoalescer(interval=0.3)
    for n in range(10):  # ten taps in 0.45 s in one chat, three in another
        edits.submit(cast(Bot, bot), edit(1, f"roll after tap {n}"))
        if n < 3:
            edits.submit(cast(Bot, bot), edit(2, f"other roll {n}"))
        await asyncio.sleep(0.05)
    await asyncio.wait_for(edits.wait_idle(), 5)
    first_chat = [(at, text) for at, chat, text in bot.sent if chat == 1]
    assert first_chat[0][1] == "roll after tap 0"  # the first tap shows at once
    assert first_chat[-1][1] == "roll after tap 9"  # the last state always shows
    assert len(first_chat) <= 3  # not one edit per tap
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(first_chat)]
    assert all(gap >= 0.3 for gap in gaps)
    # The other chat is paced on its own, not behind the first.
    assert [text for _at, chat, text in bot.sent if chat == 2][-1] == "other roll 2"
    assert edits.idle and edits.replaced >= 7


async def test_a_refused_edit_waits_and_then_shows_the_latest_state() -> None:
    bot = RecordingBot(refuse=1)
    edits = EditCoalescer(interval=0.05)
    edits.submit(cast(Bot, bot), edit(1, "tap 1"))
    await asyncio.sleep(0.1)  # refused: 429, retry after 1 s
    edits.submit(cast(Bot, bot), edit(1, "tap 2"))
    started = time.monotonic()
    await asyncio.wait_for(edits.wait_idle(), 5)
    assert [text for _at, _chat, text in bot.sent] == ["tap 2"]
    assert time.monotonic() - started >= 0.8  # waited for the retry_after


def test_a_failed_text_goes_to_the_outbox_as_a_message() -> None:
    edited = as_message(edit(7, "Statement №3 is submitted & <kept>"))
    assert edited is not None
    assert (edited.chat_id, edited.text) == (7, "Statement №3 is submitted & <kept>")
    assert edited.reply_markup == KEYBOARD
    sent = SendMessage(chat_id=7, text="hi")
    assert as_message(sent) is sent
    # Nothing to say later: a button answer, a keyboard removed, an inline message.
    assert as_message(AnswerCallbackQuery(callback_query_id="1")) is None
    assert as_message(EditMessageReplyMarkup(chat_id=7, message_id=1)) is None
    assert as_message(EditMessageText(inline_message_id="x", text="t")) is None


async def test_a_stored_reply_is_sent_as_it_was_to_be() -> None:
    bot = RecordingBot()
    method = SendMessage(
        chat_id=7,
        text="<b>Д'Артаньян</b> &amp; co",
        reply_markup=KEYBOARD,
        reply_parameters=ReplyParameters(message_id=5),
    )
    stored = stored_message(cast(Bot, bot), method)
    assert stored["parse_mode"] == "HTML"  # the bot's default, written down
    assert "reply_parameters" not in stored and "chat_id" not in stored
    requests: list[TelegramMethod[Any]] = []

    async def capture(request: TelegramMethod[Any]) -> bool:
        requests.append(request)
        return True

    [part] = reply_parts({"messages": [stored]})
    await part(cast(Bot, capture), 7)
    [again] = requests
    assert isinstance(again, SendMessage)
    assert (again.chat_id, again.text, again.parse_mode) == (7, method.text, "HTML")
    assert again.reply_markup == KEYBOARD
