"""What an update holds while its handler runs, on SQLite (one write lock for the whole
database): an update that only reads holds nothing until its commit, so a burst of
/help or /schedule does not queue on the lock; a handler's locking read (`FOR UPDATE`,
which SQLite has no row locks for) takes the write lock before it reads, as before. The
dialogue state is read inside the update's transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Message, Update
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.fsm import SQLAlchemyStorage
from bot.db.migrate import upgrade
from bot.db.models import ProcessedUpdate, User
from bot.middlewares.unit_of_work import InFlight, UnitOfWorkMiddleware
from bot.polling import ConfirmingDispatcher, StateLockMiddleware

TOKEN = "42:TEST-token"
BOT_ID, USER_ID = 42, 7


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield url


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database)
    yield engine
    await engine.dispose()


async def write_elsewhere(database: str, update_id: int) -> None:
    """A write from another connection that waits for the lock 0.2 s at most."""
    other = create_engine(database, connect_args={"timeout": 0.2})
    try:
        async with other.begin() as conn:
            await conn.execute(insert(ProcessedUpdate).values(update_id=update_id))
    finally:
        await other.dispose()


def message_update(update_id: int) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": USER_ID, "type": "private"},
                "from": {"id": USER_ID, "is_bot": False, "first_name": "S"},
                "text": "/schedule",
            },
        }
    )


def dispatcher_with(
    sessionmaker: async_sessionmaker[AsyncSession],
    locking: bool,
    seen: dict[str, Any],
    *,
    writes: bool = False,
) -> tuple[ConfirmingDispatcher, asyncio.Event, asyncio.Event]:
    """As the application wires it; the handler reads (with `FOR UPDATE` if `locking`),
    says it is inside, and waits to be let go; then, if `writes`, moves the dialogue on
    (a write in the update's transaction)."""
    dispatcher = ConfirmingDispatcher(storage=SQLAlchemyStorage(sessionmaker))
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(sessionmaker, InFlight()))
    inside, go = asyncio.Event(), asyncio.Event()

    async def handler(
        message: Message, session: AsyncSession, raw_state: str | None, state: FSMContext
    ) -> None:
        query = select(User).where(User.id == USER_ID)
        seen["user"] = await session.scalar(query.with_for_update() if locking else query)
        seen["raw_state"] = raw_state
        seen.setdefault("ran", []).append(message.message_id)
        inside.set()
        await go.wait()
        if writes:
            await state.set_state(f"Step {message.message_id}")

    dispatcher.message.register(handler)
    return dispatcher, inside, go


@pytest.mark.parametrize("locking", [False, True], ids=["reading", "locking-read"])
async def test_only_a_locking_read_holds_the_write_lock_before_the_commit(
    engine: AsyncEngine, database: str, locking: bool
) -> None:
    sessionmaker = create_sessionmaker(engine)
    storage = SQLAlchemyStorage(sessionmaker)
    key = StorageKey(bot_id=BOT_ID, chat_id=USER_ID, user_id=USER_ID)
    await storage.set_state(key, "Dialogue:O'Нил & <Ко>")
    seen: dict[str, Any] = {}
    dispatcher, inside, go = dispatcher_with(sessionmaker, locking, seen)
    assert isinstance(dispatcher.fsm, StateLockMiddleware)
    async with Bot(TOKEN) as bot:
        running = asyncio.create_task(dispatcher.feed_update(bot, message_update(1)))
        await asyncio.wait_for(inside.wait(), 10)
        if locking:
            with pytest.raises(OperationalError, match="locked"):
                await write_elsewhere(database, 1000)
        else:
            await write_elsewhere(database, 1000)  # the database is not locked
        go.set()
        await asyncio.wait_for(running, 10)
    # The state was read in the update (as aiogram would have). The update wrote nothing,
    # so it is not kept as handled: the locking read's early row went with its rollback.
    assert seen["raw_state"] == "Dialogue:O'Нил & <Ко>"
    async with sessionmaker() as session:
        handled = set(await session.scalars(select(ProcessedUpdate.update_id)))
    assert handled == (set() if locking else {1000})


@pytest.mark.parametrize("locking", [False, True], ids=["reading", "locking-read"])
async def test_an_update_is_remembered_as_handled_only_when_it_wrote(
    engine: AsyncEngine, locking: bool
) -> None:
    """One that only read is handled again if Telegram sends it again (the same answer
    twice, nothing lost); one that wrote is skipped, its row committed with its write."""
    sessionmaker = create_sessionmaker(engine)
    seen: dict[str, Any] = {}
    reader, _inside, go = dispatcher_with(sessionmaker, locking, seen)
    go.set()
    writer, _inside, go = dispatcher_with(sessionmaker, locking, seen, writes=True)
    go.set()
    async with Bot(TOKEN) as bot:
        for _ in range(2):
            await reader.feed_update(bot, message_update(1))
        for _ in range(2):
            await writer.feed_update(bot, message_update(2))
    assert seen["ran"] == [1, 1, 2]
    async with sessionmaker() as session:
        assert set(await session.scalars(select(ProcessedUpdate.update_id))) == {2}
    key = StorageKey(bot_id=BOT_ID, chat_id=USER_ID, user_id=USER_ID)
    assert await SQLAlchemyStorage(sessionmaker).get_state(key) == "Step 2"


async def test_an_update_handled_before_is_skipped(engine: AsyncEngine, database: str) -> None:
    sessionmaker = create_sessionmaker(engine)
    await write_elsewhere(database, 5)
    seen: dict[str, Any] = {}
    dispatcher, _inside, go = dispatcher_with(sessionmaker, False, seen)
    go.set()
    async with Bot(TOKEN) as bot:
        await dispatcher.feed_update(bot, message_update(5))
        await dispatcher.feed_update(bot, message_update(6))
    assert seen["ran"] == [6]  # only the new one ran
    async with sessionmaker() as session:
        # 6 only read: nothing to remember it by (handled again if sent again).
        assert set(await session.scalars(select(ProcessedUpdate.update_id))) == {5}
