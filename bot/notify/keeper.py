"""The file keeper: statement documents and exam works are downloaded from Telegram into
FILES_DIR soon after they arrive, so a statement keeps its documents even if Telegram
forgets a file id. Runs beside the outbox sender; a file it could not fetch yet (Telegram
unreachable) is tried again on the next round, one that Telegram refuses is recorded so.
A chore (bot.notify.chores).
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramServerError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db.models import ExamWork, StatementFile

log = logging.getLogger(__name__)

EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "application/pdf": ".pdf",
}
BATCH = 20


def _extension(mime_type: str | None) -> str:
    return EXTENSIONS.get((mime_type or "").lower(), ".bin")


class FileKeeper:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        self._bot = bot
        self._sessionmaker = sessionmaker
        self._dir = settings.files_dir

    async def close(self) -> None:
        await self._bot.session.close()

    async def run_once(self) -> int:
        """Fetches what is not kept yet; returns how many files were stored."""
        stored = 0
        kinds: tuple[tuple[type[StatementFile] | type[ExamWork], str], ...] = (
            (StatementFile, "statements"),
            (ExamWork, "works"),
        )
        for model, folder in kinds:
            async with self._sessionmaker() as session:
                rows: list[StatementFile | ExamWork] = list(
                    await session.scalars(
                        select(model).where(model.stored_path.is_(None)).limit(BATCH)
                    )
                )
            for row in rows:
                owner = row.statement_id if isinstance(row, StatementFile) else row.exam_id
                relative = (
                    Path(folder)
                    / str(owner)
                    / (f"{row.id}-{row.file_unique_id}{_extension(row.mime_type)}")
                )
                try:
                    target = self._dir / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    await self._bot.download(row.file_id, destination=target)
                    path = str(relative)
                    stored += 1
                except TelegramBadRequest as exc:  # Telegram no longer has it (or too big)
                    log.warning(
                        "file %s of %s %s cannot be kept: %s", row.file_id, folder, owner, exc
                    )
                    path = ""
                except (TelegramNetworkError, TelegramServerError, OSError) as exc:
                    log.warning("file keeping paused: %s", exc)
                    return stored  # try again next round
                async with self._sessionmaker.begin() as session:
                    await session.execute(
                        update(model).where(model.id == row.id).values(stored_path=path)
                    )
        return stored
