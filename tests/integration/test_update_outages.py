"""An update that meets an outage is handled again once it is over, not lost.

- The database going away (PostgreSQL restarting): the update waits until it answers,
  instead of being answered "something went wrong". Simulated on the `engine` fixture
  (SQLite, and PostgreSQL if configured): while it lasts every statement fails as against
  a server that is down (the connection refused, or a connection found dead).
- The Bot API failing a request the handler waits on (5xx, a timeout, 429 for longer
  than the request's own retries wait): the update is handled again after a pause. Its
  replies are no such request: they go out after the commit (bot.middlewares.held), and
  one Telegram fails then goes through the outbox; the update is not handled again.

bench/outages.py does both for real: the fake Bot API down for a minute, and `pg_ctl
restart` / `pg_ctl stop` on a private PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramServerError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Message, Update
from aiogram.utils.i18n import I18n
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_bot
from bot.config import Settings
from bot.db import outage
from bot.db.engine import create_sessionmaker
from bot.db.fsm import SQLAlchemyStorage
from bot.db.models import Notice, ProcessedUpdate
from bot.db.outage import database_busy, database_unavailable, wait_for_database
from bot.i18n import LOCALES
from bot.middlewares import unit_of_work
from bot.middlewares.unit_of_work import InFlight, UnitOfWorkMiddleware
from bot.notify.retry import RetryMiddleware
from bot.notify.sender import OutboxSender
from bot.notify.stored_replies import ReplyStore
from tests.e2e.conftest import MovableClock
from tests.e2e.fakeapi import FakeBotAPI
from tests.integration.dbfaults import Outage

TOKEN = "42:TEST-token"
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


class Claims:
    """The outbox sender as the reply store sees it: a worker id, and being woken."""

    worker_id = "updates"
    lease = timedelta(minutes=2)  # as the sender's

    def __init__(self, woken: list[bool]) -> None:
        self.woken = woken
        self.journal: list[tuple[int, int, int, str]] = []

    def wake(self) -> None:
        self.woken.append(True)

    def record_sent(self, notice_id: int, parts_done: int, parts: int, key: str) -> None:
        self.journal.append((notice_id, parts_done, parts, key))

    def sent_unmarked(self, notice_ids: Iterable[int]) -> None:
        raise AssertionError(f"not marked: {notice_ids}")


def dispatcher_with(
    sessionmaker: async_sessionmaker[AsyncSession],
    calls: list[str],
    failure: str = "",
    *,
    outbox: ReplyStore | None = None,
    asks_telegram: bool = False,
) -> Dispatcher:
    """As the application wires it: the FSM state in the database, one transaction per
    update. The handler moves the dialogue on (written in the update's transaction),
    asks the Bot API something first if `asks_telegram` (as a handler downloading a
    file waits on it), replies, and fails as `failure` says: "lost once" (the connection
    dies the first time), "locked once" (SQLite's busy timeout ran out), "bug"."""
    dispatcher = Dispatcher(storage=SQLAlchemyStorage(sessionmaker))
    dispatcher.update.outer_middleware(
        UnitOfWorkMiddleware(sessionmaker, InFlight(), outbox=outbox)
    )

    async def handler(message: Message, state: FSMContext, bot: Bot) -> str:
        calls.append(str(message.text))
        await state.set_state("Dialogue:next")
        if asks_telegram:
            await bot.get_my_commands()
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
async def test_a_request_the_bot_api_failed_is_made_again_once_it_answers(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], bot: Bot, mode: str
) -> None:
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls, asks_telegram=True)
    api.outage(mode, 0.5, retry_after=1)
    over = time.monotonic() + 0.5
    assert await dispatcher.feed_update(bot, message_update(11, "my surname")) == "handled"
    assert time.monotonic() >= over
    assert calls == ["my surname", "my surname"]  # the failed run was rolled back, not kept
    assert [c.params["text"] for c in api.delivered(USER_ID)] == ["answer to my surname"]
    # Waiting, it asked getMe now and then, and handled it again only once it answered.
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
    dispatcher = dispatcher_with(sessionmaker, calls, asks_telegram=True)
    api.outage("500", 30)
    with pytest.raises(TelegramServerError):
        await dispatcher.feed_update(bot, message_update(12, "hello"))
    api.outage_over()
    assert calls == ["hello"]  # never handled again while the Bot API did not answer
    assert await handled(sessionmaker) == [12]  # remembered: not handled after a restart
    assert await state_of(sessionmaker) is None


