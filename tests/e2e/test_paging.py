"""Lists that grow, at 200 items: every item is reachable (by ◀ ▶ pages, or in several
messages for read-only text), and no message breaks Telegram's limits."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db.models import Exam, InviteRole, RollEntry, Statement, Student
from bot.services.imports import import_plan, import_roster, import_schedule
from tests.e2e.conftest import (
    BotRunner,
    deanery_chat,
    join_by_invite,
    link_student,
    say,
)
from tests.e2e.fakeapi import MESSAGE_METHODS, FakeBotAPI, FakeUser, Pace, button
from tests.e2e.hostile import (
    MARKUP,
    PLAN_HEADER,
    ROSTER_HEADER,
    SCHEDULE_HEADER,
    refusals,
    table,
)

ITEMS = 200
FACULTY = "Лечебный факультет"
GROUP = "Поток-200"
TEACHER = "Преподавателев Пётр Петрович"
# Long names, so that the lists outgrow a message long before they outgrow a page count.
NAMES = [f"Студентов{i:03d} Иван {MARKUP} {'Длинноотчествович' * 6}" for i in range(ITEMS)]
BOOKS = [f"П{i:03d}" for i in range(ITEMS)]
DISCIPLINES = [f"Дисциплина {i:03d} {MARKUP} {'Междисциплинарная' * 4}" for i in range(ITEMS)]
FIRST_EXAM = datetime(2026, 12, 10, 6, 0, tzinfo=UTC)  # 09:00 Moscow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Paging through 200 items is hundreds of presses in a row: the test, not a flood.
    return settings.model_copy(update={"flood_limit": 0})


def roster() -> bytes:
    return table(
        ROSTER_HEADER,
        [(FACULTY, GROUP, name, book) for name, book in zip(NAMES, BOOKS, strict=True)],
    )


def schedule() -> bytes:
    rows = []
    for i, discipline in enumerate(DISCIPLINES):
        local = datetime(2026, 12, 10, 9, 0) + timedelta(days=i // 8, hours=i % 8)
        day, clock = f"{local:%Y-%m-%d}", f"{local:%H:%M}"
        rows.append((FACULTY, GROUP, discipline, "exam", "oral", day, clock, "60", TEACHER, "", ""))
    return table(SCHEDULE_HEADER, rows)


def plan() -> bytes:
    rows = [
        (BOOKS[0], d, "Кафедра", "1", "2", "0", "2", "1", "Ауд. 1", "2027-01-15", TEACHER)
        for d in DISCIPLINES
    ]
    return table(PLAN_HEADER, rows)


async def texts_until_quiet(api: FakeBotAPI, runner: BotRunner, chat_id: int, after: int) -> str:
    await runner.settle()
    await api.idle(quiet=0.3, timeout=30)
    return chat_texts(api, chat_id, after)


def chat_texts(api: FakeBotAPI, chat_id: int, after: int) -> str:
    """Texts and captions of the messages sent or edited into the chat since ``after``."""
    return "\n".join(
        str(c.result.get("text") or c.result.get("caption") or "")
        for c in api.calls[after:]
        if c.ok
        and c.method in MESSAGE_METHODS
        and isinstance(c.result, dict)
        and str(c.result["chat"]["id"]) == str(chat_id)
    )


def pager(message: dict[str, Any]) -> tuple[int, int] | None:
    for b in api_buttons(message):
        if found := re.fullmatch(r"(\d+)/(\d+)", b.get("text", "")):
            return int(found[1]), int(found[2])
    return None


def api_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def edited_pages(api: FakeBotAPI, user: FakeUser, first: dict[str, Any]) -> list[str]:
    """A list that edits itself page by page: every page's text, pressing ▶ to the end."""
    texts = [str(first["text"])]
    message = first
    while (position := pager(message)) is not None and position[0] < position[1]:
        message = await tap(api, user, message, button(message, "▶")["callback_data"])
        assert pager(message) == (position[0] + 1, position[1]), (message.get("text"), message)
        texts.append(str(message["text"]))
    return texts


async def sent_pages(api: FakeBotAPI, runner: BotRunner, user: FakeUser, command: str) -> str:
    """A list of messages with buttons, a page at a time: ▶ under the last sends the next."""
    after = api.mark()
    user.send(command)
    seen = await texts_until_quiet(api, runner, user.id, after)
    pages = 1
    while True:
        last = api.messages(user.id)[-1]
        position = pager(last)
        if position is None or position[0] == position[1]:
            return seen
        after = api.mark()
        user.click(last, button(last, "▶")["callback_data"])
        # A page is the press's reply: sent by the time the press is handled, no quiet
        # spell needed (one a page cost 0.3 s). Its last message shows the next number.
        await runner.settle()
        seen += "\n" + chat_texts(api, user.id, after)
        pages += 1
        assert pager(api.messages(user.id)[-1]) == (position[0] + 1, position[1])
        assert pages <= ITEMS


async def tap(
    api: FakeBotAPI, user: FakeUser, message: dict[str, Any], data: str
) -> dict[str, Any]:
    """Presses; the next message or edit in the chat (a 200-student roll takes a while)."""
    after = api.mark()
    user.click(message, data)
    return await api.next_message(user.id, after=after, timeout=60)


