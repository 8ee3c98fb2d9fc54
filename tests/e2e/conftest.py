"""End-to-end harness: the real bot polls a fake Bot API server over HTTP on 127.0.0.1.

`bot_runner` starts the bot exactly as `python -m bot` does (same Application, same
middlewares and routers), only with a movable clock, and can stop and start it again
on the same database to test restarts.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import TelegramMethod
from aiogram.types import Message, TelegramObject, Update
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Application, build_application
from bot.config import Settings
from bot.db.engine import create_engine
from bot.db.models import InviteRole
from bot.keyboards.callbacks import JoinCB
from bot.services.imports import import_roster, import_schedule
from bot.services.onboarding import create_invite
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, Pace

TOKEN = "123456:TEST-token"
ADMIN_ID = 900_001
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
# Telegram's pace in one chat, ten times faster on both sides: the fake takes ten messages
# or edits a second per chat (with Telegram's burst of ten), the bot keeps 0.11 s between
# them (CHAT_INTERVAL). Every flow still meets the pace, and its 429 if the bot broke it,
# in a tenth of the time: the bot's second between a message and a press's edit was most
# of the suite's time. A group's twenty a minute and the 30/s in all stay Telegram's.
# Tests about the pace in a chat itself, and one whole flow per role, are marked
# `telegram_pace`: Telegram's own. TEST_TELEGRAM_PACE=1 runs every test at Telegram's own.
FAST_PACE = Pace(chat_per_second=10.0)
FAST_CHAT_INTERVAL = 0.11


def telegram_pace(request: pytest.FixtureRequest) -> bool:
    """Whether the test meets Telegram's own pace in a chat: the mark, or the whole run
    asked for it (TEST_TELEGRAM_PACE=1)."""
    if os.environ.get("TEST_TELEGRAM_PACE", "") not in ("", "0"):
        return True
    return request.node.get_closest_marker("telegram_pace") is not None


class Gate:
    """An inner middleware holding the updates `holds` picks (every one by default) in their
    handler, inside the update's transaction, until opened: an update caught mid-handler."""

    def __init__(self, holds: Callable[[TelegramObject], bool] = lambda _event: True) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self._holds = holds

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if self._holds(event):
            self.entered.set()
            await self.opened.wait()
        return await handler(event, data)


def note_storage_close(storage: BaseStorage, events: list[str]) -> None:
    """Appends "storage closed" to `events` when the dialogue storage is closed (and
    closes it): where the close comes in a stop's order."""
    close = storage.close

    async def noted_close() -> None:
        events.append("storage closed")
        await close()

    storage.close = noted_close  # type: ignore[method-assign]


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def move(self, delta: timedelta) -> None:
        self._now += delta


# The update the running task handles, with that task: set by the harness's innermost
# outer middleware and left set, since the replies go out after the commit, further out
# in the same task. Another task (the roll's redraws) is not the update's.
HANDLING: ContextVar[tuple[int, asyncio.Task[Any] | None] | None] = ContextVar(
    "handling", default=None
)


