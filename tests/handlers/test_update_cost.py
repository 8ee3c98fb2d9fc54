"""What an everyday update costs the bot (issue 11.4: the CPU budget of an update): the
statements it runs, its hand-offs to SQLite's thread (none for reads), and none to
aiogram's thread pool. Counted, not timed: a regression here shows as a number, on any
machine."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event

from bot.handlers import setup_routers
from tests.handlers.conftest import FastBot


@dataclass
class Cost:
    statements: list[str] = field(default_factory=list)
    sqlite_hand_offs: list[str] = field(default_factory=list)
    thread_pool_hand_offs: int = 0


@contextmanager
def counted(fast: FastBot, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cost]:
    cost = Cost()
    engine = fast.app.engine.sync_engine

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        tables = sorted(set(re.findall(r"\b(?:FROM|INTO|JOIN)\s+(\w+)", sql)))
        cost.statements.append(" ".join([sql.split()[0], *tables]))

    original = aiosqlite.Connection._execute

    async def to_sqlite(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        cost.sqlite_hand_offs.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    to_thread = asyncio.to_thread

    async def to_pool(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        cost.thread_pool_hand_offs += 1
        return await to_thread(fn, *args, **kwargs)

    event.listen(engine, "before_cursor_execute", statement)
    monkeypatch.setattr(aiosqlite.Connection, "_execute", to_sqlite)
    monkeypatch.setattr(asyncio, "to_thread", to_pool)
    try:
        yield cost
    finally:
        event.remove(engine, "before_cursor_execute", statement)


async def test_a_students_help_and_schedule_cost_few_statements(
    fast: FastBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    student = fast.user(52_001)
    await fast.link(student, "2611021", "Иванова")
    await fast.say(student, "/help")  # the first of anything made once is behind us
    with counted(fast, monkeypatch) as cost:
        reply = await fast.say(student, "/help")
    assert "What I can do" in reply.text
    # One read: handled before?, the dialogue state, the user and their roles. Nothing
    # written, so no row of the update and no commit. On SQLite a read runs in the event
    # loop's thread, and opens no transaction to roll back: nothing goes to SQLite's.
    first = "SELECT admins dean_members faculties fsm_records groups processed_updates students"
    assert cost.statements == [f"{first} teachers users"], cost.statements
    assert cost.sqlite_hand_offs == []
    assert cost.thread_pool_hand_offs == 0

    with counted(fast, monkeypatch) as cost:
        reply = await fast.say(student, "/schedule")
    assert "Your schedule" in reply.text
    assert cost.statements == [
        f"{first} teachers users",
        "SELECT disciplines exams faculties groups subgroup_members subgroups teachers",
    ], cost.statements
    assert cost.sqlite_hand_offs == []
    # The private chats' filter and the dialogue states the message passes on its way
    # down the tree run in the event loop, not in aiogram's thread pool.
    assert cost.thread_pool_hand_offs == 0


def test_no_filter_of_the_tree_is_left_to_the_thread_pool() -> None:
    root = setup_routers()
    sync = [
        (router.name, name, item.callback)
        for router in root.chain_tail
        for name, observer in router.observers.items()
        for handler in [observer._handler, *observer.handlers]
        for item in handler.filters or ()
        if not item.awaitable
    ]
    assert sync == []
