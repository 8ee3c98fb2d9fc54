"""The fast tier: the real application (middlewares, router tree, handlers, services, the
database, the held replies) fed updates in-process, with no Bot API server and no polling.

Like aiogram's own tests/mocked_bot.py, every Bot the application makes shares one
recording session: each request is kept, and answered with a plausible result at once.
A case here costs milliseconds where the same case over real HTTP costs a fixture of a
second and the waits of polling and pacing; the real-HTTP tests (tests/e2e) keep the
whole flows, the restarts, the pacing and what the strict fake checks of each request.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message, PhotoSize, Update, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.app as app_module
from bot.app import Application, build_application
from bot.config import Settings
from bot.db.models import InviteRole
from bot.keyboards.callbacks import JoinCB
from bot.services.imports import import_roster, import_schedule
from bot.services.onboarding import create_invite
from tests.e2e.conftest import ADMIN_ID, SAMPLES, TOKEN, MovableClock

BOT_ID = int(TOKEN.split(":")[0])
# Requests whose answer is a Message (the rest are answered True).
RETURNS_MESSAGE = {
    "sendMessage",
    "sendDocument",
    "sendPhoto",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
}


@dataclass
class Call:
    method: str
    request: TelegramMethod[Any]

    def __getattr__(self, name: str) -> Any:  # call.text, call.chat_id, call.show_alert
        return getattr(self.request, name)


class RecordingSession(BaseSession):
    """Keeps every request; answers at once, as a Bot API that accepts everything would."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self._message_ids = itertools.count(10_000)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        name = method.__api_method__
        self.calls.append(Call(name, method))
        result: Any = True
        if name == "getMe":
            result = User(id=BOT_ID, is_bot=True, first_name="Examinator", username="ex_bot")
        elif name in RETURNS_MESSAGE:
            chat_id = int(getattr(method, "chat_id", None) or 0)
            result = Message(
                message_id=getattr(method, "message_id", None) or next(self._message_ids),
                date=datetime.now(UTC),
                chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
                text=getattr(method, "text", None),
            )
        return result  # type: ignore[no-any-return]

    async def close(self) -> None:
        pass

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 (aiogram's signature)
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("no downloads in the fast tier")
        yield b""  # an async generator, as the session's own


class FastBot:
    """Feeds updates to the application as polling would, and returns what it sent."""

    def __init__(self, app: Application, session: RecordingSession, clock: MovableClock) -> None:
        self.app = app
        self.session = session
        self.clock = clock
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.app.sessionmaker

    def user(self, user_id: int, language_code: str = "en") -> User:
        return User(id=user_id, is_bot=False, first_name=f"U{user_id}", language_code=language_code)

    async def feed(self, update: Update) -> list[Call]:
        before = len(self.session.calls)
        await self.app.dispatcher.feed_update(self.app.bot, update)
        await self.app.edits.wait_idle()
        if self.app.replies is not None:  # the answers said at once, settled in the outbox
            await self.app.replies.settled()
        return self.session.calls[before:]

    def _message(self, user: User, text: str, chat: Chat | None = None) -> Message:
        return Message(
            message_id=next(self._message_ids),
            date=self.clock.now(),
            chat=chat or Chat(id=user.id, type="private"),
            from_user=user,
            text=text,
        )

    async def send(self, user: User, text: str, chat: Chat | None = None) -> list[Call]:
        message = self._message(user, text, chat)
        return await self.feed(Update(update_id=next(self._update_ids), message=message))

    async def send_photo(self, user: User) -> list[Call]:
        message = self._message(user, "", None).model_copy(
            update={
                "text": None,
                "photo": [PhotoSize(file_id="p1", file_unique_id="u1", width=90, height=90)],
            }
        )
        return await self.feed(Update(update_id=next(self._update_ids), message=message))

    async def link(self, user: User, record_book: str, surname: str) -> None:
        """Links the user to the roster entry as a student (/start, book, surname, yes)."""
        await self.say(user, "/start")
        await self.say(user, record_book)
        await self.say(user, surname)
        await self.press(user, JoinCB(confirm=True).pack())

    async def join(self, user: User, role: InviteRole, name: str | None = None) -> None:
        await self.send(user, f"/start {await self.invite(role, name)}")

    async def say(self, user: User, text: str, chat: Chat | None = None) -> Call:
        """The one message the bot sent back."""
        sent = [c for c in await self.send(user, text, chat) if c.method == "sendMessage"]
        assert len(sent) == 1, [c.method for c in sent]
        return sent[0]

    async def press(self, user: User, data: str, chat: Chat | None = None) -> list[Call]:
        shown = self._message(user, "…", chat)
        shown = shown.model_copy(update={"from_user": User(id=BOT_ID, is_bot=True, first_name="B")})
        update = Update.model_validate(
            {
                "update_id": next(self._update_ids),
                "callback_query": {
                    "id": str(next(self._update_ids)),
                    "from": user.model_dump(),
                    "chat_instance": "1",
                    "message": shown.model_dump(),
                    "data": data,
                },
            }
        )
        return await self.feed(update)

    async def answer(self, user: User, data: str, chat: Chat | None = None) -> Call:
        """The answer to a press (the toast or alert)."""
        calls = await self.press(user, data, chat)
        answers = [c for c in calls if c.method == "answerCallbackQuery"]
        assert len(answers) == 1, [c.method for c in calls]
        return answers[0]

    async def invite(self, role: InviteRole, name: str | None = None) -> str:
        async with self.sessionmaker.begin() as session:
            return (await create_invite(session, role, name=name)).token


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@asynccontextmanager
async def open_fast(tmp_path: Path, template: Path, clock: MovableClock) -> AsyncIterator[FastBot]:
    """The application on a copy of the migrated database, with the sample roster and
    schedule imported; nothing is started (no polling, no outbox sender, no chores)."""
    shutil.copyfile(template, tmp_path / "bot.db")
    settings = Settings(
        bot_token=TOKEN,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        admin_ids=frozenset({ADMIN_ID}),
        institution_name="КГМУ",
        files_dir=tmp_path / "files",
        journal_dir=tmp_path / "journal",
        edit_interval=0,
        flood_limit=0,
        _env_file=None,
    )
    session = RecordingSession()

    def create_bot(*_args: Any, **_kwargs: Any) -> Bot:
        default = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)
        return Bot(token=TOKEN, session=session, default=default)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_module, "create_bot", create_bot)
        app = build_application(settings, clock=clock)
    await app.prepare()
    async with app.sessionmaker.begin() as db:
        assert (await import_roster(db, "roster.csv", (SAMPLES / "roster.csv").read_bytes())).ok
        schedule = (SAMPLES / "schedule.csv").read_bytes()
        assert (await import_schedule(db, "schedule.csv", schedule, tz=settings.tz)).ok
    try:
        yield FastBot(app, session, clock)
    finally:
        await app.close()


@pytest_asyncio.fixture
async def fast(
    tmp_path: Path, migrated_sqlite: Path, clock: MovableClock
) -> AsyncIterator[FastBot]:
    async with open_fast(tmp_path, migrated_sqlite, clock) as made:
        yield made
