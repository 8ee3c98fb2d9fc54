"""A linked student: schedule in two time zones, /tz, the .ics calendar, language, help."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar

from bot.db.models import User
from bot.keyboards.callbacks import TzCB
from tests.e2e.conftest import BotRunner, link_student, press, say
from tests.e2e.fakeapi import FakeBotAPI, button


async def stored_user(runner: BotRunner, user_id: int) -> User:
    await runner.settle()
    async with runner.sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def test_schedule_in_university_and_own_time(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(8001, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    reply = await say(api, student, "/schedule")
    # Group 1102: Latin on 23 Dec 08:30 and Histology on 28 Dec 10:00, Moscow time.
    text = reply["text"]
    assert text.index("Латинский язык") < text.index("Гистология")
    assert "Wed 23 Dec, 08:30 Moscow time" in text
    assert "for you" not in text
    assert "Set yours with /tz" in text

    menu = await say(api, student, "/tz")
    novosibirsk = button(menu, "Novosibirsk")
    reply = await press(api, student, menu, novosibirsk["callback_data"])
    assert "Asia/Novosibirsk" in reply["text"]
    assert (await stored_user(seeded, 8001)).tz == "Asia/Novosibirsk"
    reply = await say(api, student, "/schedule")
    assert "Wed 23 Dec, 08:30 Moscow time (for you 12:30 Novosibirsk time)" in reply["text"]


async def test_time_zone_typed_as_offset_or_name(api: FakeBotAPI, seeded: BotRunner) -> None:
    user = api.user(8002, language_code="ru")
    await say(api, user, "/tz")
    reply = await say(api, user, "Марс/Олимп")
    assert "не знаю" in reply["text"].lower() or "неизвест" in reply["text"].lower()
    assert (await stored_user(seeded, 8002)).tz is None
    reply = await say(api, user, "UTC+5:30")
    assert "UTC+05:30" in reply["text"]
    assert (await stored_user(seeded, 8002)).tz == "UTC+05:30"
    await say(api, user, "/tz")
    reply = await say(api, user, "america/new_york")
    assert "America/New_York" in reply["text"]
    # A forged zone button changes nothing.
    update = user.click(reply, TzCB(zone="Nowhere/Land").pack())
    answer = await api.callback_answer(update)
    assert answer.params.get("show_alert") is True
    assert (await stored_user(seeded, 8002)).tz == "America/New_York"


async def test_calendar_file_is_valid_icalendar(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(8003, language_code="ru")
    await link_student(api, student, "2611001", "Абдуллина")
    after = api.mark()
    student.send("/calendar")
    call = await api.wait_for("sendDocument", chat_id=student.id, after=after)
    filename, content = call.files["document"]
    assert filename == "exams.ics"
    assert b"\r\n" in content  # RFC 5545 line endings
    calendar = Calendar.from_ical(content)
    events = sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    assert [str(e.get("summary")) for e in events] == [
        "Анатомия — консультация",
        "Анатомия — экзамен",
    ]
    consultation, exam = events
    # 11 Jan 2027 14:00 Moscow = 11:00 UTC; 90 minutes.
    assert consultation.decoded("dtstart") == datetime(2027, 1, 11, 11, 0, tzinfo=UTC)
    assert consultation.decoded("dtend") == datetime(2027, 1, 11, 12, 30, tzinfo=UTC)
    assert (
        str(consultation.get("url")) == "https://my.mts-link.ru/j/71234/1101-anatomy-consultation"
    )
    assert "Смирнова Елена Викторовна" in str(exam.get("description"))
    assert len({str(e.get("uid")) for e in events}) == 2


async def test_language_switch_and_first_language(api: FakeBotAPI, seeded: BotRunner) -> None:
    kazakh = api.user(8004, language_code="kk")
    reply = await say(api, kazakh, "/help")
    assert "Что я умею" in reply["text"]
    # Neither ru nor en: DEFAULT_LOCALE (ru here; tests/e2e/test_locale.py has en).
    german = api.user(8005, language_code="de")
    reply = await say(api, german, "/help")
    assert "Что я умею" in reply["text"]
    assert (await stored_user(seeded, 8005)).locale == "ru"
    menu = await say(api, german, "/lang")
    reply = await press(api, german, menu, button(menu, "English")["callback_data"])
    assert reply["text"] == "Language: English"
    assert (await stored_user(seeded, 8005)).locale == "en"
    reply = await say(api, german, "/help")
    assert "What I can do" in reply["text"]


async def test_unknown_command_and_free_text_get_help(api: FakeBotAPI, seeded: BotRunner) -> None:
    user = api.user(8006, language_code="en")
    reply = await say(api, user, "/frobnicate")
    assert reply["text"].startswith("I don't know this command.")
    assert "/help" in reply["text"]
    reply = await say(api, user, "hello?")
    assert reply["text"].startswith("I didn't understand that.")
    reply = await say(api, user, "/schedule")
    assert "for students" in reply["text"]
    stale = user.click(reply, "some-old-button:1")
    answer = await api.callback_answer(stale)
    assert "no longer valid" in answer.params["text"]
    photo_reply_after = api.mark()
    api.send_photo(user, b"\x89PNG fake")
    reply = await api.next_message(user.id, after=photo_reply_after)
    assert "didn't understand" in reply["text"]
