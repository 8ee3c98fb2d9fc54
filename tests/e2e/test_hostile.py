"""Every screen of every role with hostile data: a roster, schedule and plan whose every
text field carries & < > " ' at the longest length the importers allow. Telegram must
refuse nothing, and every value must reach the user exactly as imported (escaped once)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import cli
from bot.db.models import Exam, InviteRole, Statement, Student
from bot.keyboards.callbacks import RollCB
from tests.e2e.conftest import (
    ADMIN_ID,
    BotRunner,
    deanery_chat,
    join_by_invite,
    link_student,
    press,
    say,
    upload,
)
from tests.e2e.fakeapi import MESSAGE_METHODS, FakeBotAPI, FakeUser, button
from tests.e2e.hostile import (
    BOOKS,
    DEPARTMENT,
    DISCIPLINE,
    FACULTY,
    GROUP,
    LINK,
    MARKUP,
    MOODLE,
    NAMES,
    PLACE,
    PLAN_DISCIPLINE,
    SURNAMES,
    TEACHER,
    double_escaped,
    hostile,
    plan_csv,
    refusals,
    roster_csv,
    schedule_csv,
    shown,
    table,
)
from tests.e2e.test_roll import tap

EXAM_START = datetime(2026, 12, 10, 7, 0, tzinfo=UTC)  # 10:00 Moscow
STATEMENT_TEXT = hostile("Болел", 1500)
ANNOUNCEMENT = hostile("Консультация", 3000)
COMMENT = hostile("Нужна справка", 900)


async def messages_until(
    api: FakeBotAPI, user: FakeUser, after: int, *, with_button: str
) -> list[dict[str, Any]]:
    """The bot's messages to the user from ``after`` on, up to the first with that button."""
    got = [await api.next_message(user.id, after=after)]
    while not any(with_button in b.get("text", "") for b in api.buttons(got[-1])):
        got.append(await api.next_message(user.id))
    return got


async def said(api: FakeBotAPI, runner: BotRunner, user: FakeUser, text: str) -> str:
    """Sends the text; returns everything the bot then sent or edited in that chat."""
    after = api.mark()
    user.send(text)
    await api.wait_for(MESSAGE_METHODS, chat_id=user.id, after=after)
    await runner.settle()
    await api.idle(quiet=0.2)
    return since(api, user.id, after)


def since(api: FakeBotAPI, chat_id: int, after: int) -> str:
    return "\n".join(
        str(c.result.get("text") or c.result.get("caption") or "")
        for c in api.calls[after:]
        if c.ok
        and c.method in MESSAGE_METHODS
        and isinstance(c.result, dict)
        and str(c.result.get("chat", {}).get("id")) == str(chat_id)
    )


async def until_shown(api: FakeBotAPI, chat_id: int, after: int, value: str) -> str:
    """What the chat got from ``after`` on, once ``value`` is all there (a long text comes
    in several messages, paced at one a second per chat)."""
    async with asyncio.timeout(30):
        while True:
            mark = api.mark()
            if value in (got := since(api, chat_id, after)).replace("\n", ""):
                return got
            await api.wait_for(MESSAGE_METHODS, chat_id=chat_id, after=mark, timeout=30)


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text") or m.get("caption") or "") for m in messages)


async def import_everything(api: FakeBotAPI, admin: FakeUser) -> None:
    reply = await upload(api, admin, "roster.csv", roster_csv())
    assert "imported" in reply["text"], reply["text"]
    reply = await upload(api, admin, "schedule.csv", schedule_csv("2026-12-10", "10:00"))
    assert "imported" in reply["text"], reply["text"]
    reply = await upload(api, admin, "plan.csv", plan_csv("2026-12-20"))
    assert "imported" in reply["text"], reply["text"]
    # A file with mistakes: the errors quote the hostile values back.
    bad = table(("faculty", "group", "full_name", "record_book"), [(FACULTY, GROUP, NAMES[0], "")])
    reply = await upload(api, admin, "roster & <bad>.csv", bad)
    assert "not imported" in reply["text"]
    bad = schedule_csv(f"10.12.2026 {MARKUP}", "10:00")
    reply = await upload(api, admin, "schedule.csv", bad)
    assert f"“10.12.2026 {MARKUP}”" in reply["text"], reply["text"]


