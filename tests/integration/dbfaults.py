"""A database outage simulated on an engine, for the tests of what the bot does when
PostgreSQL goes away (tests/integration/test_database_outage.py, the outbox's tests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


class Outage:
    """While `down`, every statement on the engine fails like one to a server that went
    away: ConnectionRefusedError (as asyncpg connecting), or a DBAPIError whose connection
    SQLAlchemy found dead (`dead_connection`). `down_after(text)`: it goes down once a
    statement containing `text` has run (its transaction can still commit)."""

    def __init__(self, engine: AsyncEngine, *, dead_connection: bool = False) -> None:
        self.down = False
        self.failed = 0
        self._dead = dead_connection
        self._trigger: str | None = None
        self._engine = engine
        event.listen(engine.sync_engine, "before_cursor_execute", self._check)
        event.listen(engine.sync_engine, "after_cursor_execute", self._ran)

    def down_after(self, text: str) -> None:
        self._trigger = text

    def _check(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if not self.down:
            return
        self.failed += 1
        if self._dead:
            raise DBAPIError(
                statement, params, Exception("connection is closed"), connection_invalidated=True
            )
        raise ConnectionRefusedError(111, "Connect call failed (a simulated outage)")

    def _ran(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self._trigger is not None and self._trigger in statement:
            self._trigger = None
            self.down = True

    def remove(self) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._check)
        event.remove(self._engine.sync_engine, "after_cursor_execute", self._ran)