async def seed(runner: BotRunner) -> None:
    """Imported as the CLI would (the upload path is the hostile walk's)."""
    async with runner.sessionmaker.begin() as session:
        assert (
            await import_schedule(session, "schedule.csv", schedule(), tz=runner.settings.tz)
        ).ok
        assert (await import_plan(session, "plan.csv", plan())).ok


async def test_two_hundred_items_are_all_reachable(api: FakeBotAPI, bot_runner: BotRunner) -> None:
    # Reachability is the point here; Telegram's pace in a private chat is tested apart
    # (test_fakeapi, test_replies). Under it, /statements and /exams (ten messages and a
    # pager a page) take about ten seconds a page: 40 pages made this test 9 minutes.
    api.pace = Pace(chat_per_second=30.0, chat_burst=30.0)
    runner = bot_runner
    admin = api.user(900_001, language_code="en")
    async with runner.sessionmaker.begin() as session:
        assert (await import_roster(session, "roster.csv", roster())).ok
    dean = api.user(16001, language_code="en")
    chat = await deanery_chat(api, runner, dean, FACULTY, -100880)
    teacher = api.user(16002, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, TEACHER)
    student = api.user(16003, language_code="en")
    await link_student(api, student, BOOKS[0], NAMES[0].split()[0])
    await seed(runner)

    # Import errors: 200 bad rows, every one listed (in several messages).
    after = api.mark()
    bad = table(ROSTER_HEADER, [(FACULTY, GROUP, "", "")] * 200)
    api.send_document(admin, "bad.csv", content=bad, mime_type="text/csv")
    errors = await texts_until_quiet(api, runner, admin.id, after)
    assert all(f"Row {row}:" in errors for row in range(2, ITEMS + 2))

    # /plan: 200 disciplines, split into several messages.
    after = api.mark()
    student.send("/plan")
    shown = await texts_until_quiet(api, runner, student.id, after)
    assert all(d in shown for d in DISCIPLINES)

    # 200 statements of one student, 200 excused absences: seeded in the database.
    async with runner.sessionmaker.begin() as session:
        exams = list(await session.scalars(select(Exam).order_by(Exam.starts_at)))
        students = list(await session.scalars(select(Student).order_by(Student.full_name)))
        me = next(s for s in students if s.record_book == BOOKS[0])
        for exam in exams:
            session.add(
                Statement(
                    student_id=me.id,
                    exam_id=exam.id,
                    kind="absence",
                    reason="illness",
                    text="ОРВИ",
                    submitted_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
                )
            )
        for s in students:
            session.add(RollEntry(exam_id=exams[-1].id, student_id=s.id, mark="excused"))
    async with runner.sessionmaker() as session:
        numbers = list(await session.scalars(select(Statement.id)))
    assert len(numbers) == ITEMS

    inbox = await edited_pages(api, dean, await say(api, dean, "/inbox"))
    assert len(inbox) > 1 and all(f"№{n} " in "\n".join(inbox) for n in numbers)
    additional = await edited_pages(api, dean, await say(api, dean, "/additional"))
    assert len(additional) > 1 and all(name in "\n".join(additional) for name in NAMES)
    # ◀ goes back; a page number past the end (a list that shrank) shows the last page.
    back = await tap(api, dean, await say(api, dean, "/inbox"), "pg:inbox:5000")
    assert pager(back) is not None and pager(back)[0] == pager(back)[1]  # type: ignore[index]

    statements = await sent_pages(api, runner, student, "/statements")
    assert all(f"№{n}:" in statements for n in numbers)
    exams_shown = await sent_pages(api, runner, teacher, "/exams")
    assert all(d in exams_shown for d in DISCIPLINES)

    # The roll of 200: every student on some page; all absent; the no-show list is whole.
    after = api.mark()
    teacher.send("/exams")
    await texts_until_quiet(api, runner, teacher.id, after)
    first_card = next(m for m in api.messages(teacher.id) if DISCIPLINES[0] in str(m.get("text")))
    roll = await tap(api, teacher, first_card, button(first_card, "📋")["callback_data"])
    pages = await edited_pages(api, teacher, roll)
    assert len(pages) >= ITEMS // 40 and all(name in "\n".join(pages) for name in NAMES)
    runner.at(FIRST_EXAM + timedelta(minutes=5))
    roll = next(m for m in api.messages(teacher.id) if m["message_id"] == roll["message_id"])
    roll = await tap(api, teacher, roll, button(roll, "rest absent")["callback_data"])
    after = api.mark()
    roll = await tap(api, teacher, roll, button(roll, "🔒")["callback_data"])
    await api.wait_for("sendDocument", chat_id=teacher.id, after=after, timeout=20)
    async with asyncio.timeout(60):
        # The no-shows come from the outbox, in several messages paced one a second.
        while True:
            mark = api.mark()
            got = await texts_until_quiet(api, runner, chat["id"], after)
            if all(name in got for name in NAMES):
                break
            await api.wait_for(MESSAGE_METHODS, chat_id=chat["id"], after=mark, timeout=30)
    # The count heads the list (the chat reads Russian); the student whose absence
    # statement is not decided yet is listed apart, under a count of their own.
    assert f"({ITEMS - 1}):" in got and "(1):" in got

    refused = refusals(api)
    assert refused == [], "\n".join(refused)
