"""A statement holds at most MAX_STATEMENT_FILES documents: a follow-up past that is told so
at once, adds nothing and sends the dean's office no empty follow-up."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db.models import InviteRole, StatementFile
from bot.domain.statements import MAX_FILES, MAX_STATEMENT_FILES
from tests.e2e.conftest import BotRunner, join_by_invite, link_student, press, say
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, button
from tests.e2e.test_statements import open_statement, start_absence

ABSENCE_TEXT = "Больна, справка & <выписка> «из поликлиники»"


async def files_held(runner: BotRunner) -> int:
    await runner.settle()
    async with runner.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(StatementFile)) or 0)


async def send_album(api: FakeBotAPI, student: FakeUser, name: str, count: int) -> None:
    after = api.mark()
    for n in range(count):
        api.send_photo(student, b"\xff\xd8\xff" + f"{name} {n}".encode(), media_group_id=name)
    await api.next_message(student.id, after=after)


async def test_a_statement_full_of_documents_refuses_more_and_tells_the_student(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    dean = api.user(11040, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    student = api.user(11041, language_code="ru")
    await link_student(api, student, "2611023", "Соколова")
    ask = await start_absence(
        api, student, "Гистология", "Болезнь", ABSENCE_TEXT, absence="Отсутствие"
    )
    await send_album(api, student, "first", MAX_FILES)
    preview = await press(api, student, ask, button(ask, "Готово")["callback_data"])
    await press(api, student, preview, button(preview, "Отправить")["callback_data"])
    # One follow-up fills the statement up to its limit.
    listing = await say(api, student, "/statements")
    prompt = await press(api, student, listing, button(listing, "документы")["callback_data"])
    await send_album(api, student, "second", MAX_FILES)
    done = await press(api, student, prompt, button(prompt, "Готово")["callback_data"])
    assert "Добавлено" in done["text"]
    assert await files_held(seeded) == MAX_STATEMENT_FILES

    # Another: the photo is refused at once, in Russian, and Done adds nothing.
    listing = await say(api, student, "/statements")
    prompt = await press(api, student, listing, button(listing, "документы")["callback_data"])
    after = api.mark()
    api.send_photo(student, b"\xff\xd8\xff one too many")
    refused = await api.next_message(student.id, after=after)
    assert f"уже {MAX_STATEMENT_FILES} документов" in refused["text"]
    after = api.mark()
    clicked = student.click(prompt, button(prompt, "Готово")["callback_data"])
    answer = await api.callback_answer(clicked)
    assert answer.params.get("show_alert") is True
    assert await files_held(seeded) == MAX_STATEMENT_FILES
    assert not [c for c in api.calls[after:] if "Добавлено" in str(c.params.get("text"))]
    # The office heard of the one follow-up that added something, and of no other (its
    # documents go out at the chat's pace: wait until the bot has gone quiet).
    await api.idle(quiet=1.5, timeout=60)
    follow_ups = [
        c
        for c in api.delivered(dean.id)
        if c.method == "sendMessage" and "more documents" in str(c.params.get("text"))
    ]
    assert len(follow_ups) == 1


def count_said(api: FakeBotAPI, after: int, user: FakeUser, words: str) -> int:
    return sum(
        1
        for c in api.calls[after:]
        if c.method == "sendMessage"
        and str(c.chat_id) == str(user.id)
        and words in str(c.params.get("text"))
    )


async def test_an_album_gets_one_answer_not_one_a_photo(api: FakeBotAPI, seeded: BotRunner) -> None:
    """Ten answers to one album would take ten seconds at Telegram's pace for a chat."""
    student = api.user(11042, language_code="ru")
    await link_student(api, student, "2611023", "Соколова")
    # Asked for a time zone, the student sends an album: one request for text.
    await open_statement(api, student, "Гистология", "Другое время")
    after = api.mark()
    await send_album(api, student, "zone", 4)
    await api.idle(quiet=0.5)
    assert count_said(api, after, student, "ответьте текстом") == 1
    await say(api, student, "/cancel")

    # An absence with an album of 12: one "attached", one "that is the most", 10 kept.
    ask = await start_absence(api, student, "Гистология", "Болезнь", "Больна", absence="Отсутствие")
    after = api.mark()
    await send_album(api, student, "twelve", MAX_FILES + 2)
    await api.idle(quiet=0.5)
    assert count_said(api, after, student, "Приложено") == 1
    assert count_said(api, after, student, f"Больше приложить нельзя ({MAX_FILES})") == 1
    preview = await press(api, student, ask, button(ask, "Готово")["callback_data"])
    assert f"Документов: {MAX_FILES}" in preview["text"]
