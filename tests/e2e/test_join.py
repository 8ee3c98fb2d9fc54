"""A student joins: record book, surname, confirm; wrong data, the attempt limit, forgery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models import LoginAttempt, Student
from bot.keyboards.callbacks import JoinCB
from tests.e2e.conftest import BotRunner, link_student, press, say
from tests.e2e.fakeapi import FakeBotAPI, button


async def linked_user(runner: BotRunner, record_book: str) -> int | None:
    await runner.settle()
    async with runner.sessionmaker() as session:
        student = await session.scalar(select(Student).where(Student.record_book == record_book))
        assert student is not None
        return student.user_id


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_student_links_in_russian(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(5001, first_name="Артём", language_code="ru")
    reply = await say(api, student, "/start")
    assert "номер своей зачётной книжки" in reply["text"]
    reply = await say(api, student, "2611002")
    assert "фамилию" in reply["text"]
    # Case and ё/е do not matter.
    reply = await say(api, student, "БЕЛОВ")
    assert "Белов Артём Сергеевич" in reply["text"]
    assert "1101" in reply["text"]
    reply = await press(api, student, reply, button(reply, "Да")["callback_data"])
    assert "Белов Артём Сергеевич" in reply["text"]
    assert await linked_user(seeded, "2611002") == 5001
    reply = await say(api, student, "/schedule")
    assert "Анатомия" in reply["text"]


async def test_the_number_sent_twice_is_not_a_failed_attempt(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """A student who sends the record-book number again (the bot was slow to answer) is
    asked for the surname again, and no attempt is spent."""
    student = api.user(5005, language_code="en")
    await say(api, student, "/start")
    await say(api, student, "2611002")
    reply = await say(api, student, "2611002")
    assert reply["text"] == "Now send your surname (as in the roster)."
    reply = await say(api, student, "Белов")
    assert "Белов Артём Сергеевич" in reply["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        spent = await session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.user_id == 5005)
        )
    assert spent == 0


async def test_yo_and_e_are_the_same_letter(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(5002, language_code="en")
    await link_student(api, student, "2611004", "елкина")
    assert await linked_user(seeded, "2611004") == 5002


async def test_wrong_data_counts_attempts_and_locks_after_five(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    guesser = api.user(5003, language_code="en")
    await say(api, guesser, "/start")
    for left in (4, 3, 2, 1):
        await say(api, guesser, "2611002")
        reply = await say(api, guesser, "Петров")
        assert f"Attempts left: {left}" in reply["text"]
    await say(api, guesser, "2611002")
    reply = await say(api, guesser, "Петров")
    assert "Too many unsuccessful attempts" in reply["text"]
    # Even the right data is refused now, and nothing gets linked.
    reply = await say(api, guesser, "/start")
    assert "Too many unsuccessful attempts" in reply["text"]
    assert await linked_user(seeded, "2611002") is None
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.user_id == 5003)
        )
    assert count == 5
    # An hour later the window has passed.
    seeded.clock.move(timedelta(hours=1, minutes=1))
    await link_student(api, guesser, "2611002", "Белов")
    assert await linked_user(seeded, "2611002") == 5003


async def test_entry_linked_to_another_account_is_refused(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    owner = api.user(5004, language_code="en")
    await link_student(api, owner, "2611001", "Абдуллина")
    intruder = api.user(5005, language_code="en")
    await say(api, intruder, "/start")
    await say(api, intruder, "2611001")
    reply = await say(api, intruder, "Абдуллина")
    assert "contact your dean's office" in reply["text"]
    assert await linked_user(seeded, "2611001") == 5004


async def test_forged_confirm_without_a_match_changes_nothing(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    forger = api.user(5006, language_code="en")
    menu = await say(api, forger, "/help")
    update = forger.click(menu, JoinCB(confirm=True).pack())
    answer = await api.callback_answer(update)
    assert answer.params.get("show_alert") is True
    assert "no longer valid" in answer.params["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        assert await session.scalar(select(Student).where(Student.user_id == 5006)) is None


async def test_two_fast_taps_on_confirm_link_once(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(5007, language_code="en")
    await say(api, student, "/start")
    await say(api, student, "2611003")
    reply = await say(api, student, "Гарипов")
    data = button(reply, "Yes")["callback_data"]
    first = student.click(reply, data)
    second = student.click(reply, data)
    await api.callback_answer(first)
    late = await api.callback_answer(second)
    assert "no longer valid" in late.params.get("text", "")
    assert await linked_user(seeded, "2611003") == 5007
    linked_messages = [m for m in api.messages(5007) if "Done!" in m.get("text", "")]
    assert len(linked_messages) == 1
