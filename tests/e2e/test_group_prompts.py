"""The dean's office chat under privacy mode: questions are ForceReply prompts to the dean
who pressed, answered by a reply; plain messages and other members' replies change nothing."""

from __future__ import annotations

from typing import Any

from bot.db.models import InviteRole
from tests.e2e.conftest import BotRunner, deanery_chat, join_by_invite, link_student, press, say
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, button
from tests.e2e.test_statements import start_absence, stored


async def _card(
    api: FakeBotAPI, runner: BotRunner, student: FakeUser, group: dict[str, Any]
) -> dict[str, Any]:
    """An absence statement filed by the student; its card in the deanery chat (and the
    scan after it, sent before this returns)."""
    await link_student(api, student, "2611022", "Каримов")
    ack = await start_absence(api, student, "Латинский язык", "Illness", "ОРВИ & <грипп>")
    after = api.mark()
    api.send_photo(student, b"\xff\xd8\xff scan")
    ack = await api.next_message(student.id, after=after)
    preview = await press(api, student, ack, button(ack, "Done")["callback_data"])
    after = api.mark()
    await press(api, student, preview, button(preview, "Send")["callback_data"])
    card = await api.next_message(group["id"], after=after)
    await api.wait_for("sendPhoto", group["id"], lambda c: c.ok, after)
    await runner.settle()
    return card


async def _prompt(
    api: FakeBotAPI, runner: BotRunner, dean: FakeUser, card: dict[str, Any], label: str
) -> Any:
    after = api.mark()
    await api.callback_answer(dean.click(card, button(card, label)["callback_data"]))
    call = await api.wait_for("sendMessage", chat_id=card["chat"]["id"], after=after)
    # The prompt's id is kept right after Telegram returns it (a step after the commit);
    # a person's reply takes seconds, the test's would not.
    await runner.settle()
    return call


async def test_rejection_reason_is_a_reply_to_the_prompt(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    assert api.privacy_mode  # Telegram's default, as for the real bot
    dean = api.user(12010, first_name="Ольга & <Ко>", language_code="ru")
    group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100_912)
    colleague = api.user(12011, first_name="Пётр", language_code="ru")
    await join_by_invite(api, seeded, colleague, InviteRole.DEAN, "Лечебный факультет")
    student = api.user(12012, language_code="en")
    card = await _card(api, seeded, student, group)

    call = await _prompt(api, seeded, dean, card, "Отклонить")
    assert call.params["reply_markup"] == {"force_reply": True, "selective": True}
    prompt = call.result
    # It mentions the dean who pressed (their name escaped), so only their app opens a reply.
    assert 'href="tg://user?id=12010"' in call.params["text"]
    assert prompt["text"].startswith("Ольга & <Ко>\n") and "причину" in prompt["text"]

    # A plain message in the group never reaches the bot: Telegram keeps it back.
    dean.send("Нет печати", chat=group)
    assert api.withheld[-1]["message"]["text"] == "Нет печати"
    # A colleague's reply to the prompt reaches the bot and is refused politely.
    after = api.mark()
    colleague.reply(prompt, "Я отклоню сам")
    refusal = await api.next_message(group["id"], after=after)
    assert "Этот вопрос — для Ольга & <Ко>" in refusal["text"]
    [statement] = await stored(seeded)
    assert (statement.status, statement.decision_comment) == ("submitted", None)

    # The dean's reply is the reason; the student is told it.
    after = api.mark()
    dean.reply(prompt, "Справка без печати & <подписи>")
    told = await api.next_message(student.id, after=after)
    assert "is rejected" in told["text"] and "Справка без печати & <подписи>" in told["text"]
    [statement] = await stored(seeded)
    assert statement.status == "rejected" and statement.decided_by == 12010
    assert statement.decision_comment == "Справка без печати & <подписи>"
    # Answered: another reply to the old prompt is nobody's answer any more.
    after = api.mark()
    colleague.reply(prompt, "ещё")
    await seeded.settle()
    await api.idle(quiet=0.2)
    assert [c for c in api.calls[after:] if c.chat_id == group["id"]] == []


async def test_with_privacy_off_a_plain_message_is_no_answer(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """A bot whose privacy mode was turned off (BotFather /setprivacy) sees every message:
    still only the reply to the prompt answers it."""
    api.privacy_mode = False
    dean = api.user(12020, first_name="Декан", language_code="ru")
    group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100_913)
    student = api.user(12022, language_code="en")
    card = await _card(api, seeded, student, group)
    prompt = (await _prompt(api, seeded, dean, card, "Запросить")).result

    after = api.mark()
    dean.send("Обсудим позже", chat=group)
    dean.send("/inbox", chat=group)  # a command does not answer either
    inbox = await api.next_message(group["id"], after=after)
    assert "Нерассмотренных заявлений: 1" in inbox["text"]
    [statement] = await stored(seeded)
    assert (statement.status, statement.decision_comment) == ("submitted", None)
    assert api.withheld == []

    after = api.mark()
    dean.reply(prompt, "Пришлите справку с печатью")
    question = await api.next_message(student.id, after=after)
    assert "Пришлите справку с печатью" in question["text"]
    [statement] = await stored(seeded)
    assert statement.status == "submitted"  # it stays open for the student's answer
    assert statement.decision_comment == "Пришлите справку с печатью"


async def test_new_time_in_the_group_is_a_reply(api: FakeBotAPI, seeded: BotRunner) -> None:
    dean = api.user(12030, first_name="Декан", language_code="en")
    group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100_914)
    student = api.user(12032, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    menu = await say(api, student, "/statement")
    reply = await press(api, student, menu, button(menu, "Латинский язык")["callback_data"])
    reply = await press(api, student, reply, button(reply, "time zone")["callback_data"])
    await say(api, student, "Asia/Vladivostok")
    reply = await say(api, student, "14:00–18:00")
    preview = await press(api, student, reply, button(reply, "Skip")["callback_data"])
    after = api.mark()
    await press(api, student, preview, button(preview, "Send")["callback_data"])
    card = await api.next_message(group["id"], after=after)

    after = api.mark()
    await api.callback_answer(dean.click(card, button(card, "Одобрить")["callback_data"]))
    call = await api.wait_for(
        "sendMessage",
        chat_id=group["id"],
        after=after,
        predicate=lambda c: "new date and time" in str(c.params.get("text")),
    )
    assert call.params["reply_markup"] == {"force_reply": True, "selective": True}
    dean.send("23.12.2026 14:00", chat=group)  # not a reply: withheld
    after = api.mark()
    dean.reply(call.result, "23.12.2026 14:00")
    moved = await api.next_message(group["id"], after=after)
    assert "Wed 23 Dec, 14:00 Moscow time" in moved["text"]  # no teacher linked: moved at once
    [statement] = await stored(seeded)
    assert statement.new_start is not None
