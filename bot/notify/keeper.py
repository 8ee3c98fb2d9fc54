"""The file keeper: statement documents and exam works are downloaded from Telegram into
FILES_DIR soon after they arrive, so a statement keeps its documents even if Telegram
forgets a file id. Runs beside the outbox sender; a file it could not fetch yet (Telegram
unreachable) is tried again on the next round, one that Telegram refuses is recorded so.
The bytes decide, not the type the sender declared: a file whose content is no photo, scan
or PDF (bot.domain.content) is deleted at once and recorded as refused (stored_path "",
like one Telegram refused), so it is never attached to a letter. Kept files are named from
ids only (the row's and Telegram's), never from the name the sender gave the file.
A chore (bot.notify.chores).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from contextlib import suppress
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramServerError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db.models import ExamWork, StatementFile
from bot.domain.content import EXTENSIONS, HEAD_BYTES, sniff

log = logging.getLogger(__name__)

BATCH = 20
# Telegram's unique ids are URL-safe base64; anything else must not reach a path.
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")


def _head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(HEAD_BYTES)


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
                place = Path(folder) / str(owner)
                stem = f"{row.id}-{_NOT_IN_NAME.sub('_', row.file_unique_id)}"
                # Judged before it gets its name: nothing unchecked lies under a kept name.
                # A name of its own, should two keepers (processes) fetch it at once.
                partial = self._dir / place / f"{stem}.{secrets.token_hex(4)}.part"
                try:
                    partial.parent.mkdir(parents=True, exist_ok=True)
                    await self._bot.download(row.file_id, destination=partial)
                    kind = sniff(await asyncio.to_thread(_head, partial))
                    if kind is None:
                        partial.unlink()
                        log.warning(
                            "file %s of %s %s refused: its content is not an accepted format",
                            row.id,
                            folder,
                            owner,
                        )
                        path = ""
                    else:
                        relative = place / f"{stem}{EXTENSIONS[kind]}"
                        partial.replace(self._dir / relative)
                        path = str(relative)
                        stored += 1
                except TelegramBadRequest as exc:  # Telegram no longer has it (or too big)
                    with suppress(OSError):
                        partial.unlink(missing_ok=True)
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