@pytest.mark.parametrize("mode", ["500", "timeout", "429"])
async def test_a_reply_the_bot_api_fails_after_the_commit_goes_through_the_outbox(
    api: FakeBotAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    bot: Bot,
    mode: str,
) -> None:
    """The update is handled once and kept; its reply, which Telegram failed, is stored as
    a notice and the outbox sender delivers it once the Bot API answers again."""
    woken: list[bool] = []
    clock = MovableClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    outbox = ReplyStore(sessionmaker, clock, Claims(woken))
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls, outbox=outbox)
    api.outage(mode, 0.5, retry_after=1)
    assert await dispatcher.feed_update(bot, message_update(14, "my <surname> & co")) == "handled"
    assert calls == ["my <surname> & co"]  # handled once: the reply's failure undid nothing
    assert await handled(sessionmaker) == [14]
    assert await state_of(sessionmaker) == "Dialogue:next"
    assert api.delivered(USER_ID) == [] and woken == [True]
    async with sessionmaker() as session:
        notice = (await session.scalars(select(Notice))).one()
    assert notice.kind == "reply" and notice.chat_id == USER_ID
    api.outage_over()
    settings = Settings(bot_token=TOKEN, telegram_api_url=api.base_url, _env_file=None)
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    sender = OutboxSender(
        create_bot(settings, retry=False), sessionmaker, clock=clock, settings=settings, i18n=i18n
    )
    try:
        assert (await sender.drain()).sent == 1
    finally:
        await sender.close()
    [reply] = api.delivered(USER_ID)
    assert reply.params["text"] == "answer to my <surname> & co"
    # As the handler's bot would have sent it (plain text): not the outbox bot's HTML.
    assert "parse_mode" not in reply.params
    assert (await sender.drain()).sent == 0  # once


async def test_sqlite_locked_too_long_handles_the_update_again(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], bot: Bot
) -> None:
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls, "locked once")
    assert await dispatcher.feed_update(bot, message_update(13, "step")) == "handled"
    assert calls == ["step", "step"]
    assert [c.params["text"] for c in api.delivered(USER_ID)] == ["answer to step"]
    assert await handled(sessionmaker) == [13]


async def test_a_rolled_back_run_says_nothing_at_telegram(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], bot: Bot
) -> None:
    """A button press: the first run answers it and edits the message, then loses its
    connection to the database. Its answer and edit were held, and are dropped with its
    rollback: Telegram gets one answer and one edit, from the run that committed."""
    bot.session.middleware(RetryMiddleware())
    runs: list[int] = []
    dispatcher = Dispatcher(storage=SQLAlchemyStorage(sessionmaker))
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(sessionmaker, InFlight()))

    async def confirmed(query: CallbackQuery, state: FSMContext) -> str:
        runs.append(len(runs) + 1)
        await state.set_state("Dialogue:linked")
        await query.answer(f"run {len(runs)}")
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"Done! You are linked (run {len(runs)}).")
        if len(runs) == 1:
            raise DBAPIError("COMMIT", None, Exception("closed"), connection_invalidated=True)
        return "handled"

    dispatcher.callback_query.register(confirmed)
    await bot.send_message(USER_ID, "Is this you?")
    update = api.click(api.user(USER_ID), api.messages(USER_ID)[-1], "yes")
    assert await dispatcher.feed_update(bot, Update.model_validate(update)) == "handled"
    assert runs == [1, 2]
    answers = [c.params.get("text") for c in api.calls if c.method == "answerCallbackQuery"]
    assert answers == ["run 2"]
    edits = [c.params["text"] for c in api.calls if c.method == "editMessageText"]
    assert edits == ["Done! You are linked (run 2)."]
    assert [m["text"] for m in api.messages(USER_ID)] == ["Done! You are linked (run 2)."]
    assert await handled(sessionmaker) == [update["update_id"]]
    assert await state_of(sessionmaker) == "Dialogue:linked"


async def test_not_modified_is_done_and_other_refusals_are_not(api: FakeBotAPI, bot: Bot) -> None:
    """An edit into what the message says already (a double tap) is done, first run or
    repeat: the one place that recognises it. Any other refusal of an edit still fails."""
    bot.session.middleware(RetryMiddleware())
    sent = await bot.send_message(USER_ID, "Same")
    assert await bot.edit_message_text("Same", chat_id=USER_ID, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="not found"):
        await bot.edit_message_text("Other", chat_id=USER_ID, message_id=sent.message_id + 99)


async def test_a_reply_waiting_on_a_slow_telegram_holds_no_write_lock(
    api: FakeBotAPI, sessionmaker: async_sessionmaker[AsyncSession], bot: Bot
) -> None:
    """One student's reply takes Telegram 2 s; another student's update, which writes,
    finishes meanwhile (on SQLite the first update's write lock would stop it)."""
    slow = asyncio.Event()

    async def slow_telegram(
        make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        if isinstance(method, SendMessage) and method.chat_id == USER_ID:
            slow.set()
            await asyncio.sleep(2)
        return await make_request(bot, method)

    bot.session.middleware(slow_telegram)
    calls: list[str] = []
    dispatcher = dispatcher_with(sessionmaker, calls)
    first = asyncio.create_task(dispatcher.feed_update(bot, message_update(21, "first")))
    await asyncio.wait_for(slow.wait(), 5)
    other = Update.model_validate(
        {
            "update_id": 22,
            "message": {
                "message_id": 22,
                "date": 0,
                "chat": {"id": USER_ID + 1, "type": "private"},
                "from": {"id": USER_ID + 1, "is_bot": False, "first_name": "T"},
                "text": "second",
            },
        }
    )
    started = time.monotonic()
    assert await asyncio.wait_for(dispatcher.feed_update(bot, other), 5) == "handled"
    assert time.monotonic() - started < 1.5  # not behind the first one's reply
    assert not first.done()  # its reply is still on its way
    assert sorted(await handled(sessionmaker)) == [21, 22]  # both committed already
    assert await first == "handled"
    assert [c.params["text"] for c in api.delivered(USER_ID)] == ["answer to first"]
