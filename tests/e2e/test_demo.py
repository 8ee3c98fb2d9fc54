"""`python -m bot demo` fills an empty database; the printed student and teacher then use the
bot through the fake Bot API; a second run on the filled database is refused."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.db.models import Exam, Student, Teacher
from tests.e2e.conftest import TOKEN, BotRunner, MovableClock, link_student, press, say
from tests.e2e.fakeapi import MESSAGE_METHODS, FakeBotAPI, FakeUser, button


@pytest.fixture
def clock() -> MovableClock:
    # The demo's session is relative to the real now (it runs in its own process).
    return MovableClock(datetime.now(UTC))


async def run_demo(
    api: FakeBotAPI, settings: Settings, cwd: Path, locale: str = "ru"
) -> tuple[int, str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BOT_USERNAME", "DATABASE_URL", "TELEGRAM_API_URL", "TIMEZONE"}
    }
    env.update(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=settings.database_url,
        DEFAULT_LOCALE=locale,  # the demo prints in it
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        env=env,
        cwd=cwd,  # no .env of the developer's there
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def answer(api: FakeBotAPI, user: FakeUser, command: str, marker: str) -> dict[str, Any]:
    """The bot's answer to the command: its next message in the chat containing `marker`."""
    after = api.mark()
    user.send(command)
    call = await api.wait_for(
        "sendMessage",
        chat_id=user.id,
        after=after,
        predicate=lambda c: marker in str(c.params.get("text")),
    )
    assert isinstance(call.result, dict)
    return call.result


async def counts(runner: BotRunner) -> tuple[int, int, int]:
    async with runner.sessionmaker() as session:
        return (
            await session.scalar(select(func.count()).select_from(Student)) or 0,
            await session.scalar(select(func.count()).select_from(Exam)) or 0,
            await session.scalar(select(func.count()).select_from(Teacher)) or 0,
        )


async def test_demo_then_the_printed_student_and_teacher(
    api: FakeBotAPI, settings: Settings, clock: MovableClock, tmp_path: Path
) -> None:
    code, out, err = await run_demo(api, settings, tmp_path)
    assert code == 0, err
    # The links carry the bot's username, asked of the (fake) Bot API.
    teacher_token, dean_token, admin_token = re.findall(
        r"https://t\.me/examinator_test_bot\?start=([\w-]+)", out
    )
    found = re.search(r"номер зачётной книжки (\S+) и фамилию (\S+)", out)
    assert found is not None, out
    book, surname = found.groups()
    assert "через 30 минут" in out and "завтра" in out and "вчера" in out
    # DEFAULT_LOCALE=ru throughout: no English line in the printout.
    assert not re.search(r"\b(teacher|student|tomorrow|Invite)\b", out), out

    runner = BotRunner(api, settings, clock)
    await runner.start()
    try:
        assert await counts(runner) == (11, 4, 1)

        student = api.user(31001, language_code="ru")
        await link_student(api, student, book, surname)
        # (The outbox sends the student today's exam card meanwhile: wait for the answers.)
        schedule = await answer(api, student, "/schedule", "/calendar")
        assert "Анатомия" in schedule["text"] and "Гистология" not in schedule["text"]
        # Yesterday's test is graded: an appeal can be filed today.
        menu = await answer(api, student, "/statement", "?")
        chosen = await press(api, student, menu, button(menu, "Биохимия")["callback_data"])
        assert button(chosen, "Апелляция")

        teacher = api.user(31002, language_code="ru")
        welcome = await say(api, teacher, f"/start {teacher_token}")
        assert "Смирнова Елена Викторовна" in welcome["text"]
        after = api.mark()
        teacher.send("/exams")
        # The exam cards come paced, one a message: wait for today's, not for a quiet spell.
        sent = await api.wait_for(
            MESSAGE_METHODS,
            chat_id=teacher.id,
            after=after,
            predicate=lambda c: c.ok and "Анатомия — экзамен" in str(c.params.get("text")),
            timeout=15,
        )
        [card] = [
            m for m in api.messages(teacher.id) if m["message_id"] == sent.result["message_id"]
        ]
        after = api.mark()
        teacher.click(card, button(card, "📋")["callback_data"])
        roll = await api.wait_for(
            MESSAGE_METHODS,
            chat_id=teacher.id,
            after=after,
            predicate=lambda c: "Абдуллина Алия Ринатовна" in str(c.params.get("text")),
        )
        assert "Белов Артём Сергеевич" in str(roll.params["text"])  # the whole group 101

        for token, user_id, role in ((dean_token, 31003, "декан"), (admin_token, 31004, "адм")):
            reply = await say(api, api.user(user_id, language_code="ru"), f"/start {token}")
            assert role in reply["text"].lower(), reply["text"]
        await runner.settle()
        async with runner.sessionmaker() as session:
            linked = await session.scalar(select(Student).where(Student.record_book == book))
            teacher_row = await session.scalar(select(Teacher))
        assert linked is not None and linked.user_id == student.id
        assert teacher_row is not None and teacher_row.user_id == teacher.id
    finally:
        await runner.stop()

    # A database with data in it is refused, in one line, and left as it was.
    code, out, err = await run_demo(api, settings, tmp_path, locale="en")
    assert code != 0
    assert out == "" and len(err.strip().splitlines()) == 1 and "fills only an empty one" in err
    await runner.start()
    try:
        assert await counts(runner) == (11, 4, 1)
    finally:
        await runner.stop()
