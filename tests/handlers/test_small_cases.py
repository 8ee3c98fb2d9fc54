"""Small cases, fed in-process (moved here from the real-HTTP tests, where a case like
these cost a second of fixtures and polling and the HTTP added nothing it checks)."""

from __future__ import annotations

from bot.db.models import User
from bot.keyboards.callbacks import LangCB, TzCB
from tests.handlers.conftest import FastBot


async def stored_user(fast: FastBot, user_id: int) -> User:
    async with fast.sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def test_unknown_command_and_free_text_get_help(fast: FastBot) -> None:
    user = fast.user(8006, language_code="en")
    reply = await fast.say(user, "/frobnicate")
    assert reply.text.startswith("I don't know this command.")
    assert "/help" in reply.text
    reply = await fast.say(user, "hello?")
    assert reply.text.startswith("I didn't understand that.")
    reply = await fast.say(user, "/schedule")
    assert "for students" in reply.text
    answer = await fast.answer(user, "some-old-button:1")
    assert "no longer valid" in answer.text
    sent = [c for c in await fast.send_photo(user) if c.method == "sendMessage"]
    assert len(sent) == 1 and "didn't understand" in sent[0].text


async def test_language_switch_and_first_language(fast: FastBot) -> None:
    kazakh = fast.user(8004, language_code="kk")
    reply = await fast.say(kazakh, "/help")
    assert "Что я умею" in reply.text
    # Neither ru nor en: DEFAULT_LOCALE (ru here; tests/e2e/test_locale.py has en).
    german = fast.user(8005, language_code="de")
    reply = await fast.say(german, "/help")
    assert "Что я умею" in reply.text
    assert (await stored_user(fast, 8005)).locale == "ru"
    menu = await fast.say(german, "/lang")
    assert menu.reply_markup is not None
    (english,) = [
        b for row in menu.reply_markup.inline_keyboard for b in row if "English" in b.text
    ]
    assert english.callback_data == LangCB(code="en").pack()
    edits = [
        c for c in await fast.press(german, english.callback_data) if c.method == "editMessageText"
    ]
    assert [c.text for c in edits] == ["Language: English"]
    assert (await stored_user(fast, 8005)).locale == "en"
    reply = await fast.say(german, "/help")
    assert "What I can do" in reply.text


async def test_time_zone_typed_as_offset_or_name(fast: FastBot) -> None:
    user = fast.user(8002, language_code="ru")
    await fast.say(user, "/tz")
    reply = await fast.say(user, "Марс/Олимп")
    assert "не знаю" in reply.text.lower() or "неизвест" in reply.text.lower()
    assert (await stored_user(fast, 8002)).tz is None
    reply = await fast.say(user, "UTC+5:30")
    assert "UTC+05:30" in reply.text
    assert (await stored_user(fast, 8002)).tz == "UTC+05:30"
    await fast.say(user, "/tz")
    reply = await fast.say(user, "america/new_york")
    assert "America/New_York" in reply.text
    # A forged zone button changes nothing.
    answer = await fast.answer(user, TzCB(zone="Nowhere/Land").pack())
    assert answer.show_alert is True
    assert (await stored_user(fast, 8002)).tz == "America/New_York"


async def test_exams_is_for_teachers_only(fast: FastBot) -> None:
    stranger = fast.user(6007, language_code="en")
    reply = await fast.say(stranger, "/exams")
    assert "for teachers" in reply.text
