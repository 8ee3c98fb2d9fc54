"""The outbox sender: delivers due notices exactly once, within Telegram's limits.

- Claims due notices in small batches (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
  processes can send together; SQLite has one sender). A claim is a lease: if the process
  dies before sending, the notice is claimed again after `lease` (at once on SQLite,
  where the only sender is the one starting up).
- Reads and renders a claimed batch in one session (recipients and exams read at once),
  then holds nothing open while Telegram answers.
- Writes each notice Telegram accepted, at the instant of the answer, in the sent journal
  (`bot.notify.journal`), and marks it sent in the database moments later, with the
  others answered meanwhile, in one transaction (`_mark_all`): a process killed between
  the two does not send the notice again after its restart.
- Claims by urgency, not by due time: a timed notice (a join call, a new time, minutes
  left …) must arrive by its due time and goes before anything that can wait; the rest
  go by their expiry, or within ten minutes (`_urgency`). When more join calls fall due
  together than the rate can send by then, they are claimed early, up to ten minutes
  before they are due and never before the conference link is posted (`_plan_ahead`).
- Replies kept with their update (bot.notify.stored_replies) are claimed by this
  sender's worker id in that update's transaction and sent by the unit of work; the
  sender takes them only when handed back, or after a kill (never its own claims at
  start), and their lines in its journal say what Telegram accepted.
- Drops notices that expired (a join call after the start) instead of sending them late.
- Paces through the bot's one `RateLimiter` (bot.notify.pacing; replies share it): the
  overall rate (SEND_RATE/s), 1 message/s per chat, 20 a minute to a group; a 429 holds
  its chat for `retry_after` and makes the limiter send less; a 403 marks the user
  inactive; server or network failures pause and retry without counting against the
  notice; other errors retry with back-off up to SEND_MAX_ATTEMPTS and are then recorded
  as failed.
- Sleeps until the next due notice, or until join calls must start early (or until woken
  by new plans), never polls blindly.
- E-mail notices (a statement's copy to the dean's office) go to the mailer instead, each
  in a task of its own: SMTP holds neither the Telegram slots nor the rate limiter, and
  the next batch does not wait for it. Their failures go through the same back-off; a
  refusal for good (5xx) is recorded as failed at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    WebAppInfo,
)
from aiogram.utils.i18n import I18n
from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import DeaneryChat, Exam, Notice, NoticeStatus, User, UTCDateTime
from bot.db.outage import database_busy, database_unavailable
from bot.domain.reminders import (
    EARLY_KINDS,
    FAIR_WAIT,
    SEND_AHEAD,
    TIMED_KINDS,
    NoticeKind,
    backoff,
    send_ahead,
    split_text,
)
from bot.notify.journal import PARTS_SENT, SentJournal
from bot.notify.mail import Mailer, MailRefused
from bot.notify.pacing import RateLimiter as RateLimiter  # tests and benches import it here
from bot.notify.render import render_letter, render_notice
from bot.notify.stored_replies import reply_parts
from bot.services.notice_facts import preload
from bot.views.rendered import Rendered

log = logging.getLogger(__name__)

_LOST = object()  # the notice is no longer ours to send
MAIL_KINDS = frozenset({NoticeKind.STATEMENT_EMAIL.value})
# At shutdown, letters being handed over get this long before they are cut off (a letter
# cut off stays claimed and goes after the restart).
MAIL_SHUTDOWN_WAIT = 10.0


Send = Callable[[Bot, int], Awaitable[object]]
Part = tuple[Send, int]  # one request, and how many messages Telegram counts for it


def _markup(rendered: Rendered) -> InlineKeyboardMarkup | None:
    if not rendered.has_buttons:
        return None
    rows = [[InlineKeyboardButton(text=label, url=url)] for label, url in rendered.links]
    rows += [
        [InlineKeyboardButton(text=label, callback_data=data)] for label, data in rendered.buttons
    ]
    rows += [
        [InlineKeyboardButton(text=label, web_app=WebAppInfo(url=url))]
        for label, url in rendered.web_apps
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _parts(rendered: Rendered) -> list[Part]:
    """One Telegram request each: the text (split at 4096, buttons on the last piece),
    then the photos as albums of up to ten, then the documents likewise."""
    texts = split_text(rendered.text)
    parts: list[Part] = []
    for index, text in enumerate(texts):
        parts.append((_text(text, _markup(rendered) if index == len(texts) - 1 else None), 1))
    for kind in ("photo", "document"):
        ids = [file_id for file_kind, file_id in rendered.files if file_kind == kind]
        for start in range(0, len(ids), 10):
            batch = ids[start : start + 10]
            parts.append((_album(kind, batch), len(batch)))
    return parts


def _text(text: str, markup: InlineKeyboardMarkup | None) -> Send:
    async def send(bot: Bot, chat: int) -> object:
        # No link preview: the Bot's default (bot.app), as for every message.
        return await bot.send_message(chat, text, reply_markup=markup)

    return send


def _album(kind: str, file_ids: list[str]) -> Send:
    async def send(bot: Bot, chat: int) -> object:
        if len(file_ids) == 1:
            if kind == "photo":
                return await bot.send_photo(chat, file_ids[0])
            return await bot.send_document(chat, file_ids[0])
        media: list[InputMediaPhoto | InputMediaDocument] = [
            InputMediaPhoto(media=f) if kind == "photo" else InputMediaDocument(media=f)
            for f in file_ids
        ]
        return await bot.send_media_group(chat, media)  # type: ignore[arg-type]

    return send


# The look-ahead is planned at this share of SEND_RATE (the rate actually reached, with
# 429s and round trips, is a little below it), and again every PLAN_EVERY seconds.
PLAN_SHARE = 0.85
# Notices Telegram accepted are marked sent together: those answered within MARK_GATHER
# seconds, or while the previous mark commits (a few commits a second, not one a
# message: SQLite's one writer is the updates' too). Safe to wait: the journal has each
# from its answer on (a kill sends none twice), and the planner counts a notice still
# claimed as told (TOLD), so a change of the exam meanwhile is still said.
MARK_GATHER = 0.2
PLAN_EVERY = 5.0
RATE_WINDOW = 10.0


def _urgency(now: datetime) -> ColumnElement[datetime]:
    """The order notices go in: by the moment each must arrive by. A timed notice (a join
    call …) by its due time; any other by its expiry, but at most FAIR_WAIT from now, so
    that what can wait never holds back what cannot, and waits its turn after that."""
    soon = literal(now + FAIR_WAIT, UTCDateTime())
    return case(
        (Notice.kind.in_(TIMED_KINDS), Notice.due_at),
        (Notice.expires_at < soon, Notice.expires_at),
        else_=soon,
    )


def _as_utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class DrainStats:
    sent: int = 0
    dropped: int = 0
    failed: int = 0
    throttled: int = 0
    retried: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class OutboxSender:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        settings: Settings,
        i18n: I18n,
        worker_id: str | None = None,
        batch: int = 50,
        concurrency: int = 16,
        lease: timedelta = timedelta(minutes=2),
        idle_poll: float = 30.0,
        exclusive: bool | None = None,
        mailer: Mailer | None = None,
        mail_concurrency: int = 2,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._bot = bot
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._settings = settings
        self._i18n = i18n
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self._batch = batch
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._lease = lease
        self._idle_poll = idle_poll
        # SQLite: this is the only sender, so claims left by a dead process are free now.
        self._exclusive = (
            exclusive if exclusive is not None else sessionmaker.kw["bind"].dialect.name == "sqlite"
        )
        # The bot's one limiter (bot.app: replies share it); its own, for a sender alone.
        self._limiter = limiter or RateLimiter(settings.send_rate, settings.chat_interval)
        # Join calls sent ahead of their time (see _plan_ahead), recomputed now and then.
        self._early_until: datetime | None = None
        self._ahead_wake = float("inf")  # monotonic time the plan changes next
        self._planned_at = -1e9
        self._achieved: float | None = None  # messages/s last seen while a backlog drained
        self._wake = asyncio.Event()
        self._stopping = False
        self._outage = 0.0
        self.stats = DrainStats()
        self._mailer = mailer
        self._mail_slots = asyncio.Semaphore(mail_concurrency)
        self._mail_tasks: set[asyncio.Task[None]] = set()
        # Letters being handed over now: never claimed again by this sender meanwhile, even
        # when the handing over outlasts the lease (drain() does not wait for them).
        self._mail_busy: set[int] = set()
        self._journal = (
            SentJournal(settings.journal_dir, self.worker_id) if settings.journal_dir else None
        )
        # Notices Telegram accepted that could not be marked sent (the database away, or
        # SQLite locked past its busy timeout), and claims that could not be given back (the
        # database away). Both are settled by the next claim, once the database answers;
        # not when the lease runs out, which would send the first kind again and hold the
        # second for two minutes.
        self._sent_unmarked: set[int] = set()
        self._stranded: set[int] = set()
        # Accepted by Telegram, to be marked sent by the marker task (_mark_all).
        self._marking: list[int] = []
        self._being_marked: set[int] = set()
        self._marker: asyncio.Task[None] | None = None

    @property
    def lease(self) -> timedelta:
        """How long a claim holds unrenewed before another sender may take the notice."""
        return self._lease

    def wake(self) -> None:
        self._planned_at = -1e9  # new notices: plan ahead again
        self._wake.set()

    def record_sent(self, notice_id: int, parts_done: int, *, parts: int, key: str) -> None:
        """A reply the unit of work sent itself (bot.notify.stored_replies), in the journal
        as the sender's own: a kill before it is settled does not send it again. With its
        key: it is deleted once settled, and its id may come back for another notice."""
        if self._journal is not None:
            self._journal.record(notice_id, parts_done, parts=parts, key=key)

    def sent_unmarked(self, notice_ids: Iterable[int]) -> None:
        """Replies Telegram accepted that could not be marked sent: the next claim does."""
        self._sent_unmarked.update(notice_ids)

    async def run(self) -> None:
        """Sends until stop(); sleeps until the next due notice in between."""
        await self._open_journal()
        if self._exclusive:
            await self._release_all_claims()
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain()
                if self._journal is not None and self._journal.wants_rotation:
                    await self._journal.rotate(self._sessionmaker, self._clock)
                delay = await self._seconds_to_next_due()
            except Exception as exc:  # the database may be restarting: try again shortly
                if database_unavailable(exc) or database_busy(exc):
                    log.warning("outbox: the database is unavailable (%r); retrying in 5 s", exc)
                else:
                    log.exception("outbox sender failed; retrying in 5 s")
                delay = 5.0
            if self._stopping:
                break
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
        try:
            async with asyncio.timeout(MAIL_SHUTDOWN_WAIT):
                await self.mail_idle()
        except TimeoutError:
            log.warning("e-mail still being sent at shutdown: it goes after the restart")
        if self._journal is not None:
            # Every send of this run has finished and is marked in the database (unless
            # the database was away: then the journal tells the next start).
            self._journal.close(remove=not self._sent_unmarked)

    async def _open_journal(self) -> None:
        """Replays the journals of dead processes (before their claims are released), then
        opens this process's own. Without a journal the sender still works, as before."""
        if self._journal is None:
            return
        while not self._stopping:
            try:
                await self._journal.recover(self._sessionmaker, self._clock)
                break
            except OSError:
                log.exception("sent journal unreadable; going on without replaying it")
                break
            except Exception:  # the database may be starting: the claims must wait for it
                log.exception("sent journal could not be replayed; retrying in 5 s")
                await asyncio.sleep(5.0)
        try:
            self._journal.open()
        except OSError:
            log.exception("sent journal cannot be written; a kill may repeat a notice")
            self._journal = None

    async def mail_idle(self) -> None:
        """Waits until no letter is being handed over (tests, shutdown)."""
        while self._mail_tasks:
            await asyncio.gather(*self._mail_tasks, return_exceptions=True)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        await self._bot.session.close()
        if self._mailer is not None:
            await self._mailer.close()

    async def drain(self) -> DrainStats:
        """Sends everything due now; returns what this call did."""
        before = DrainStats(**vars(self.stats) | {"errors": dict(self.stats.errors)})
        delivering: set[asyncio.Task[None]] = set()
        measuring: tuple[float, int] | None = None  # since when a backlog drains, sent then
        try:
            while not self._stopping:
                claimed = await self._claim()
                if not claimed and not delivering:
                    break
                measuring = self._measure(measuring, backlog=len(claimed) == self._batch)
                for notice, parts in await self._prepare(claimed):
                    delivering.add(asyncio.create_task(self._deliver(notice, parts)))
                # The next batch is claimed while this one's last notices are on their way:
                # waiting for all of them would leave the rate unused at every batch's end.
                while delivering and (
                    len(delivering) > self._concurrency or len(claimed) < self._batch
                ):
                    _, delivering = await asyncio.wait(
                        delivering, return_when=asyncio.FIRST_COMPLETED
                    )
        except asyncio.CancelledError:  # shutdown, a test's kill: so are its deliveries
            for task in delivering:
                task.cancel()
            if self._marker is not None:  # what it was marking, the journal says
                self._marker.cancel()
            raise
        finally:
            if delivering:
                await asyncio.gather(*delivering, return_exceptions=True)
        await self._marks_done()
        return DrainStats(
            sent=self.stats.sent - before.sent,
            dropped=self.stats.dropped - before.dropped,
            failed=self.stats.failed - before.failed,
            throttled=self.stats.throttled - before.throttled,
            retried=self.stats.retried - before.retried,
        )

    def _measure(
        self, since: tuple[float, int] | None, *, backlog: bool
    ) -> tuple[float, int] | None:
        """The rate reached while a backlog drains (every RATE_WINDOW seconds): the
        look-ahead is planned with it, not only with SEND_RATE (a slow database or a busy
        machine sends less than the limiter would allow)."""
        if not backlog:
            return None
        now = time.monotonic()
        if since is None:
            return now, self.stats.sent
        started, sent = since
        if now - started < RATE_WINDOW:
            return since
        self._achieved = (self.stats.sent - sent) / (now - started)
        return now, self.stats.sent

    async def _seconds_to_next_due(self) -> float:
        async with self._sessionmaker() as session:
            due = await session.scalar(
                select(func.min(Notice.due_at)).where(Notice.status == NoticeStatus.PENDING)
            )
        # Or until join calls due later must start early.
        ahead = max(self._ahead_wake - time.monotonic(), 0.0)
        if due is None:
            return min(self._idle_poll, ahead)
        return min(max((due - self._clock.now()).total_seconds(), 0.0), self._idle_poll, ahead)

    async def _plan_ahead(self, session: AsyncSession, now: datetime) -> None:
        """Which join calls must go before they are due, so that all arrive by then:
        sets `_early_until` (see bot.domain.reminders.send_ahead). Planned at a rate below
        SEND_RATE (and below the rate last reached, when that was less), so that they are
        early rather than late; again every PLAN_EVERY seconds, or when new notices are
        planned."""
        if time.monotonic() - self._planned_at < PLAN_EVERY and time.monotonic() < self._ahead_wake:
            return
        self._planned_at = time.monotonic()
        horizon = now + SEND_AHEAD
        rate = self._settings.send_rate * PLAN_SHARE
        if self._achieved is not None:
            rate = max(min(rate, self._achieved * PLAN_SHARE), 1.0)
        deadline = case((Notice.kind.in_(TIMED_KINDS), Notice.due_at), else_=Notice.expires_at)
        timed = Notice.kind.in_(TIMED_KINDS)
        deadlines = await session.scalars(
            select(deadline)
            .where(
                Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.CLAIMED]),
                or_(
                    and_(timed, Notice.due_at <= horizon),
                    and_(~timed, Notice.expires_at <= horizon),
                ),
            )
            .order_by(deadline)
            .limit(int(rate * SEND_AHEAD.total_seconds()) + 1)
        )
        # The column's type is lost in CASE: SQLite gives back text.
        found = [_as_utc(value) for value in deadlines]
        self._early_until, wait = send_ahead(found, now, rate)
        # At least a moment away: woken for it, the sender plans again (no busy loop).
        self._ahead_wake = time.monotonic() + min(max(wait, 0.5), PLAN_EVERY * 12)

    async def _release_all_claims(self) -> None:
        # Not this sender's own: replies kept by updates handled meanwhile are being sent.
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(Notice)
                .where(
                    Notice.status == NoticeStatus.CLAIMED,
                    or_(Notice.claimed_by.is_(None), Notice.claimed_by != self.worker_id),
                )
                .values(status=NoticeStatus.PENDING.value, claimed_by=None, claimed_at=None)
            )

    async def _claim(self) -> list[int]:
        now = self._clock.now()
        async with self._sessionmaker.begin() as session:
            sent, stranded = set(self._sent_unmarked), set(self._stranded)
            if sent or stranded:
                await self._settle(session, sent, stranded=stranded, now=now)
            due = or_(
                Notice.status == NoticeStatus.PENDING,
                (Notice.status == NoticeStatus.CLAIMED) & (Notice.claimed_at < now - self._lease),
            )
            # Never its own notices being handed to the mailer, or accepted by Telegram and
            # not marked yet (a lease run out meanwhile: a test's clock, a long commit).
            busy = self._mail_busy | set(self._marking) | self._being_marked
            if busy:
                due = due & Notice.id.not_in(busy)
            await self._plan_ahead(session, now)
            ready: ColumnElement[bool] = Notice.due_at <= now
            if self._early_until is not None:
                linked = select(Exam.id).where(Exam.link.is_not(None), Exam.link != "")
                ready = or_(
                    ready,
                    and_(
                        Notice.kind.in_(EARLY_KINDS),
                        Notice.due_at <= min(self._early_until, now + SEND_AHEAD),
                        Notice.exam_id.in_(linked),
                    ),
                )
            ids = list(
                await session.scalars(
                    select(Notice.id)
                    .where(due, ready)
                    .order_by(_urgency(now), Notice.due_at, Notice.id)
                    .limit(self._batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                await session.execute(
                    update(Notice)
                    .where(Notice.id.in_(ids))
                    .values(
                        status=NoticeStatus.CLAIMED.value,
                        claimed_by=self.worker_id,
                        claimed_at=now,
                    )
                )
        self._sent_unmarked -= sent
        self._stranded -= stranded
        return ids

    async def _settle(
        self, session: AsyncSession, sent: set[int], *, stranded: set[int], now: datetime
    ) -> None:
        """The database is back: what Telegram accepted meanwhile is marked sent, and the
        claims left behind are given back (still ours: the deliveries that left them have
        ended)."""
        ours = Notice.claim_of(self.worker_id)
        if sent:
            marked = await session.execute(
                update(Notice)
                .where(Notice.id.in_(sent), *ours)
                .values(status=NoticeStatus.SENT.value, sent_at=now, last_error=None)
            )
            self.stats.sent += marked.rowcount  # type: ignore[attr-defined]
        if stranded:
            await session.execute(
                update(Notice)
                .where(Notice.id.in_(stranded), *ours)
                .values(status=NoticeStatus.PENDING.value, claimed_by=None, claimed_at=None)
            )
        log.info(
            "outbox: the database answers again; %d notice(s) sent meanwhile marked, "
            "%d claim(s) given back",
            len(sent),
            len(stranded),
        )

    async def _prepare(self, ids: list[int]) -> list[tuple[Notice, list[Part]]]:
        """The claimed notices, read and rendered in one session (their recipients and
        exams read at once, `preload`), in the order claimed; what is no longer to be sent
        is settled here, letters go to the mailer. Nothing is held open afterwards: the
        notices go out detached, their claims checked again when a slot is granted."""
        prepared: list[tuple[Notice, list[Part]]] = []
        try:
            async with self._sessionmaker() as session:
                found = {
                    n.id: n for n in await session.scalars(select(Notice).where(Notice.id.in_(ids)))
                }
                held = await preload(session, found.values())  # kept alive while rendered
                now = self._clock.now()
                for notice_id in ids:
                    notice = found.get(notice_id)
                    if notice is None or notice.claimed_by != self.worker_id:
                        continue
                    try:
                        parts = await self._parts_of(session, notice, now)
                    except Exception as exc:
                        if database_unavailable(exc) or database_busy(exc):
                            raise
                        # A bug in one notice must not hold back the batch, nor strand it.
                        log.exception("notice %s could not be rendered", notice_id)
                        await self._failed(session, notice, exc)
                        continue
                    if parts is not None:
                        prepared.append((notice, parts))
                del held
                await session.commit()  # nothing held open while waiting for Telegram
        except Exception as exc:
            if not (database_unavailable(exc) or database_busy(exc)):
                raise
            # Not the notices' fault, and their claims cannot be given back now: the
            # next claim does, once the database answers.
            self._stranded.update(ids)
            return []
        return prepared

    async def _parts_of(
        self, session: AsyncSession, notice: Notice, now: datetime
    ) -> list[Part] | None:
        """What goes to Telegram for `notice`; None when it is settled otherwise (dropped,
        or a letter handed to the mailer)."""
        if notice.expires_at is not None and now >= notice.expires_at:
            await self._finish(session, notice, status=NoticeStatus.DROPPED, reason="expired")
            return None
        if notice.kind in MAIL_KINDS:
            self._mail_busy.add(notice.id)
            task = asyncio.create_task(self._deliver_mail(notice.id), name="outbox-mail")
            self._mail_tasks.add(task)
            task.add_done_callback(self._mail_tasks.discard)
            return None
        if notice.user_id is not None:
            user = await session.get(User, notice.user_id)
            if user is not None and not user.is_active:
                await self._finish(
                    session, notice, status=NoticeStatus.DROPPED, reason="user inactive"
                )
                return None
        if notice.kind == NoticeKind.REPLY:
            # Stored as it was to be sent; one message each.
            return [(send, 1) for send in reply_parts(notice.payload)]
        rendered = await render_notice(
            session, notice, settings=self._settings, i18n=self._i18n, now=now
        )
        if rendered is None:
            await self._finish(
                session, notice, status=NoticeStatus.DROPPED, reason="no longer true"
            )
            return None
        return _parts(rendered)

    async def _deliver(self, notice: Notice, parts: list[Part]) -> None:
        async with self._slots:
            try:
                await self._deliver_one(notice, parts)
            except Exception as exc:
                if database_unavailable(exc) or database_busy(exc):
                    # Not the notice's fault, and its claim cannot be given back now: the
                    # next claim does, once the database answers.
                    self._stranded.add(notice.id)
                    return
                # A bug or a database hiccup must not strand the claim: retry it later.
                log.exception("notice %s could not be delivered", notice.id)
                await self._failed_now(notice, exc)

    async def _deliver_one(self, notice: Notice, parts: list[Part]) -> None:
        done = int(notice.payload.get(PARTS_SENT, 0))
        for index in range(done, len(parts)):
            outcome = await self._send(notice, parts[index])
            if outcome is _LOST:
                return  # another sender holds it now, or it expired: not ours to finish
            if isinstance(outcome, BaseException):
                await self._failed_now(notice, outcome)
                return
            if self._journal is not None:  # nothing awaited since Telegram's answer
                self._journal.record(notice.id, index + 1, parts=len(parts))
            if index + 1 < len(parts):
                # Remember what went out, so a retry does not repeat it.
                notice.payload = {**notice.payload, PARTS_SENT: index + 1}
                async with self._sessionmaker.begin() as session:
                    await session.execute(
                        update(Notice).where(Notice.id == notice.id).values(payload=notice.payload)
                    )
        self._marking.append(notice.id)
        if self._marker is None:
            self._marker = asyncio.create_task(self._mark_all(), name="outbox-marks")

    async def _mark_all(self) -> None:
        """Marks what Telegram accepted sent, many notices a transaction: each round takes
        every notice answered while the previous round committed (the journal has each
        from the instant of its answer, so a kill meanwhile does not send it again)."""
        try:
            while self._marking:
                await asyncio.sleep(MARK_GATHER)  # answers parsed in this turn join in
                ids, self._marking = self._marking, []
                self._being_marked = set(ids)
                try:
                    await self._mark_sent(ids)
                except Exception as exc:
                    # Telegram has them: never sent again; the next claim marks them.
                    log.warning("%d notice(s) sent, not marked yet: %r", len(ids), exc)
                    self._sent_unmarked.update(ids)
                finally:
                    self._being_marked = set()
        finally:
            self._marker = None

    async def _marks_done(self) -> None:
        """Waits until every notice Telegram accepted so far is marked (or left to the
        next claim, the database being away)."""
        while self._marker is not None:
            await asyncio.shield(self._marker)

    async def _failed_now(self, notice: Notice, error: BaseException) -> None:
        """`_failed` for a notice being delivered (detached): if it is still ours."""
        async with self._sessionmaker() as session:
            current = await session.get(Notice, notice.id)
            if current is not None and current.is_claim_of(self.worker_id):
                await self._failed(session, current, error)

    @asynccontextmanager
    async def _claim_kept(self, notice: Notice) -> AsyncIterator[None]:
        """Renews the claim while a letter is handed over: a big one on a slow link may
        take longer than the lease, and another sender must not take it meanwhile."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._lease.total_seconds() / 4)
                await self._still_ours(notice)

        renewing = asyncio.create_task(renew(), name="outbox-mail-claim")
        try:
            yield
        finally:
            renewing.cancel()
            await asyncio.wait([renewing])

    async def _mark_sent(self, ids: list[int]) -> None:
        """Marks the notices sent (if still ours: a lease lost meanwhile leaves them be)."""
        async with self._sessionmaker.begin() as session:
            marked = await session.execute(
                update(Notice)
                .where(Notice.id.in_(ids), *Notice.claim_of(self.worker_id))
                .values(status=NoticeStatus.SENT.value, sent_at=self._clock.now(), last_error=None)
            )
        self.stats.sent += marked.rowcount  # type: ignore[attr-defined]

    async def _deliver_mail(self, notice_id: int) -> None:
        async with self._mail_slots:
            try:
                await self._mail_one(notice_id)
            except Exception as exc:
                # As in _deliver: a bug or a database hiccup must not strand the claim.
                log.exception("letter of notice %s could not be sent", notice_id)
                async with self._sessionmaker() as session:
                    notice = await session.get(Notice, notice_id)
                    if notice is not None and notice.is_claim_of(self.worker_id):
                        await self._failed(session, notice, exc)
            finally:
                self._mail_busy.discard(notice_id)
        self.wake()  # a retry may now be due before the sender's current sleep ends

    async def _mail_one(self, notice_id: int) -> None:
        async with self._sessionmaker() as session:
            notice = await session.get(Notice, notice_id)
            if notice is None or notice.claimed_by != self.worker_id:
                return
            if self._mailer is None:  # queued while SMTP_URL was set, and it is gone now
                await self._finish(
                    session,
                    notice,
                    status=NoticeStatus.FAILED,
                    reason="e-mail is off: SMTP_URL is not set",
                )
                return
            letter = await render_letter(session, notice, settings=self._settings, i18n=self._i18n)
            if letter is None:
                await self._finish(
                    session, notice, status=NoticeStatus.DROPPED, reason="no longer true"
                )
                return
            await session.commit()  # nothing held open while the server answers
            if not await self._still_ours(notice):
                return
            try:
                async with self._claim_kept(notice):
                    await self._mailer.send(letter)
            except MailRefused as exc:
                self._count_error(exc)
                await self._finish(
                    session, notice, status=NoticeStatus.FAILED, reason=f"refused: {exc}"
                )
                return
            except Exception as exc:  # unreachable, timed out, 4xx: retried with back-off
                log.warning("e-mail of notice %s not sent: %r", notice.id, exc)
                await self._failed(session, notice, exc)
                return
            await self._mark_sent([notice.id])

    async def _send(self, notice: Notice, part: Part) -> BaseException | object | None:
        """None when sent; the error, or _LOST; 429s and outages are waited out here."""
        send, weight = part
        while True:
            try:
                async with self._limiter.slot(notice.chat_id, weight):
                    if not await self._still_ours(notice):
                        return _LOST
                    await send(self._bot, notice.chat_id)
            except TelegramRetryAfter:
                # The limiter heard of it (its chat waits retry_after, all send less).
                self.stats.throttled += 1
                continue
            except TelegramMigrateToChat as exc:
                # A group became a supergroup: follow it, and remember the new id.
                await self._migrate(notice.id, notice.chat_id, exc.migrate_to_chat_id)
                notice.chat_id = exc.migrate_to_chat_id
                continue
            except (TelegramServerError, TelegramNetworkError, TelegramUnauthorizedError) as exc:
                # The Bot API is down or unreachable (or the token is being replaced): wait
                # and go on; the notice is not at fault.
                self._outage = min(max(self._outage * 2, 1.0), 30.0)
                log.warning("Bot API unavailable (%s); pausing %.0f s", exc, self._outage)
                self._limiter.pause(self._outage)
                self.stats.retried += 1
                continue
            except TelegramAPIError as exc:
                return exc
            self._outage = 0.0
            return None

    async def _still_ours(self, notice: Notice) -> bool:
        """Still useful, and still ours? A claim held for a while is renewed in the database,
        so a long wait (an outage, a 429) keeps the lease and no other sender takes it.

        An expired notice is dropped here: an outage must not deliver a join call late.
        """
        now = self._clock.now()
        expired = notice.expires_at is not None and now >= notice.expires_at
        claimed_at = notice.claimed_at or now
        if not expired and now - claimed_at < self._lease / 4:
            return True  # freshly claimed: nobody else may take it yet, no write needed
        async with self._sessionmaker.begin() as session:
            if expired:
                dropped = await session.execute(
                    update(Notice)
                    .where(Notice.id == notice.id, *Notice.claim_of(self.worker_id))
                    .values(status=NoticeStatus.DROPPED.value, last_error="expired")
                )
                if dropped.rowcount:  # type: ignore[attr-defined]
                    self.stats.dropped += 1
                return False
            renewed = await session.execute(
                update(Notice)
                .where(Notice.id == notice.id, *Notice.claim_of(self.worker_id))
                .values(claimed_at=now, chat_id=notice.chat_id)
            )
            notice.claimed_at = now
            return bool(renewed.rowcount)  # type: ignore[attr-defined]

    async def _migrate(self, notice_id: int, old: int, new: int) -> None:
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(DeaneryChat).where(DeaneryChat.chat_id == old).values(chat_id=new)
            )
            await session.execute(update(Notice).where(Notice.id == notice_id).values(chat_id=new))
            await session.execute(
                update(Notice)
                .where(Notice.chat_id == old, Notice.status == NoticeStatus.PENDING)
                .values(chat_id=new)
            )

    def _count_error(self, error: BaseException) -> None:
        name = error.__class__.__name__
        self.stats.errors[name] = self.stats.errors.get(name, 0) + 1

    async def _failed(self, session: AsyncSession, notice: Notice, error: BaseException) -> None:
        self._count_error(error)
        if isinstance(error, TelegramForbiddenError):
            if notice.user_id is not None:
                user = await session.get(User, notice.user_id)
                if user is not None:
                    user.is_active = False
            await self._finish(
                session, notice, status=NoticeStatus.FAILED, reason=f"blocked: {error}"
            )
            return
        attempts = notice.attempts + 1
        # Some errors (a bare timeout) say nothing in str(): keep at least their name.
        reason = str(error) or repr(error)
        if attempts >= self._settings.send_max_attempts:
            await self._finish(
                session, notice, status=NoticeStatus.FAILED, reason=reason, attempts=attempts
            )
            return
        if await self._settle_claimed(
            session,
            notice,
            status=NoticeStatus.PENDING.value,
            claimed_by=None,
            claimed_at=None,
            attempts=attempts,
            due_at=self._clock.now() + backoff(attempts),
            last_error=reason[:1000],
        ):
            self.stats.retried += 1

    async def _finish(
        self,
        session: AsyncSession,
        notice: Notice,
        *,
        status: NoticeStatus,
        reason: str,
        attempts: int | None = None,
    ) -> None:
        values: dict[str, object] = {"status": status.value, "last_error": reason[:1000]}
        if attempts is not None:
            values["attempts"] = attempts
        if not await self._settle_claimed(session, notice, **values):
            return
        if status is NoticeStatus.DROPPED:
            self.stats.dropped += 1
        else:
            self.stats.failed += 1

    async def _settle_claimed(
        self, session: AsyncSession, notice: Notice, **values: object
    ) -> bool:
        """Writes `values` to the notice and commits, if it is still this sender's claim.
        The planner may have replaced it meanwhile (the exam moved, the card deleted and
        planned anew): then there is nothing to settle, and the batch goes on (an ORM
        flush of the vanished row failed the whole batch and stopped the sender 5 s)."""
        settled = await session.execute(
            update(Notice)
            .where(Notice.id == notice.id, *Notice.claim_of(self.worker_id))
            .values(**values)
        )
        await session.commit()
        if not settled.rowcount:  # type: ignore[attr-defined]
            log.info("notice %s was replaced or taken meanwhile; left as it is", notice.id)
            return False
        return True