class NoteUpdate(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        HANDLING.set((event.update_id, asyncio.current_task()))
        return await handler(event, data)


class NoteAnswers(BaseRequestMiddleware):
    """On the bot's replies' session: tells the fake which update each message sent or
    edited answered, so press() knows its answer from a notice sent meanwhile."""

    def __init__(self, api: FakeBotAPI) -> None:
        self._api = api

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        result = await make_request(bot, method)  # the method's result, not a Response
        handling = HANDLING.get()
        if handling is not None and handling[1] is asyncio.current_task():
            for message in result if isinstance(result, list) else [result]:
                if isinstance(message, Message):
                    self._api.note_answer(
                        handling[0], message.chat.id, message.message_id, method.__api_method__
                    )
        return result


class BotRunner:
    """Runs the bot's polling loop in a task; stop() and start() again to 'restart'."""

    def __init__(self, api: FakeBotAPI, settings: Settings, clock: MovableClock) -> None:
        self.api = api
        self.settings = settings
        self.clock = clock
        self.app: Application | None = None
        self._handled_before = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Application:
        # Updates up to here were settled by the previous run (settle() before stop()).
        self._handled_before = self.api.last_update_id
        self.app = build_application(self.settings, clock=self.clock)
        self.app.dispatcher.update.outer_middleware(NoteUpdate())
        self.app.bot.session.middleware(NoteAnswers(self.api))
        await self.app.prepare()
        # Registered after the application's own: set once its start-up work (the default
        # menus, the sender) is done, so no test looks before the bot has started.
        started = asyncio.Event()

        async def note_started() -> None:
            started.set()

        self.app.dispatcher.startup.register(note_started)
        self._task = asyncio.create_task(self.app.run_polling(handle_signals=False))
        waiting = asyncio.create_task(started.wait())
        async with asyncio.timeout(30):
            await asyncio.wait({waiting, self._task}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        return self.app

    async def stop(self) -> None:
        if self.app is None or self._task is None:
            return
        if not self._task.done():
            await self.app.dispatcher.stop_polling()
        await self._task
        self.app = None
        self._task = None

    async def settle(self) -> None:
        """Waits until every update sent so far is handled and committed."""
        assert self.app is not None
        last = self.api.last_update_id if self.api.last_update_id > self._handled_before else 0
        # Polling state the bot does not signal: a short sleep loop, bounded by the timeout.
        # Replies are paced like Telegram (a long list in several messages takes seconds).
        async with asyncio.timeout(30):
            while last and last not in self.app.in_flight.finished:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            while self.app.in_flight.count:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await self.app.edits.wait_idle()  # the roll's redraw, sent after the update
            if self.app.replies is not None:  # the answers said at once, settled in the outbox
                await self.app.replies.settled()

    async def outbox_settled(self) -> None:
        """Waits until the sender holds no claimed notice (what it sent is marked sent)."""
        from sqlalchemy import func, select

        from bot.db.models import Notice, NoticeStatus

        async with asyncio.timeout(10):
            while True:
                async with self.sessionmaker() as session:
                    claimed = await session.scalar(
                        select(func.count())
                        .select_from(Notice)
                        .where(Notice.status == NoticeStatus.CLAIMED)
                    )
                if not claimed:
                    return
                await asyncio.sleep(0.02)

    def tick(self, delta: timedelta) -> None:
        """Moves time on and lets the outbox sender look at what became due."""
        assert self.app is not None
        self.clock.move(delta)
        self.app.sender.wake()

    def at(self, moment: datetime) -> None:
        self.tick(moment - self.clock.now())

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        assert self.app is not None
        return self.app.sessionmaker


@pytest_asyncio.fixture
async def api(request: pytest.FixtureRequest) -> AsyncIterator[FakeBotAPI]:
    pace = Pace() if telegram_pace(request) else FAST_PACE
    async with FakeBotAPI(token=TOKEN, bot_username="examinator_test_bot", pace=pace) as server:
        yield server


@pytest.fixture
def clock() -> MovableClock:
    # Before every sample exam (December 2026 – January 2027).
    return MovableClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest_asyncio.fixture
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_dsn: str | None
) -> str:
    """SQLite by default; `indirect` parametrisation with "postgres" uses TEST_POSTGRES_DSN."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        path = tmp_path / "bot.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite+aiosqlite:///{path}"
    dsn = postgres_dsn
    if not dsn:
        pytest.skip("PostgreSQL not configured: set TEST_POSTGRES_DSN")
    engine = create_engine(dsn)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return dsn


@pytest.fixture
def redis_url() -> str | None:
    return None


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    api: FakeBotAPI,
    database_url: str,
    redis_url: str | None,
    tmp_path: Path,
) -> Settings:
    own: float = Settings.model_fields["chat_interval"].default
    return Settings(
        bot_token=TOKEN,
        telegram_api_url=api.base_url,
        database_url=database_url,
        redis_url=redis_url,
        admin_ids=frozenset({ADMIN_ID}),
        polling_timeout=1,
        institution_name="КГМУ",
        files_dir=tmp_path / "files",
        journal_dir=tmp_path / "journal",
        # The roll redraws at once: the fake does not pace edits unless a test asks it to
        # (test_roll_taps does, with the real interval).
        edit_interval=0,
        chat_interval=own if telegram_pace(request) else FAST_CHAT_INTERVAL,
        _env_file=None,
    )


@pytest_asyncio.fixture
async def bot_runner(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(api, settings, clock)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def seed_samples(runner: BotRunner) -> None:
    """The sample roster and schedule, imported as the CLI would."""
    assert runner.app is not None
    async with runner.sessionmaker.begin() as session:
        roster = (SAMPLES / "roster.csv").read_bytes()
        schedule = (SAMPLES / "schedule.csv").read_bytes()
        assert (await import_roster(session, "roster.csv", roster)).ok
        assert (await import_schedule(session, "schedule.csv", schedule, tz=runner.settings.tz)).ok


@pytest_asyncio.fixture
async def seeded(bot_runner: BotRunner) -> BotRunner:
    await seed_samples(bot_runner)
    return bot_runner


async def say(api: FakeBotAPI, user: FakeUser, text: str) -> dict[str, Any]:
    """Sends a message as the user; returns the bot's answer to it in that chat: the
    first message sent or edited while handling it (not an outbox notice that happened
    to come first; see NoteAnswers)."""
    after = api.mark()
    update = user.send(text)
    return await api.answer(update, user.id, after=after)


async def upload(
    api: FakeBotAPI, user: FakeUser, filename: str, content: bytes, **kwargs: Any
) -> dict[str, Any]:
    """Sends a document as the user; returns the bot's answer to it, as `say`."""
    after = api.mark()
    update = api.send_document(user, filename, content=content, **kwargs)
    return await api.answer(update, user.id, after=after)


async def invite_token(runner: BotRunner, role: InviteRole, name: str | None = None) -> str:
    async with runner.sessionmaker.begin() as session:
        return (await create_invite(session, role, name=name)).token


async def join_by_invite(
    api: FakeBotAPI, runner: BotRunner, user: FakeUser, role: InviteRole, name: str | None = None
) -> dict[str, Any]:
    """Makes an invite and redeems it as the user; returns the bot's welcome."""
    return await say(api, user, f"/start {await invite_token(runner, role, name)}")


async def deanery_chat(
    api: FakeBotAPI, runner: BotRunner, dean: FakeUser, faculty: str, chat_id: int
) -> dict[str, Any]:
    """The dean joins by invite and binds a group chat as the faculty's dean's office."""
    group: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": "Деканат"}
    await join_by_invite(api, runner, dean, InviteRole.DEAN, faculty)
    after = api.mark()
    dean.send("/bind", chat=group)
    await api.next_message(chat_id, after=after)
    return group


async def link_student(api: FakeBotAPI, user: FakeUser, record_book: str, surname: str) -> None:
    await say(api, user, "/start")
    await say(api, user, record_book)
    reply = await say(api, user, surname)
    await press(api, user, reply, JoinCB(confirm=True).pack())
    await api.next_message(user.id)  # the help that follows a successful link


async def press(
    api: FakeBotAPI, user: FakeUser, message: dict[str, Any], data: str
) -> dict[str, Any]:
    """Presses a button; returns the bot's answer in that chat: the pressed message edited,
    or the first message sent or edited while handling the press (not an outbox notice
    that happened to come first; see NoteAnswers)."""
    after = api.mark()
    update = user.click(message, data)
    return await api.answer(update, user.id, after=after)