async def file_absence(api: FakeBotAPI, student: FakeUser) -> None:
    menu = await say(api, student, "/statement")
    reply = await press(api, student, menu, button(menu, "Акушерство")["callback_data"])
    assert DISCIPLINE in reply["text"]
    reply = await press(api, student, reply, button(reply, "Absence")["callback_data"])
    reply = await press(api, student, reply, button(reply, "Illness")["callback_data"])
    reply = await say(api, student, STATEMENT_TEXT)
    after = api.mark()
    api.send_document(
        student, 'справка & <1> "2".pdf', content=b"%PDF-1.4", mime_type="application/pdf"
    )
    ack = await api.next_message(student.id, after=after)
    after = api.mark()
    student.click(ack, button(ack, "Done")["callback_data"])
    preview = joined(await messages_until(api, student, after, with_button="Send"))
    assert STATEMENT_TEXT in preview
    last = api.messages(student.id)[-1]
    done = await press(api, student, last, button(last, "Send")["callback_data"])
    assert "is submitted" in done["text"]


async def run_roll(api: FakeBotAPI, runner: BotRunner, teacher: FakeUser, exam_id: int) -> str:
    """Opens the roll, a card, marks, grades, the texts aloud, confirms; returns all seen."""
    after = api.mark()
    teacher.send("/exams")
    cards = await messages_until(api, teacher, after, with_button="📋")
    seen: str = joined(cards)
    roll = await press(api, teacher, cards[-1], button(cards[-1], "📋")["callback_data"])
    seen += roll["text"]
    runner.at(EXAM_START + timedelta(minutes=5))
    async with runner.sessionmaker() as session:
        ids = {
            name: sid for name, sid in await session.execute(select(Student.full_name, Student.id))
        }
    second = ids[NAMES[1]]
    card, _ = await tap(
        runner, api, teacher, roll, RollCB(action="card", exam_id=exam_id, student_id=second).pack()
    )
    seen += "\n" + card["text"]
    card, _ = await tap(runner, api, teacher, card, button(card, "Present")["callback_data"])
    card, _ = await tap(runner, api, teacher, card, button(card, "excellent")["callback_data"])
    seen += "\n" + card["text"]
    roll, _ = await tap(runner, api, teacher, card, button(card, "Back")["callback_data"])
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "rest absent")["callback_data"])
    seen += "\n" + roll["text"]
    after = api.mark()
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "📢")["callback_data"])
    aloud = await api.next_message(teacher.id, after=after)
    seen += "\n" + aloud["text"]
    after = api.mark()
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "🔒")["callback_data"])
    if any("Confirm" in b.get("text", "") for b in api.buttons(roll)):
        roll, _ = await tap(runner, api, teacher, roll, button(roll, "Confirm")["callback_data"])
    # Delivered: a paced attempt answered 429 is retried.
    sheet = await api.wait_for("sendDocument", teacher.id, lambda c: c.ok, after)
    seen += "\n" + str(sheet.result.get("caption"))
    return seen


