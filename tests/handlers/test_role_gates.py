"""The role routers' gates (bot.handlers): each role's commands and buttons, sent by
someone without the role, get that role's polite refusal and change nothing; data no
button of this version carries (an unknown action) is "no longer valid" to everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiogram.types import Chat
from sqlalchemy import text

from bot.db.models import Base, InviteRole
from bot.keyboards.callbacks import (
    AnnounceCB,
    DecideAction,
    DecideCB,
    ExamAction,
    ExamCB,
    Listing,
    PageCB,
    ReportCB,
    RollAction,
    RollCB,
)
from tests.e2e.conftest import ADMIN_ID, MovableClock
from tests.handlers.conftest import FastBot, open_fast

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOT_SNAPSHOT = {"processed_updates"}  # the update's own id is the one thing it adds
GROUP = Chat(id=-100_777, type="supergroup", title="Курс")


async def snapshot(fast: FastBot) -> dict[str, list[tuple[Any, ...]]]:
    tables = {}
    async with fast.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_SNAPSHOT:
                continue
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = await session.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}"))
            tables[table.name] = [tuple(row) for row in rows]
    return tables


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path
) -> AsyncIterator[tuple[FastBot, dict[str, Any]]]:
    """One application for the module: every case leaves the database as it found it."""
    clock = MovableClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    async with open_fast(tmp_path_factory.mktemp("gates"), migrated_sqlite, clock) as fast:
        yield fast, await people(fast)


async def people(fast: FastBot) -> dict[str, Any]:
    """A linked student, a teacher, a dean and a stranger (each holds one role)."""
    student = fast.user(51_001)
    await fast.link(student, "2611021", "Иванова")
    teacher = fast.user(51_002)
    await fast.join(teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    dean = fast.user(51_003)
    await fast.join(dean, InviteRole.DEAN, "Лечебный факультет")
    stranger = fast.user(51_004)
    await fast.say(stranger, "/help")  # a first update makes one's user row
    return {"student": student, "teacher": teacher, "dean": dean, "stranger": stranger}


# (command, the roles it is for, words of the refusal, in a group?)
COMMANDS: tuple[tuple[str, set[str], str, bool], ...] = (
    ("/schedule", {"student"}, "for students", False),
    ("/plan", {"student"}, "for students", False),
    ("/statement", {"student"}, "for students", False),
    ("/statements", {"student"}, "for students", False),
    ("/mydata", {"student"}, "for students", False),
    ("/calendar", {"student", "teacher"}, "for students", False),
    ("/exams", {"teacher"}, "for teachers", False),
    ("/inbox", {"dean"}, "for the dean's office", False),
    ("/additional", {"dean"}, "for the dean's office", False),
    ("/inbox", {"dean"}, "for the dean's office", True),
    ("/bind", {"dean"}, "Only a member of the dean's office", True),
    ("/email x@example.org", {"dean"}, "Only the dean's office or an administrator", False),
    ("/reports", {"dean"}, "Reports are for the dean's office", False),
    ("/announce", {"dean"}, "Announcements are for the dean's office", False),
    ("/invite teacher Иванов", {"dean"}, "Only the dean's office or an administrator", False),
    ("/templates", {"dean"}, "only from the dean's office or an administrator", False),
    ("/status", set(), "for administrators", False),
    ("/unlock 1", set(), "for administrators", False),
    ("/semester", set(), "for administrators", False),
)


@pytest.mark.parametrize(("command", "for_roles", "words", "in_group"), COMMANDS)
async def test_a_command_of_another_role_is_refused_politely(
    world: tuple[FastBot, dict[str, Any]],
    command: str,
    for_roles: set[str],
    words: str,
    in_group: bool,
) -> None:
    fast, who = world
    for role, user in who.items():
        if role in for_roles:
            continue
        before = await snapshot(fast)
        reply = await fast.say(user, command, GROUP if in_group else None)
        assert words in reply.text, (role, command, reply.text)
        assert await snapshot(fast) == before, (role, command)


async def test_the_admin_passes_the_gate(world: tuple[FastBot, dict[str, Any]]) -> None:
    """The control: the same command by its role is served, not refused."""
    fast, _who = world
    reply = await fast.say(fast.user(ADMIN_ID), "/status")
    assert "for administrators" not in reply.text and "pending" in reply.text


def _buttons() -> list[tuple[str, set[str], str]]:
    """(data, the roles it is for, words of the refusal) for buttons with a role gate."""
    return [
        (ExamCB(action=ExamAction.LINK, exam_id=1).pack(), {"teacher"}, "not one of your exams"),
        (RollCB(action=RollAction.SHOW, exam_id=1).pack(), {"teacher"}, "not one of your exams"),
        (PageCB(listing=Listing.EXAMS, page=1).pack(), {"teacher"}, "not one of your exams"),
        (PageCB(listing=Listing.INBOX, page=1).pack(), {"dean"}, "for the dean's office"),
        (
            DecideCB(action=DecideAction.APPROVE, statement_id=1).pack(),
            {"dean"},
            "Only the dean's office",
        ),
        (ReportCB(kind="attendance").pack(), {"dean"}, "Reports are for"),
        (AnnounceCB(target="group", target_id=1).pack(), {"dean"}, "your own faculty"),
    ]


@pytest.mark.parametrize(("data", "for_roles", "words"), _buttons())
async def test_a_button_of_another_role_is_refused_with_an_alert(
    world: tuple[FastBot, dict[str, Any]], data: str, for_roles: set[str], words: str
) -> None:
    fast, who = world
    for role, user in who.items():
        if role in for_roles:
            continue
        before = await snapshot(fast)
        answer = await fast.answer(user, data)
        assert answer.show_alert is True and words in answer.text, (role, data, answer.text)
        assert await snapshot(fast) == before, (role, data)


# Data of this version's prefixes with an action no enum holds, and of no prefix at all.
UNKNOWN = ("rl:junk:1:0:0:", "st-dec:junk:1", "ex:roll:1", "my:junk", "st-act:junk", "old:1")


@pytest.mark.parametrize("data", UNKNOWN)
async def test_an_unknown_action_is_no_longer_valid_to_everyone(
    world: tuple[FastBot, dict[str, Any]], data: str
) -> None:
    fast, who = world
    await fast.say(fast.user(ADMIN_ID), "/help")
    for role, user in {**who, "admin": fast.user(ADMIN_ID)}.items():
        before = await snapshot(fast)
        calls = await fast.press(user, data)
        answers = [c for c in calls if c.method == "answerCallbackQuery"]
        assert len(answers) == 1, (role, data, [c.method for c in calls])
        assert answers[0].show_alert is True and "no longer valid" in answers[0].text, role
        assert [c.method for c in calls] == ["answerCallbackQuery"], (role, data)
        assert await snapshot(fast) == before, (role, data)
