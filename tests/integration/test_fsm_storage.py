"""The aiogram FSM storage kept in the database (SQLite, and PostgreSQL if configured)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_sessionmaker
from bot.db.fsm import WROTE, SQLAlchemyStorage, WritesNoted, update_session
from bot.db.models import FsmRecord

KEY = StorageKey(bot_id=1, chat_id=2, user_id=3)
DATA: dict[str, Any] = {"record_book": "2611002", "ids": [1, 2], "nested": {"ё": None}}


class Join(StatesGroup):
    record_book = State()
    surname = State()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def storage(sessionmaker: async_sessionmaker[AsyncSession]) -> SQLAlchemyStorage:
    return SQLAlchemyStorage(sessionmaker)


async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """FsmRecord rows as a fresh connection sees them (committed data only)."""
    async with sessionmaker() as session:
        return (await session.scalar(select(func.count()).select_from(FsmRecord))) or 0


@pytest.fixture
def in_update(session: AsyncSession) -> Iterator[AsyncSession]:
    """Like the unit-of-work middleware: the storage writes through this session."""
    token = update_session.set(session)
    try:
        yield session
    finally:
        update_session.reset(token)


async def test_state_and_data_round_trip(storage: SQLAlchemyStorage) -> None:
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}

    await storage.set_state(KEY, Join.record_book)
    assert await storage.get_state(KEY) == "Join:record_book"
    await storage.set_state(KEY, "Join:surname")
    assert await storage.get_state(KEY) == Join.surname.state

    await storage.set_data(KEY, DATA)
    assert await storage.get_data(KEY) == DATA
    assert await storage.get_state(KEY) == "Join:surname"  # data does not touch the state
    await storage.set_data(KEY, {"x": 1})
    assert await storage.get_data(KEY) == {"x": 1}  # replaced, not merged


async def test_get_data_returns_a_copy(storage: SQLAlchemyStorage) -> None:
    await storage.set_data(KEY, {"a": 1})
    got = await storage.get_data(KEY)
    got["a"] = 2
    assert await storage.get_data(KEY) == {"a": 1}


async def test_survives_a_restart(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    before = SQLAlchemyStorage(sessionmaker)
    await before.set_state(KEY, Join.surname)
    await before.set_data(KEY, DATA)
    await before.close()

    after = SQLAlchemyStorage(create_sessionmaker(engine))
    assert await after.get_state(KEY) == "Join:surname"
    assert await after.get_data(KEY) == DATA
    assert await rows(sessionmaker) == 1


async def test_unserialisable_data_is_refused(
    storage: SQLAlchemyStorage, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bad_values: list[dict[str, Any]] = [
        {"at": datetime(2027, 1, 1, tzinfo=UTC)},
        {"ids": {1, 2}},
        {"raw": b"bytes"},
    ]
    for bad in bad_values:
        with pytest.raises(TypeError):
            await storage.set_data(KEY, bad)
    assert await rows(sessionmaker) == 0
    assert await storage.get_data(KEY) == {}

    # Nor does it spoil what was there.
    await storage.set_data(KEY, {"ok": True})
    for bad in bad_values:
        with pytest.raises(TypeError):
            await storage.set_data(KEY, {"ok": False, **bad})
    assert await storage.get_data(KEY) == {"ok": True}


@pytest.mark.parametrize("state_first", [True, False], ids=["state-first", "data-first"])
async def test_clearing_removes_the_row(
    storage: SQLAlchemyStorage, sessionmaker: async_sessionmaker[AsyncSession], state_first: bool
) -> None:
    await storage.set_state(KEY, Join.record_book)
    await storage.set_data(KEY, DATA)
    assert await rows(sessionmaker) == 1

    if state_first:
        await storage.set_state(KEY, None)
        assert await rows(sessionmaker) == 1  # the data is still there
        assert await storage.get_data(KEY) == DATA
        await storage.set_data(KEY, {})
    else:
        await storage.set_data(KEY, {})
        assert await rows(sessionmaker) == 1  # the state is still there
        assert await storage.get_state(KEY) == "Join:record_book"
        await storage.set_state(KEY, None)
    assert await rows(sessionmaker) == 0
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}


async def test_empty_writes_create_no_row(
    storage: SQLAlchemyStorage, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await rows(sessionmaker) == 0


async def test_keys_do_not_mix(
    storage: SQLAlchemyStorage, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # (bot_id is not part of the key: DefaultKeyBuilder leaves it out by default.)
    others = [
        StorageKey(bot_id=1, chat_id=2, user_id=4),
        StorageKey(bot_id=1, chat_id=5, user_id=3),
        StorageKey(bot_id=1, chat_id=2, user_id=3, thread_id=7),
        StorageKey(bot_id=1, chat_id=2, user_id=3, destiny="other"),
    ]
    await storage.set_state(KEY, Join.record_book)
    await storage.set_data(KEY, {"who": "main"})
    for n, key in enumerate(others):
        assert await storage.get_state(key) is None
        assert await storage.get_data(key) == {}
        await storage.set_state(key, Join.surname)
        await storage.set_data(key, {"who": n})
    assert await rows(sessionmaker) == 1 + len(others)

    assert await storage.get_state(KEY) == "Join:record_book"
    assert await storage.get_data(KEY) == {"who": "main"}
    for n, key in enumerate(others):
        assert await storage.get_data(key) == {"who": n}

    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await rows(sessionmaker) == len(others)


async def test_update_session_commits_with_the_update(
    storage: SQLAlchemyStorage,
    sessionmaker: async_sessionmaker[AsyncSession],
    in_update: AsyncSession,
) -> None:
    await storage.set_state(KEY, Join.surname)
    await storage.set_data(KEY, DATA)
    # The update's own session sees its writes at once ...
    assert await storage.get_state(KEY) == "Join:surname"
    assert await storage.get_data(KEY) == DATA
    await in_update.flush()
    # ... nobody else does before the update commits.
    assert await rows(sessionmaker) == 0

    await in_update.commit()
    assert await rows(sessionmaker) == 1
    update_session.set(None)  # the update is over: the storage uses its own sessions again
    assert await storage.get_state(KEY) == "Join:surname"
    assert await storage.get_data(KEY) == DATA


async def test_update_session_rollback_discards_writes(
    storage: SQLAlchemyStorage,
    sessionmaker: async_sessionmaker[AsyncSession],
    in_update: AsyncSession,
) -> None:
    await storage.set_state(KEY, Join.record_book)
    await storage.set_data(KEY, DATA)
    await in_update.flush()
    assert await in_update.scalar(select(func.count()).select_from(FsmRecord)) == 1

    await in_update.rollback()
    assert await rows(sessionmaker) == 0
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}


async def test_update_session_rollback_keeps_committed_state(
    storage: SQLAlchemyStorage, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await storage.set_state(KEY, Join.record_book)
    await storage.set_data(KEY, {"step": 1})

    async with sessionmaker() as update:
        token = update_session.set(update)
        try:
            await storage.set_state(KEY, Join.surname)
            await storage.set_data(KEY, {"step": 2})
            assert await storage.get_data(KEY) == {"step": 2}
            await update.flush()
            await update.rollback()  # the handler failed
        finally:
            update_session.reset(token)

    assert await storage.get_state(KEY) == "Join:record_book"
    assert await storage.get_data(KEY) == {"step": 1}


async def test_a_dialogue_kept_outside_the_database_counts_as_the_updates_write(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Redis in production (MemoryStorage here): reading the state is no write; moving
    the dialogue on, or its data, is, so the update is marked handled; outside an update
    (no update session) nothing is marked."""
    storage = WritesNoted(MemoryStorage())
    await storage.set_state(KEY, Join.record_book)  # outside an update: nothing to mark
    for write in ("state", "data", "update"):
        async with sessionmaker() as session:
            session.info[WROTE] = False
            token = update_session.set(session)
            try:
                assert await storage.get_state(KEY) == Join.record_book.state
                assert await storage.get_data(KEY) == ({} if write != "update" else DATA)
                assert session.info[WROTE] is False
                if write == "state":
                    await storage.set_state(KEY, Join.record_book)
                elif write == "data":
                    await storage.set_data(KEY, DATA)
                else:
                    await storage.update_data(KEY, {"more": 1})
                assert session.info[WROTE] is True
            finally:
                update_session.reset(token)
    assert await storage.get_data(KEY) == {**DATA, "more": 1}
    await storage.close()
