"""An update's answer, kept in the outbox: in its own transaction, or after Telegram failed it.

Commit, then speak (bot.middlewares.held) sends what an update says after its commit. A
process killed in between would lose it, and a student who submitted a statement would
never learn it is kept. So when an update wrote something (it did more than read), its
messages are stored in the same transaction as what it wrote, one notice of kind `reply`
per chat, claimed by this process's outbox sender (`ReplyStore.keep_in`): either both
are kept, or neither. After the commit the unit of work sends them at once, as before;
each message Telegram accepts goes into the sender's journal at that instant, and the
notice is deleted soon after (`ReplyStore.accepted`: nothing is owed any more; a
second's notices in one transaction). A notice Telegram failed (5xx, network, 429 beyond
the retries) is handed back to the sender with what went out already
(`ReplyStore.hand_back`); while Telegram keeps one waiting (429s waited out) its claim is
renewed (`ReplyStore.holding`), so no sender takes it meanwhile. After a kill the
next start's sender finds it claimed by a dead worker: what the journal says Telegram
accepted is marked sent, the rest is sent. So the normal path sends each message once, a
crash at least once (twice only if killed between Telegram's answer and the journal's
line).

An update that only read (/help, /schedule) stores nothing: no write for SQLite's single
writer. If Telegram fails its answer, the messages are stored then (`ReplyStore.keep`).

The messages are stored as Telegram would have got them (text, parse mode, buttons, the
bot's defaults filled in), an edited text as a new message (it acknowledged something:
a statement submitted). Files, callback answers (they expire in 15 s), deletions and
the roll's latest-state edits are not stored: they go out after the commit only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from aiogram.client.default import Default
from aiogram.methods import SendMessage
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Notice, NoticeStatus
from bot.db.outage import database_busy, database_unavailable, wait_for_database
from bot.domain.reminders import NoticeKind, notice_key
from bot.notify.journal import PARTS_SENT

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

# The notices of replies said are deleted this often, together (see ReplyStore._forget).
SETTLE_EVERY = 1.0
# Telegram itself keeps an update for a day: an answer later than that answers nothing.
REPLY_LIFETIME = timedelta(days=1)
# Quoting the user's message is left out: by the time the outbox sends, it may be gone.
_NOT_KEPT = frozenset({"chat_id", "reply_parameters", "reply_to_message_id"})


def stored_message(bot: Bot, method: SendMessage) -> dict[str, Any]:
    """The message as JSON, the bot's defaults (parse mode) filled in."""
    values = {
        name: bot.default[value.name] if isinstance(value, Default) else value
        for name, value in method
        if name not in _NOT_KEPT
    }
    return SendMessage(chat_id=0, **values).model_dump(
        mode="json", exclude_none=True, exclude=set(_NOT_KEPT)
    )


def reply_parts(payload: dict[str, Any]) -> list[Callable[[Bot, int], Awaitable[object]]]:
    """One request per stored message, in order, for the outbox sender."""

    def part(params: dict[str, Any]) -> Callable[[Bot, int], Awaitable[object]]:
        async def send(bot: Bot, chat: int) -> object:
            # Stored without a parse mode: plain text, whatever this bot's default is.
            values = {"parse_mode": None, **params, "chat_id": chat}
            return await bot(SendMessage.model_validate(values))

        return send

    return [part(dict(params)) for params in payload.get("messages", [])]


class Claims(Protocol):
    """The outbox sender, as the store sees it (bot.notify.sender.OutboxSender)."""

    worker_id: str

    @property
    def lease(self) -> timedelta:
        """How long its claim holds unrenewed."""

    def wake(self) -> None: ...

    def record_sent(self, notice_id: int, parts_done: int, *, parts: int, key: str) -> None:
        """Telegram accepted part `parts_done`: into the sent journal, nothing awaited."""

    def sent_unmarked(self, notice_ids: Iterable[int]) -> None:
        """Accepted by Telegram, not marked sent: the next claim marks them."""


@dataclass
class KeptReply:
    """One chat's messages of an update, kept in the outbox notice `notice_id`."""

    notice_id: int
    key: str
    chat_id: int
    parts: int
    done: int = 0
    handed_back: bool = False


def _notice(chat: int, messages: list[dict[str, Any]], now: datetime, **claim: Any) -> Notice:
    return Notice(
        key=notice_key(NoticeKind.REPLY, chat, uuid.uuid4().hex),
        kind=NoticeKind.REPLY.value,
        chat_id=chat,
        user_id=chat if chat > 0 else None,  # a private chat is its user
        payload={"messages": messages},
        due_at=now,
        expires_at=now + REPLY_LIFETIME,
        **claim,
    )


