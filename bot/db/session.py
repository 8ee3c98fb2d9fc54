"""The session as handlers name it: they receive it (from the unit-of-work middleware) and
hand it to the services. Handlers build no SQL and import no sqlalchemy (an import-linter
contract in pyproject.toml), so the type comes from here."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["AsyncSession", "async_sessionmaker"]
