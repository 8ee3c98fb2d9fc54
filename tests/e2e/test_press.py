"""The harness's press(): its answer is the bot's answer to that press, never a message
the bot sent the chat meanwhile for another reason (an outbox notice)."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.keyboards.callbacks import LangCB
from tests.e2e.conftest import BotRunner, Gate, press, say
from tests.e2e.fakeapi import FakeBotAPI


async def notice_during_press(
    api: FakeBotAPI, seeded: BotRunner, user_id: int
) -> tuple[Gate, dict[str, Any]]:
    """/lang asked; its press will be held. Returns the hold and the language menu."""
    assert seeded.app is not None
    hold = Gate()
    seeded.app.dispatcher.callback_query.middleware(hold)
    user = api.user(user_id, language_code="en")
    menu = await say(api, user, "/lang")
    assert menu["text"] == "Choose your language:"
    return hold, menu


async def test_an_edit_answering_a_press_is_told_from_a_notice_sent_first(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    hold, menu = await notice_during_press(api, seeded, 9401)
    user = api.user(9401, language_code="en")
    pressing = asyncio.create_task(press(api, user, menu, LangCB(code="en").pack()))
    await hold.entered.wait()
    assert seeded.app is not None
    # Sent to the chat while the press is handled, not by it (as the outbox sender does).
    await seeded.app.sender._bot.send_message(user.id, "A notice from the outbox")
    hold.opened.set()
    answer = await pressing
    assert answer["_method"] == "editMessageText"
    assert answer["message_id"] == menu["message_id"]
    assert answer["text"] == "Language: English"
    # The help the press sends after its edit: the next message, not the notice again.
    assert (await api.next_message(user.id))["text"].startswith("What I can do")


async def test_a_message_answering_a_press_is_told_from_a_notice_sent_first(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """An old menu pressed (its message gone): the answer is a new message of the press."""
    hold, menu = await notice_during_press(api, seeded, 9402)
    user = api.user(9402, language_code="en")
    assert seeded.app is not None
    await seeded.app.bot.delete_message(user.id, menu["message_id"])
    pressing = asyncio.create_task(press(api, user, menu, LangCB(code="en").pack()))
    await hold.entered.wait()
    await seeded.app.sender._bot.send_message(user.id, "A notice from the outbox")
    hold.opened.set()
    answer = await pressing
    assert answer["_method"] == "sendMessage"
    assert answer["text"].startswith("What I can do")
    sent = [m["text"] for m in api.messages(user.id)]
    assert "A notice from the outbox" in sent