class ReplyStore:
    """Keeps an update's messages in the outbox (see the module's docstring)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, claims: Claims
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._claims = claims
        self._delivered: set[int] = set()
        # Kept notices whose messages are on their way now (how many), and their renewer.
        self._speaking: dict[int, int] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._forgetting: asyncio.Task[None] | None = None
        self._settle_now = asyncio.Event()
        self.kept = 0  # notices kept with their update so far

    async def keep_in(
        self, session: AsyncSession, messages: list[tuple[Bot, SendMessage]]
    ) -> dict[int, KeptReply]:
        """Adds the messages to the update's transaction, one notice per chat (in order),
        claimed by this process's sender so that it leaves them to the unit of work."""
        by_chat: dict[int, list[dict[str, Any]]] = {}
        for bot, message in messages:
            by_chat.setdefault(int(message.chat_id), []).append(stored_message(bot, message))
        now = self._clock.now()
        notices = [
            _notice(
                chat,
                stored,
                now,
                status=NoticeStatus.CLAIMED.value,
                claimed_by=self._claims.worker_id,
                claimed_at=now,
            )
            for chat, stored in by_chat.items()
        ]
        session.add_all(notices)
        self.kept += len(notices)
        await session.flush()  # their ids, for the journal after the commit
        return {
            n.chat_id: KeptReply(n.id, n.key, n.chat_id, len(n.payload["messages"]))
            for n in notices
        }

    @contextlib.contextmanager
    def holding(self, kept: KeptReply) -> Iterator[None]:
        """While one of `kept`'s messages is on its way: its claim is renewed every quarter
        of the sender's lease, so that no sender (this process's, or a replica's) takes
        the notice as one whose lease ran out and says it again, while Telegram keeps us
        waiting (429s waited out, a pause of the whole bot: minutes). One renewer for all
        the notices being said, running only while there are any (no task a message)."""
        self._speaking[kept.notice_id] = self._speaking.get(kept.notice_id, 0) + 1
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name="reply-claims")
        try:
            yield
        finally:
            left = self._speaking.pop(kept.notice_id) - 1
            if left:
                self._speaking[kept.notice_id] = left

    async def _renew(self) -> None:
        every = self._claims.lease.total_seconds() / 4
        while self._speaking:
            await asyncio.sleep(every)
            ids = list(self._speaking)
            if not ids:
                return
            try:
                async with self._sessionmaker.begin() as session:
                    await session.execute(
                        update(Notice)
                        .where(Notice.id.in_(ids), *Notice.claim_of(self._claims.worker_id))
                        .values(claimed_at=self._clock.now())
                    )
            except Exception as exc:  # the database away: tried again a quarter later
                log.warning("%d reply notice(s): claims not renewed (%r)", len(ids), exc)

    def accepted(self, kept: KeptReply) -> None:
        """Telegram accepted (or refused for good) the next of `kept`'s messages."""
        kept.done += 1
        self._claims.record_sent(kept.notice_id, kept.done, parts=kept.parts, key=kept.key)
        if kept.done == kept.parts:
            self._delivered.add(kept.notice_id)
            if self._forgetting is None or self._forgetting.done():
                self._forgetting = asyncio.create_task(self._forget(), name="replies-delivered")

    async def _forget(self) -> None:
        """Deletes the notices of what went out: the outbox keeps what is owed, and an
        answer said at once owes nothing (nor does it outlive an account deleted by the
        same update). Those of `SETTLE_EVERY` seconds go in one transaction, so a stream
        of updates costs SQLite's one writer a write a second, not one each. The journal
        has every line already: a kill meanwhile sends nothing twice."""
        while self._delivered:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_EVERY):
                    await self._settle_now.wait()
            ids, self._delivered = self._delivered, set()
            try:
                async with self._sessionmaker.begin() as session:
                    await session.execute(
                        delete(Notice).where(
                            Notice.id.in_(ids), *Notice.claim_of(self._claims.worker_id)
                        )
                    )
            except Exception as exc:
                log.warning("%d reply notice(s) sent, not settled yet: %r", len(ids), exc)
                self._claims.sent_unmarked(ids)  # the sender marks them sent

    async def settled(self) -> None:
        """Settles every reply sent so far, now (shutdown, tests); an idle renewer (it
        ends by itself within a quarter lease) is stopped."""
        renewer = self._renewer
        if renewer is not None and not self._speaking:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            self._renewer = None
        self._settle_now.set()
        try:
            while self._forgetting is not None and not self._forgetting.done():
                await asyncio.wait([self._forgetting])
        finally:
            self._settle_now.clear()

    async def hand_back(self, kept: KeptReply, error: Exception) -> None:
        """Telegram failed one of `kept`'s messages: the sender delivers it and the rest."""
        kept.handed_back = True
        log.warning(
            "a reply to chat %s failed after the commit (%s): %d message(s) go through the outbox",
            kept.chat_id,
            error.__class__.__name__,
            kept.parts - kept.done,
        )
        try:
            await self._retrying(self._give_back, kept)
        except Exception:
            # Still claimed by this worker: the sender takes it when the lease runs out.
            log.exception("reply notice %s could not be handed back now", kept.notice_id)
        self._claims.wake()

    async def _give_back(self, session: AsyncSession, kept: KeptReply) -> None:
        notice = await session.get(Notice, kept.notice_id)
        if notice is None or not notice.is_claim_of(self._claims.worker_id):
            return
        notice.payload = {**notice.payload, PARTS_SENT: kept.done}
        notice.status = NoticeStatus.PENDING.value
        notice.claimed_by = notice.claimed_at = None

    async def keep(self, bot: Bot, messages: list[SendMessage]) -> None:
        """Stores messages Telegram failed (of an update that stored none), for the sender."""
        chat = int(messages[0].chat_id)
        stored = [stored_message(bot, m) for m in messages]

        async def add(session: AsyncSession, _: None) -> None:
            session.add(_notice(chat, stored, self._clock.now()))

        await self._retrying(add, None)
        self._claims.wake()

    async def _retrying(
        self, work: Callable[[AsyncSession, Any], Awaitable[None]], arg: Any
    ) -> None:
        retries = 0
        while True:
            try:
                async with self._sessionmaker.begin() as session:
                    await work(session, arg)
                return
            except Exception as exc:
                if not (database_unavailable(exc) or database_busy(exc)) or retries >= 5:
                    raise
                retries += 1
                await wait_for_database(self._sessionmaker.kw["bind"])
