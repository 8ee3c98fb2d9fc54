"""An update that meets an outage is handled again once it is over, not lost.

- The database going away (PostgreSQL restarting): the update waits until it answers,
  instead of being answered "something went wrong". Simulated on the `engine` fixture
  (SQLite, and PostgreSQL if configured): while it lasts every statement fails as against
  a server that is down (the connection refused, or a connection found dead).
- The Bot API failing the reply (5xx, a timeout, 429 for longer than the reply's own
  retries wait): the update is handled again after a pause.

bench/outages.py does both for real: the fake Bot API down for a minute, and `pg_ctl
restart` / `pg_ctl stop` on a private PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramServerError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, Message, Update
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import outage
from bot.db.engine import create_sessionmaker
from bot.db.fsm import SQLAlchemyStorage
from bot.db.models import ProcessedUpdate
from bot.db.outage import database_busy, database_unavailable, wait_for_database
from bot.middlewares import unit_of_work
from bot.middlewares.unit_of_work import InFlight, UnitOfWorkMiddleware
from bot.notify.retry import RetryMiddleware, handling_again
from tests.e2e.fakeapi import FakeBotAPI
from tests.integration.dbfaults import Outage

TOKEN = "42:TEST-token"
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BOT_ID, USER_ID = 42, 7


@pytest.fixture(autouse=True)
def quick_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outage, "FIRST_DELAY", 0.02)
    monkeypatch.setattr(outage, "LONGEST_DELAY", 0.05)
    monkeypatch.setattr(unit_of_work, "API_FIRST_PAUSE", 0.02)
    monkeypatch.setattr(unit_of_work, "API_LONGEST_PAUSE", 0.05)


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    server = TelegramAPIServer.from_base(api.base_url)
    async with Bot(TOKEN, session=AiohttpSession(api=server)) as client:
        yield client


def dispatcher_with(
    sessionmaker: async_sessionmaker[AsyncSession], calls: list[str], failure: str = ""
) -> Dispatcher:
    """As the application wires it: the FSM state in the database, one transaction per
    update. The handler moves the dialogue on (written in the update's transaction),
    replies, and fails as `failure` says: "lost once" (the connection dies the first
    time), "locked once" (SQLite's busy timeout ran out), "bug"."""
    dispatcher = Dispatcher(storage=SQLAlchemyStorage(sessionmaker))
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(sessionmaker, InFlight()))

    async def handler(message: Message, state: FSMContext) -> str:
        calls.append(str(message.text))
        await state.set_state("Dialogue:next")
        if failure == "lost once" and len(calls) == 1:
            # The connection dies half-way, after the handler wrote something.
            raise DBAPIError("COMMIT", None, Exception("closed"), connection_invalidated=True)
        if failure == "locked once" and len(calls) == 1:
            raise OperationalError("UPDATE", None, sqlite3.OperationalError("database is locked"))
        if failure == "bug":
            raise ValueError("a bug, not an outage")
        await message.answer(f"answer to {message.text}")
        return "handled"

    dispatcher.message.register(handler)
    return dispatcher


def message_update(update_id: int, text: str) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": USER_ID, "type": "private"},
                "from": {"id": USER_ID, "is_bot": False, "first_name": "S"},
                "text": text,
            },
        }
    )


async def handled(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(ProcessedUpdate.update_id)))


async def state_of(sessionmaker: async_sessionmaker[AsyncSession]) -> str | None:
    storage = SQLAlchemyStorage(sessionmaker)
    return await storage.get_state(StorageKey(bot_id=BOT_ID, chat_id=USER_ID, user_id=USER_ID))


@pytest.mark.parametrize("dead_connection", [False, True], ids=["refused", "dead-connection"])
async def test_an_update_waits_for_the_database_and_is_handled_once(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    bot: Bot,
    dead_connection: bool,
) -> None:
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls)
    down = Outage(engine, dead_connection=dead_connection)
    try:
        down.down = True
        feeding = asyncio.create_task(dispatcher.feed_update(bot, message_update(1, "hello")))
        await asyncio.sleep(0.3)
        assert not feeding.done()  # waiting, neither failed nor handled
        assert calls == [] and down.failed >= 2  # the state could not even be read
        down.down = False
        assert await asyncio.wait_for(feeding, 5) == "handled"
    finally:
        down.remove()
    assert calls == ["hello"]
    assert await handled(sessionmaker) == [1]
    assert await state_of(sessionmaker) == "Dialogue:next"


async def test_a_connection_lost_mid_update_handles_it_again(
    sessionmaker: async_sessionmaker[AsyncSession], bot: Bot
) -> None:
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls, "lost once")
    assert await dispatcher.feed_update(bot, message_update(5, "step")) == "handled"
    assert calls == ["step", "step"]  # the first run was rolled back, not remembered
    assert await handled(sessionmaker) == [5]
    assert await state_of(sessionmaker) == "Dialogue:next"


async def test_other_errors_fail_the_update_once(
    sessionmaker: async_sessionmaker[AsyncSession], bot: Bot
) -> None:
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls, "bug")
    with pytest.raises(ValueError, match="a bug"):
        await dispatcher.feed_update(bot, message_update(9, "boom"))
    assert calls == ["boom"]  # not handled again: it would only fail again
    assert await handled(sessionmaker) == [9]  # remembered, as before
    assert await state_of(sessionmaker) is None  # its changes rolled back


