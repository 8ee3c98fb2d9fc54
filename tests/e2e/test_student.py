"""A linked student: schedule in two time zones, /tz, the .ics calendar, language, help."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar

from bot.db.models import User
from tests.e2e.conftest import BotRunner, link_student, press, say
from tests.e2e.fakeapi import FakeBotAPI, button


async def stored_user(runner: BotRunner, user_id: int) -> User:
    await runner.settle()
    async with runner.sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def calendar_file(api: FakeBotAPI, user_id: int) -> tuple[str, bytes]:
    """A student (Абдуллина) links and asks for /calendar; returns the file
    sent, its name and content."""
    student = api.user(user_id, language_code="ru")
    await link_student(api, student, "2611001", "Абдуллина")
    after = api.mark()
    student.send("/calendar")
    call = await api.wait_for("sendDocument", chat_id=student.id, after=after)
    return call.files["document"]


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


async def test_calendar_file_is_valid_icalendar(api: FakeBotAPI, seeded: BotRunner) -> None:
    filename, content = await calendar_file(api, 8003)
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


async def test_calendar_name_escapes_the_institutions_commas_and_semicolons(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """X-WR-CALNAME is TEXT (RFC 5545 3.3.11): a `,` `;` or `\\` of the institution's name
    goes escaped, or a strict reader splits the name or fails on a trailing backslash."""
    seeded.settings.institution_name = 'КГМУ, Минздрава России; "Казань" \\'
    _, content = await calendar_file(api, 8004)
    unfolded = content.replace(b"\r\n ", b"").decode()
    name = next(line for line in unfolded.split("\r\n") if line.startswith("X-WR-CALNAME"))
    assert name.endswith('— КГМУ\\, Минздрава России\\; "Казань" \\\\')
