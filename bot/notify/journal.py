"""The sent journal: what Telegram accepted, written down the instant it answers.

The outbox marks a notice sent in the database right after Telegram accepts it, but that
commit waits for SQLite's write lock (or PostgreSQL's round trip): a process killed in
between sends the notice again after the restart. Telegram has no idempotency key, so
the window can only be made small. This journal makes it as small as a process can: one
line appended with a single `write()` (no await, no lock) as soon as the answer is
parsed. The kernel keeps the line when the process is killed (`kill -9`, OOM); only a
power cut before the page cache reaches the disk loses it, and then the notice is sent
again, as before.

Each process appends to a file of its own (``sent-<worker>.log``) and holds an exclusive
`flock` on it while alive. On start, a sender replays every file in the folder whose lock
it can take (its owner is dead) and deletes it. Replaying marks a notice sent only if it
is still claimed by the journal's worker, so a line can never touch another database's
row or a notice some other sender has taken over since. A file over `ROTATE_BYTES` is
replayed by its own process and replaced while it runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Notice, NoticeStatus

log = logging.getLogger(__name__)

PARTS_SENT = "parts_sent"  # payload key: parts of a split notice already delivered
ROTATE_BYTES = 1 << 20


@dataclass(frozen=True)
class Entry:
    worker: str
    notice_id: int
    parts_done: int
    parts: int
    # The notice's key, for one that is deleted once sent (a reply said at once,
    # bot.notify.stored_replies): its id may be given to a new notice, which the line
    # must not touch.
    key: str | None = None


def parse(text: str) -> list[Entry]:
    """The journal's lines; a torn last line (killed mid-write) is skipped."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) not in (4, 5):
            continue
        worker, notice_id, done, parts, *key = fields
        try:
            entries.append(Entry(worker, int(notice_id), int(done), int(parts), *key))
        except ValueError:
            continue
    return entries


class SentJournal:
    def __init__(self, folder: Path, worker: str) -> None:
        self._folder = folder
        self._worker = worker
        self._generation = 0
        self._fd: int | None = None
        self._size = 0

    @property
    def path(self) -> Path:
        return self._folder / f"sent-{self._worker}-{self._generation}.log"

    def open(self) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fd, self._size = fd, 0

    def record(
        self, notice_id: int, parts_done: int, *, parts: int, key: str | None = None
    ) -> None:
        """Telegram accepted part `parts_done` of `parts`: one write, nothing awaited."""
        if self._fd is None:
            return
        keyed = f" {key}" if key is not None else ""
        line = f"{self._worker} {notice_id} {parts_done} {parts}{keyed}\n".encode()
        try:
            self._size += os.write(self._fd, line)
        except OSError:  # a full disk must not stop the sending: the database mark follows
            log.exception("sent journal: could not write")

    @property
    def wants_rotation(self) -> bool:
        return self._size > ROTATE_BYTES

    def close(self, *, remove: bool) -> None:
        if self._fd is None:
            return
        path = self.path
        os.close(self._fd)  # releases the lock
        self._fd = None
        if remove:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    async def recover(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
        """Replays the files of dead processes and deletes them; returns notices marked."""
        if not self._folder.is_dir():
            return 0
        marked = 0
        for path in sorted(self._folder.glob("sent-*.log")):
            if self._fd is not None and path == self.path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive and sending
                marked += await replay(path.read_text(errors="replace"), sessionmaker, clock)
                path.unlink()
            finally:
                os.close(fd)
        if marked:
            log.info("sent journal: %d notice(s) Telegram had accepted marked sent", marked)
        return marked

    async def rotate(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        """Starts a new file at once, then replays the old one into the database."""
        old = self.path
        self.close(remove=False)
        self._generation += 1
        self.open()
        try:
            await replay(old.read_text(errors="replace"), sessionmaker, clock)
        finally:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()


async def replay(text: str, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """Marks what the lines say Telegram accepted, if the notice is still its worker's."""
    latest: dict[tuple[str, int, str | None], Entry] = {}
    for entry in parse(text):
        key = (entry.worker, entry.notice_id, entry.key)
        if key not in latest or entry.parts_done > latest[key].parts_done:
            latest[key] = entry
    marked = 0
    async with sessionmaker.begin() as session:
        for entry in latest.values():
            still_claimed = (
                Notice.id == entry.notice_id,
                *Notice.claim_of(entry.worker),
                *([Notice.key == entry.key] if entry.key is not None else []),
            )
            if entry.parts_done >= entry.parts:
                result = await session.execute(
                    update(Notice)
                    .where(*still_claimed)
                    .values(status=NoticeStatus.SENT.value, sent_at=clock.now(), last_error=None)
                )
                marked += result.rowcount  # type: ignore[attr-defined]
                continue
            notice = await session.get(Notice, entry.notice_id)
            if (
                notice is not None
                and entry.key in (None, notice.key)
                and notice.is_claim_of(entry.worker)
                and int(notice.payload.get(PARTS_SENT, 0)) < entry.parts_done
            ):
                notice.payload = {**notice.payload, PARTS_SENT: entry.parts_done}
    return marked