async def test_waiters_share_one_probe(engine: AsyncEngine) -> None:
    down = Outage(engine)
    try:
        assert await wait_for_database(engine) < 0.5  # up: at once
        down.down = True
        waiters = [asyncio.create_task(wait_for_database(engine)) for _ in range(20)]
        await asyncio.sleep(0.3)
        assert not any(w.done() for w in waiters)
        # One probe at a time (every 0.02-0.05 s here), not one per waiting update.
        assert 1 <= down.failed <= 15
        down.down = False
        waited = await asyncio.wait_for(asyncio.gather(*waiters), 5)
        assert all(w >= 0.3 for w in waited)
    finally:
        down.remove()


class _Gone(Exception):
    sqlstate = "57P03"  # the database system is starting up


def test_what_counts_as_the_database_being_away() -> None:
    assert database_unavailable(ConnectionRefusedError(111, "refused"))
    assert database_unavailable(ConnectionResetError())
    assert database_unavailable(
        DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True)
    )
    assert database_unavailable(DBAPIError("SELECT 1", None, _Gone("starting up")))
    # The statement or the data is wrong, or something else failed: not an outage.
    assert not database_unavailable(IntegrityError("INSERT", None, Exception("duplicate key")))
    assert not database_unavailable(DBAPIError("SELECT", None, Exception("syntax error")))
    assert not database_unavailable(OSError(28, "No space left on device"))
    assert not database_unavailable(TimeoutError())
    assert not database_unavailable(ValueError("x"))
    locked = OperationalError("UPDATE", None, sqlite3.OperationalError("database is locked"))
    assert database_busy(locked) and not database_unavailable(locked)
    assert not database_busy(OperationalError("SELECT", None, Exception("no such table: x")))


@pytest.mark.parametrize("mode", ["500", "timeout", "429"])
async def test_a_reply_the_bot_api_failed_is_sent_once_it_answers(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], bot: Bot, mode: str
) -> None:
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls)
    api.outage(mode, 0.5, retry_after=1)
    over = time.monotonic() + 0.5
    assert await dispatcher.feed_update(bot, message_update(11, "my surname")) == "handled"
    assert time.monotonic() >= over
    assert calls == ["my surname", "my surname"]  # the failed run was rolled back, not kept
    assert [c.params["text"] for c in api.delivered(USER_ID)] == ["answer to my surname"]
    # Waiting, it asked getMe now and then, and sent the reply again only once it answered.
    probes = [c for c in api.calls if c.method == "getMe"]
    assert 1 <= len(probes) <= 20 and probes[-1].ok
    assert await handled(sessionmaker) == [11]
    assert await state_of(sessionmaker) == "Dialogue:next"


async def test_the_bot_api_down_for_too_long_fails_the_update(
    api: FakeBotAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    bot: Bot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(unit_of_work, "API_PATIENCE", 0.2)
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls)
    api.outage("500", 30)
    with pytest.raises(TelegramServerError):
        await dispatcher.feed_update(bot, message_update(12, "hello"))
    api.outage_over()
    assert calls == ["hello"]  # never handled again while the Bot API did not answer
    assert await handled(sessionmaker) == [12]  # remembered: not handled after a restart
    assert await state_of(sessionmaker) is None


async def test_sqlite_locked_too_long_handles_the_update_again(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], bot: Bot
) -> None:
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls, "locked once")
    assert await dispatcher.feed_update(bot, message_update(13, "step")) == "handled"
    assert calls == ["step", "step"]
    assert [c.params["text"] for c in api.delivered(USER_ID)] == ["answer to step"]
    assert await handled(sessionmaker) == [13]


async def test_what_the_failed_run_did_at_telegram_counts_as_done_when_handled_again(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], bot: Bot
) -> None:
    """A button press: the first run answers it and edits the message, then loses its
    connection to the database; the second run's answer ("query is too old" at Telegram)
    and identical edit ("message is not modified") are taken as done, and it commits."""
    bot.session.middleware(RetryMiddleware())
    runs: list[bool] = []
    dispatcher = Dispatcher(storage=SQLAlchemyStorage(sessionmaker))
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(sessionmaker, InFlight()))

    async def confirmed(query: CallbackQuery, state: FSMContext) -> str:
        runs.append(handling_again.get())
        await state.set_state("Dialogue:linked")
        await query.answer()
        # As Telegram does: a callback query is answered once.
        api.fail_next("answerCallbackQuery", 400, description=TOO_OLD)
        assert isinstance(query.message, Message)
        await query.message.edit_text("Done! You are linked.")
        if len(runs) == 1:
            raise DBAPIError("COMMIT", None, Exception("closed"), connection_invalidated=True)
        return "handled"

    dispatcher.callback_query.register(confirmed)
    await bot.send_message(USER_ID, "Is this you?")
    update = api.click(api.user(USER_ID), api.messages(USER_ID)[-1], "yes")
    assert await dispatcher.feed_update(bot, Update.model_validate(update)) == "handled"
    assert runs == [False, True]
    assert [m["text"] for m in api.messages(USER_ID)] == ["Done! You are linked."]
    assert await handled(sessionmaker) == [update["update_id"]]
    assert await state_of(sessionmaker) == "Dialogue:linked"


async def test_not_modified_is_done_and_other_refusals_are_not(api: FakeBotAPI, bot: Bot) -> None:
    """An edit into what the message says already (a double tap) is done, first run or
    repeat: the one place that recognises it. Any other refusal of an edit still fails."""
    bot.session.middleware(RetryMiddleware())
    sent = await bot.send_message(USER_ID, "Same")
    assert await bot.edit_message_text("Same", chat_id=USER_ID, message_id=sent.message_id)
    token = handling_again.set(True)
    try:
        assert await bot.edit_message_text("Same", chat_id=USER_ID, message_id=sent.message_id)
    finally:
        handling_again.reset(token)
    with pytest.raises(TelegramBadRequest, match="not found"):
        await bot.edit_message_text("Other", chat_id=USER_ID, message_id=sent.message_id + 99)
