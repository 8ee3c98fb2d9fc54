"""aiogram FSM storage in the database, so a half-finished dialogue survives a restart.

Inside an update the storage writes through that update's own session: the new state
commits together with whatever the handler changed (and on SQLite a second connection
would wait for the update's write lock). Outside an update it uses a session of its own,
and waits while the database is unavailable (bot.db.outage).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import FsmRecord
from bot.db.outage import database_unavailable, wait_for_database

log = logging.getLogger(__name__)

T = TypeVar("T")
# As in bot.middlewares.unit_of_work: an "outage" that outlasts this many answers is none.
OUTAGE_RETRIES = 5

update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)
# An update session's info key: whether the update wrote anything (False until it does).
# The unit of work (bot.middlewares.unit_of_work) marks an update handled only if so.
WROTE = "wrote"
# In an update's data: its dialogue state is to be read in the update's transaction
# (bot.polling.StateLockMiddleware sets it, bot.middlewares.unit_of_work reads the state).
STATE_UNREAD = "state_unread"


def stored_state_key(context: FSMContext) -> str | None:
    """The `fsm_records` key of the context's state when SQLAlchemyStorage keeps it (so
    the unit of work reads it in the update's first statement); None for Redis."""
    storage = context.storage
    if isinstance(storage, SQLAlchemyStorage):
        return storage._keys.build(context.key)
    return None


class SQLAlchemyStorage(BaseStorage):
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], key_builder: KeyBuilder | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keys = key_builder or DefaultKeyBuilder(with_destiny=True)

    async def _run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`work` in the update's session; outside an update (aiogram reads the state
        before the update's transaction begins) in a transaction of its own, which waits
        while the database is unavailable and runs again once it answers."""
        current = update_session.get()
        if current is not None:
            return await work(current)
        retries = 0
        while True:
            try:
                async with self._sessionmaker.begin() as session:
                    return await work(session)
            except Exception as exc:
                if not database_unavailable(exc) or retries >= OUTAGE_RETRIES:
                    raise
                retries += 1
                log.warning("dialogue state: the database is unavailable; waiting for it")
                await wait_for_database(self._sessionmaker.kw["bind"])

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state

        async def work(session: AsyncSession) -> None:
            record = await self._record(session, key)
            if record is None:
                if value is not None:
                    session.add(FsmRecord(key=self._keys.build(key), state=value, data={}))
            elif value is None and not record.data:
                await session.delete(record)
            else:
                record.state = value

        await self._run(work)

    async def get_state(self, key: StorageKey) -> str | None:
        async def work(session: AsyncSession) -> str | None:
            record = await self._record(session, key)
            return record.state if record else None

        return await self._run(work)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        # The JSON round trip makes unserialisable data fail here, in tests, not after a restart.
        plain = json.loads(json.dumps(dict(data)))

        async def work(session: AsyncSession) -> None:
            record = await self._record(session, key)
            if record is None:
                if plain:
                    session.add(FsmRecord(key=self._keys.build(key), state=None, data=plain))
            elif not plain and record.state is None:
                await session.delete(record)
            else:
                record.data = plain

        await self._run(work)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async def work(session: AsyncSession) -> dict[str, Any]:
            record = await self._record(session, key)
            return dict(record.data) if record else {}

        return await self._run(work)

    async def close(self) -> None:
        """The engine belongs to the application, which disposes of it."""

    async def _record(self, session: AsyncSession, key: StorageKey) -> FsmRecord | None:
        return await session.get(FsmRecord, self._keys.build(key))


class WritesNoted(BaseStorage):
    """A storage outside the database (Redis) whose writes count as the update's own: an
    update that only moved its dialogue on there wrote nothing to the database, yet must
    be marked handled, so that Telegram sending it again (after a restart, or to the
    other replica) does not take the step twice (a photo attached twice)."""

    def __init__(self, inner: BaseStorage) -> None:
        self.inner = inner

    @staticmethod
    def _note() -> None:
        session = update_session.get()
        if session is not None and WROTE in session.info:
            session.info[WROTE] = True

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        self._note()
        await self.inner.set_state(key, state)

    async def get_state(self, key: StorageKey) -> str | None:
        return await self.inner.get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        self._note()
        await self.inner.set_data(key, data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return await self.inner.get_data(key)

    async def close(self) -> None:
        await self.inner.close()