async def test_every_screen_with_hostile_data(
    api: FakeBotAPI, bot_runner: BotRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = bot_runner
    admin = api.user(ADMIN_ID, language_code="en")
    await import_everything(api, admin)
    status = await say(api, admin, "/status")
    assert "Outbox" in status["text"]

    dean = api.user(15001, language_code="en")
    chat = await deanery_chat(api, runner, dean, FACULTY, -100990)
    email = await say(api, dean, "/email")
    assert FACULTY in email["text"]
    teacher = api.user(15002, language_code="en")
    welcome = await join_by_invite(api, runner, teacher, InviteRole.TEACHER, TEACHER)
    assert TEACHER in welcome["text"]

    students = [api.user(15010 + i, language_code="en") for i in range(3)]
    for user, book, surname in zip(students, BOOKS, SURNAMES, strict=True):
        await link_student(api, user, book, surname)
    first = students[0]
    schedule = await said(api, runner, first, "/schedule")
    assert DISCIPLINE in schedule and TEACHER in schedule and GROUP not in schedule
    assert LINK in schedule.replace("\n", "") and MOODLE in schedule.replace("\n", "")
    plan = await said(api, runner, first, "/plan")
    assert PLAN_DISCIPLINE in plan and DEPARTMENT in plan and PLACE in plan

    # The card may go out before the student's acknowledgement: both follow the commit.
    after = api.mark()
    await file_absence(api, first)
    runner.tick(timedelta(seconds=1))
    # The card comes in parts (its values are at their maximum lengths); the group's pace
    # may hold a part back for a while (429, sent again): wait for the last one.
    await api.wait_for(
        "sendMessage",
        chat["id"],
        lambda c: c.ok and "Документов" in str(c.params.get("text")),  # the chat speaks Russian
        after,
        timeout=60,
    )
    await runner.outbox_settled()
    await api.idle(quiet=0.2)
    cards = since(api, chat["id"], after)
    assert NAMES[0] in cards and STATEMENT_TEXT in cards and BOOKS[0] in cards
    card = next(m for m in reversed(api.messages(chat["id"])) if api.buttons(m))
    inbox = await say(api, dean, "/inbox")
    assert DISCIPLINE in inbox["text"]
    after = api.mark()
    dean.click(card, button(card, "✅")["callback_data"])
    await api.wait_for("editMessageText", chat_id=chat["id"], after=after)
    told = await api.next_message(first.id, after=after)
    assert DISCIPLINE in told["text"]

    # The day before and the join call, with the links.
    after = api.mark()
    runner.at(EXAM_START - timedelta(hours=23))
    await api.next_message(students[1].id, after=after)
    runner.at(EXAM_START - timedelta(minutes=10))
    await api.wait_for(
        "sendMessage",
        chat_id=students[1].id,
        after=after,
        predicate=lambda c: "Join now" in str(c.params.get("text")),
        timeout=20,
    )
    await until_shown(api, students[1].id, after, MOODLE)
    notices = await until_shown(api, students[1].id, after, LINK)
    assert "Join now" in notices
    assert DISCIPLINE in notices and TEACHER in notices and GROUP not in notices
    assert LINK in notices.replace("\n", "") and MOODLE in notices.replace("\n", "")

    async with runner.sessionmaker() as session:
        exam_id = await session.scalar(select(Exam.id))
    assert exam_id is not None
    # The teacher posts a new conference link (as hostile as the imported one).
    after = api.mark()
    teacher.send("/exams")
    exam_cards = await messages_until(api, teacher, after, with_button="🔗")
    prompt = await press(
        api, teacher, exam_cards[-1], button(exam_cards[-1], "🔗")["callback_data"]
    )
    assert DISCIPLINE in prompt["text"]
    new_link = LINK[:-10] + "&z=<new>"
    saved = await said(api, runner, teacher, new_link)
    assert "Saved." in saved and new_link in saved.replace("\n", "")
    after = api.mark()
    roll_seen = await run_roll(api, runner, teacher, exam_id)
    # The confirmed roll's no-shows reach the dean's office chat.
    no_shows = await until_shown(api, chat["id"], after, NAMES[2])
    assert BOOKS[2] in no_shows and GROUP in no_shows
    assert all(name in roll_seen for name in NAMES) and GROUP in roll_seen
    assert DISCIPLINE in roll_seen

    additional = await say(api, dean, "/additional")
    assert NAMES[0] in additional["text"]
    statements = await say(api, first, "/statements")
    assert DISCIPLINE in statements["text"]
    mydata = await say(api, first, "/mydata")
    assert NAMES[0] in mydata["text"]

    # Reports, and an announcement to the whole faculty with a preview.
    menu = await say(api, dean, "/reports")
    for report in api.buttons(menu):
        after = api.mark()
        dean.click(menu, report["callback_data"])
        await api.wait_for(
            "sendDocument", chat_id=dean.id, after=after, predicate=lambda c: "csv" in str(c.files)
        )
    await api.idle(quiet=0.2)
    menu = await say(api, dean, "/announce")
    assert any(FACULTY in b["text"] for b in api.buttons(menu)), (menu["text"], api.buttons(menu))
    await press(api, dean, menu, button(menu, FACULTY)["callback_data"])
    after = api.mark()
    dean.send(ANNOUNCEMENT)
    parts = await messages_until(api, dean, after, with_button="Send")
    assert ANNOUNCEMENT in joined(parts).replace("\n", "")
    after = api.mark()
    dean.click(parts[-1], button(parts[-1], "Send")["callback_data"])
    for user in students:
        await until_shown(api, user.id, after, ANNOUNCEMENT)
    for user in (dean, teacher, admin, students[2]):
        await said(api, runner, user, "/help")

    refused = refusals(api)
    assert refused == [], "\n".join(refused)
    assert double_escaped(shown(api)) == []
    async with runner.sessionmaker() as session:
        assert (await session.scalar(select(Statement.text))) == STATEMENT_TEXT

    # The CLI prints the same texts as plain text: the values intact, no tags or entities.
    capsys.readouterr()
    assert await cli.show_outbox(runner.settings) == 0
    bad = schedule_csv(f"10.12.2026 {MARKUP}", "10:00")
    assert await cli.import_file(runner.settings, "schedule", "schedule.csv", content=bad) == 1
    printed = "".join(capsys.readouterr())
    assert f"10.12.2026 {MARKUP}" in printed and "pending:" in printed
    assert double_escaped([printed]) == [] and "<b>" not in printed
