"""aiogram FSM storage in the database, so a half-finished dialogue survives a restart.

Inside an update the storage writes through that update's own session: the new state
commits together with whatever the handler changed (and on SQLite a second connection
would wait for the update's write lock). Outside an update it uses a session of its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

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

update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


class SQLAlchemyStorage(BaseStorage):
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], key_builder: KeyBuilder | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keys = key_builder or DefaultKeyBuilder(with_destiny=True)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        current = update_session.get()
        if current is not None:
            yield current
            return
        async with self._sessionmaker.begin() as session:
            yield session

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        async with self._session() as session:
            record = await self._record(session, key)
            if record is None:
                if value is not None:
                    session.add(FsmRecord(key=self._keys.build(key), state=value, data={}))
            elif value is None and not record.data:
                await session.delete(record)
            else:
                record.state = value

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as session:
            record = await self._record(session, key)
            return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        # The JSON round trip makes unserialisable data fail here, in tests, not after a restart.
        plain = json.loads(json.dumps(dict(data)))
        async with self._session() as session:
            record = await self._record(session, key)
            if record is None:
                if plain:
                    session.add(FsmRecord(key=self._keys.build(key), state=None, data=plain))
            elif not plain and record.state is None:
                await session.delete(record)
            else:
                record.data = plain

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as session:
            record = await self._record(session, key)
            return dict(record.data) if record else {}

    async def close(self) -> None:
        """The engine belongs to the application, which disposes of it."""

    async def _record(self, session: AsyncSession, key: StorageKey) -> FsmRecord | None:
        return await session.get(FsmRecord, self._keys.build(key))
