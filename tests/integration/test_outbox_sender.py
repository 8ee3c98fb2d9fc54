"""The outbox sender against a real database and a fake Bot API over real HTTP.

`OutboxSender` is driven directly: `drain()` sends what is due now, and a movable clock
decides what "now" is. The Bot API is `tests.e2e.fakeapi.FakeBotAPI`, which records what
was delivered and can answer 429, 403, 400 or be down. Every test runs on SQLite and, with
TEST_POSTGRES_DSN set, on PostgreSQL (the `engine` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import SendMessage
from aiogram.utils.i18n import I18n
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_bot, create_i18n
from bot.clock import SystemClock
from bot.config import Settings
from bot.db.engine import create_sessionmaker
from bot.db.models import Discipline, Exam, Notice, NoticeStatus, Student, User
from bot.domain.reminders import NoticeKind, backoff, stamp
from bot.notify.journal import PARTS_SENT, replay
from bot.notify.pacing import RateLimiter as SharedLimiter
from bot.notify.render import render_notice
from bot.notify.sender import OutboxSender, RateLimiter
from bot.notify.stored_replies import ReplyStore
from bot.services.imports import import_roster, import_schedule
from bot.services.notice_facts import preload
from bot.services.outbox import Outbox
from bot.services.reminders import outbox_summary, plan_upcoming
from tests.e2e.conftest import MovableClock
from tests.e2e.fakeapi import Call, FakeBotAPI
from tests.integration.dbfaults import Outage

TOKEN = "123456:TEST-token"
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # before every sample exam
# Group 1102 in data/samples: Latin (oral, no link) 23 Dec 08:30 Moscow = 05:30 UTC;
# Histology (test, conference and Moodle links) 28 Dec 10:00 Moscow = 07:00 UTC.
LATIN = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)
HISTOLOGY = datetime(2026, 12, 28, 7, 0, tzinfo=UTC)
DAY, JOIN = timedelta(hours=24), timedelta(minutes=15)
RU_USER, EN_USER = 10_001, 10_002
# Record books of group 1102: Иванова (ru), Каримов (en).
LINKED = {"2611021": (RU_USER, "ru"), "2611022": (EN_USER, "en")}


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
def settings(api: FakeBotAPI, engine: AsyncEngine, tmp_path: Path) -> Settings:
    return Settings(
        bot_token=TOKEN,
        telegram_api_url=api.base_url,
        database_url=engine.url.render_as_string(hide_password=False),
        journal_dir=tmp_path / "journal",
        _env_file=None,
    )


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def i18n(settings: Settings) -> I18n:
    return create_i18n(settings)


class Senders:
    """Makes OutboxSenders on the test's database, clock and fake API; closes them all."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: MovableClock,
        i18n: I18n,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.i18n = i18n
        self._made: list[OutboxSender] = []

    def __call__(self, settings: Settings | None = None, **kwargs: Any) -> OutboxSender:
        chosen = settings or self.settings
        sender = OutboxSender(
            create_bot(chosen, retry=False),
            self.sessionmaker,
            clock=self.clock,
            settings=chosen,
            i18n=self.i18n,
            **kwargs,
        )
        self._made.append(sender)
        return sender

    async def close(self) -> None:
        await asyncio.gather(*(sender.close() for sender in self._made))


@pytest.fixture
async def senders(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: MovableClock,
    i18n: I18n,
) -> AsyncIterator[Senders]:
    made = Senders(settings, sessionmaker, clock, i18n)
    try:
        yield made
    finally:
        await made.close()


# --- data -------------------------------------------------------------------------------


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    linked: dict[str, tuple[int, str]] | None = None,
) -> None:
    """The sample roster and schedule, with some students linked to Telegram accounts."""
    async with sessionmaker.begin() as session:
        roster = (SAMPLES / "roster.csv").read_bytes()
        schedule = (SAMPLES / "schedule.csv").read_bytes()
        assert (await import_roster(session, "roster.csv", roster)).ok
        assert (await import_schedule(session, "schedule.csv", schedule, tz=settings.tz)).ok
        for record_book, (user_id, locale) in (linked or {}).items():
            session.add(User(id=user_id, first_name=f"user{user_id}", locale=locale))
            await session.flush()
            student = await session.scalar(
                select(Student).where(Student.record_book == record_book)
            )
            assert student is not None
            student.user_id = user_id
            student.linked_at = START


async def plan(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    async with sessionmaker.begin() as session:
        return (await plan_upcoming(session, now, settings, outbox=Outbox())).created


async def exam_id(sessionmaker: async_sessionmaker[AsyncSession], discipline: str) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(Exam.id)
            .join(Discipline)
            .where(Discipline.name == discipline, Exam.kind == "exam")
        )
    assert found is not None
    return found


async def add_join_calls(
    sessionmaker: async_sessionmaker[AsyncSession],
    exam: int,
    chats: Iterable[int],
    due: datetime,
    start: datetime = HISTOLOGY,
    tag: str = "t",
    kind: NoticeKind = NoticeKind.JOIN_CALL,
) -> list[int]:
    """Join calls (or `kind`) for `exam` straight into the outbox, one per chat (no user
    row)."""
    rows = [
        {
            "key": f"{kind}:{exam}:{tag}{chat}:{stamp(start)}",
            "kind": kind.value,
            "chat_id": chat,
            "user_id": None,
            "exam_id": exam,
            "student_id": None,
            "payload": {"start": start.isoformat()},
            "due_at": due,
            "expires_at": start,
            "status": NoticeStatus.PENDING.value,
            "attempts": 0,
        }
        for chat in chats
    ]
    async with sessionmaker.begin() as session:
        ids = await session.scalars(insert(Notice).returning(Notice.id), rows)
        return list(ids)


async def notices(sessionmaker: async_sessionmaker[AsyncSession], **where: Any) -> list[Notice]:
    async with sessionmaker() as session:
        query = select(Notice).order_by(Notice.id)
        for column, value in where.items():
            query = query.where(getattr(Notice, column) == value)
        return list(await session.scalars(query))


async def notice(sessionmaker: async_sessionmaker[AsyncSession], notice_id: int) -> Notice:
    async with sessionmaker() as session:
        found = await session.get(Notice, notice_id)
    assert found is not None
    return found


async def status_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        return (await outbox_summary(session)).counts


async def rendered(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, i18n: I18n, found: Notice
) -> str:
    async with sessionmaker() as session:
        result = await render_notice(session, found, settings=settings, i18n=i18n)
    assert result is not None
    return result.text


def texts(api: FakeBotAPI, chat: int) -> list[str]:
    return [str(call.params["text"]) for call in api.delivered(chat)]


def requests_to(api: FakeBotAPI, chat: int) -> list[Call]:
    return [c for c in api.calls if c.method == "sendMessage" and str(c.chat_id) == str(chat)]


# Transport behaviour (429s, outages, pacing) does not depend on the database: run it once.
SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single sender by design (no SKIP LOCKED, claims released)")


# --- sending what is due ----------------------------------------------------------------


async def test_due_notices_are_sent_once_in_the_users_language(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
    i18n: I18n,
) -> None:
    await seed(sessionmaker, settings, LINKED)
    # Each student: Latin card + join call, Histology card + join call.
    assert await plan(sessionmaker, settings, clock.now()) == 8
    sender = senders()

    assert (await sender.drain()).sent == 0  # nothing is due on 1 December
    assert api.sent_count == 0

    clock.move(LATIN - DAY - clock.now())
    stats = await sender.drain()
    assert (stats.sent, stats.dropped, stats.failed) == (2, 0, 0)
    sent = await notices(sessionmaker, status=NoticeStatus.SENT)
    assert {(n.kind, n.chat_id) for n in sent} == {
        (NoticeKind.DAY_BEFORE, RU_USER),
        (NoticeKind.DAY_BEFORE, EN_USER),
    }
    assert all(n.sent_at == clock.now() and n.last_error is None for n in sent)
    assert (await status_counts(sessionmaker)) == {"sent": 2, "pending": 6}

    by_chat = {n.chat_id: n for n in sent}
    [ru_text] = texts(api, RU_USER)
    [en_text] = texts(api, EN_USER)
    assert ru_text == await rendered(sessionmaker, settings, i18n, by_chat[RU_USER])
    assert en_text == await rendered(sessionmaker, settings, i18n, by_chat[EN_USER])
    assert "Напоминание об экзамене" in ru_text and "устное собеседование" in ru_text
    assert "Exam reminder" in en_text and "oral interview" in en_text
    assert "Латинский язык" in ru_text and "Латинский язык" in en_text
    assert "Exam reminder" not in ru_text and "Напоминание" not in en_text

    assert (await sender.drain()).sent == 0  # a second drain sends nothing again
    assert api.sent_count == 2

    clock.move(LATIN - JOIN - clock.now())
    assert (await sender.drain()).sent == 2
    assert "Подключайтесь" in texts(api, RU_USER)[-1]
    assert "Join now" in texts(api, EN_USER)[-1]
    assert (await status_counts(sessionmaker)) == {"sent": 4, "pending": 4}


async def test_a_claim_left_by_a_killed_sender_is_sent_exactly_once(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
    engine: AsyncEngine,
) -> None:
    await seed(sessionmaker, settings, LINKED)
    await plan(sessionmaker, settings, clock.now())
    clock.move(LATIN - DAY - clock.now())

    dead = senders()
    claimed = await dead._claim()  # ... and the process is killed before sending
    assert len(claimed) == 2
    assert {n.claimed_by for n in await notices(sessionmaker, status=NoticeStatus.CLAIMED)} == {
        dead.worker_id
    }

    lease = timedelta(seconds=30)
    successor = senders(lease=lease)
    # A claim is a lease: while it holds, nobody else takes the notice.
    assert (await successor.drain()).sent == 0
    assert api.sent_count == 0

    if engine.dialect.name == "sqlite":
        # The only sender starting up releases every claim at once (run() does it first).
        task = asyncio.create_task(successor.run())
        await api.wait_for("sendMessage", chat_id=RU_USER, timeout=10)
        await api.wait_for("sendMessage", chat_id=EN_USER, timeout=10)
        successor.stop()
        await task
    else:
        # Several senders may share PostgreSQL: a claim is only taken over once it lapsed.
        clock.move(lease - timedelta(seconds=1))
        assert (await successor.drain()).sent == 0
        clock.move(timedelta(seconds=2))
        assert (await successor.drain()).sent == 2

    assert (await successor.drain()).sent == 0
    assert len(api.delivered(RU_USER)) == len(api.delivered(EN_USER)) == 1
    sent = await notices(sessionmaker, status=NoticeStatus.SENT)
    assert {n.id for n in sent} == set(claimed)
    assert {n.claimed_by for n in sent} == {successor.worker_id}


async def test_two_senders_on_postgresql_deliver_each_notice_exactly_once(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
    engine: AsyncEngine,
) -> None:
    postgres_only(engine)
    await seed(sessionmaker, settings)
    exam = await exam_id(sessionmaker, "Гистология")
    chats = range(50_001, 50_301)
    ids = await add_join_calls(sessionmaker, exam, chats, due=clock.now())
    # Above the 30/s a real bot may use: this is about claims, not pacing.
    fast = settings.model_copy(update={"send_rate": 300.0})
    first, second = senders(fast, batch=20), senders(fast, batch=20)

    await asyncio.gather(first.drain(), second.drain())

    per_chat = Counter(str(call.chat_id) for call in api.delivered())
    assert len(per_chat) == len(ids) == 300
    assert set(per_chat.values()) == {1}
    assert first.stats.sent + second.stats.sent == 300
    assert first.stats.sent > 0 and second.stats.sent > 0  # both really sent
    assert (await status_counts(sessionmaker)) == {"sent": 300}
    by_worker = Counter(n.claimed_by for n in await notices(sessionmaker))
    assert by_worker == {first.worker_id: first.stats.sent, second.worker_id: second.stats.sent}


# --- expiry -----------------------------------------------------------------------------


async def test_after_downtime_expired_join_calls_are_dropped_and_cards_sent_late(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings, {"2611021": (RU_USER, "ru")})
    await plan(sessionmaker, settings, clock.now())

    # Down from 1 December until five minutes after Latin started.
    clock.move(LATIN + timedelta(minutes=5) - clock.now())
    stats = await senders().drain()
    assert (stats.sent, stats.dropped) == (0, 2)
    dropped = await notices(sessionmaker, status=NoticeStatus.DROPPED)
    assert {n.kind for n in dropped} == {NoticeKind.DAY_BEFORE, NoticeKind.JOIN_CALL}
    assert all(n.last_error == "expired" and n.sent_at is None for n in dropped)
    assert requests_to(api, RU_USER) == []  # not a single request

    # Down again past the Histology card's time, but up an hour before the exam.
    clock.move(HISTOLOGY - timedelta(hours=1) - clock.now())
    stats = await senders().drain()
    assert (stats.sent, stats.dropped) == (1, 0)
    [card] = texts(api, RU_USER)
    assert "Гистология" in card and "Напоминание об экзамене" in card
    [late] = await notices(sessionmaker, status=NoticeStatus.SENT)
    assert late.kind == NoticeKind.DAY_BEFORE and late.due_at == HISTOLOGY - DAY
    assert (await status_counts(sessionmaker)) == {"dropped": 2, "sent": 1, "pending": 1}


async def test_a_claimed_notice_replaced_meanwhile_is_left_alone_and_the_batch_goes_on(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exam moved while the sender held the old join call: the planner deleted it and
    planned anew. Settling the vanished row (dropped as expired here) used to fail the
    whole batch and stop the sender for 5 s (seen as a late join call in an end-to-end
    test); now it is skipped, and the rest of the batch is settled."""
    await seed(sessionmaker, settings, {"2611021": (RU_USER, "ru")})
    await plan(sessionmaker, settings, clock.now())
    clock.move(LATIN + timedelta(minutes=5) - clock.now())  # both of Latin's expired
    [join_call] = [
        n for n in await notices(sessionmaker, kind=NoticeKind.JOIN_CALL) if n.due_at < LATIN
    ]

    async def then_replanned(session: AsyncSession, batch: Iterable[Notice]) -> Any:
        held = await preload(session, batch)
        async with sessionmaker.begin() as planner:  # another connection, as the planner's
            await planner.execute(delete(Notice).where(Notice.id == join_call.id))
        return held

    monkeypatch.setattr("bot.notify.sender.preload", then_replanned)
    stats = await senders().drain()
    assert (stats.sent, stats.dropped, stats.failed) == (0, 1, 0)
    [card] = await notices(sessionmaker, status=NoticeStatus.DROPPED)
    assert card.kind == NoticeKind.DAY_BEFORE and card.last_error == "expired"
    assert join_call.id not in {n.id for n in await notices(sessionmaker)}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert requests_to(api, RU_USER) == []


# --- Telegram's answers -----------------------------------------------------------------


@SQLITE_ONLY
async def test_429_is_waited_out_and_the_notice_still_delivered(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    [notice_id] = await add_join_calls(
        sessionmaker, await exam_id(sessionmaker, "Гистология"), [700], due=clock.now()
    )
    api.fail_next("sendMessage", status=429, retry_after=1)
    sender = senders()

    started = time.monotonic()
    stats = await sender.drain()
    assert time.monotonic() - started >= 1.0
    assert stats.sent == 1 and stats.throttled >= 1 and sender.stats.throttled >= 1
    assert api.throttled == 1
    [call] = api.delivered(700)
    [refused] = [c for c in requests_to(api, 700) if not c.ok]
    assert call.at - refused.at >= 1.0  # retry_after was respected
    found = await notice(sessionmaker, notice_id)
    assert found.status == NoticeStatus.SENT and found.attempts == 0


async def test_403_fails_the_notice_deactivates_the_user_and_drops_the_rest(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings, LINKED)
    await plan(sessionmaker, settings, clock.now())
    api.block(RU_USER)
    sender = senders()

    clock.move(LATIN - DAY - clock.now())
    stats = await sender.drain()
    assert (stats.sent, stats.failed) == (1, 1)
    [failed] = await notices(sessionmaker, status=NoticeStatus.FAILED)
    assert failed.chat_id == RU_USER and failed.kind == NoticeKind.DAY_BEFORE
    assert failed.last_error is not None and "blocked" in failed.last_error
    assert failed.attempts == 0  # not retried: a block is final
    async with sessionmaker() as session:
        ru_user = await session.get(User, RU_USER)
        en_user = await session.get(User, EN_USER)
    assert ru_user is not None and not ru_user.is_active
    assert en_user is not None and en_user.is_active
    assert len(requests_to(api, RU_USER)) == 1

    clock.move(LATIN - JOIN - clock.now())
    stats = await sender.drain()
    assert (stats.sent, stats.dropped, stats.failed) == (1, 1, 0)
    [dropped] = await notices(sessionmaker, status=NoticeStatus.DROPPED)
    assert dropped.chat_id == RU_USER and dropped.kind == NoticeKind.JOIN_CALL
    assert dropped.last_error == "user inactive"
    assert len(requests_to(api, RU_USER)) == 1  # no request for the dropped one
    assert len(api.delivered(EN_USER)) == 2


async def test_other_errors_back_off_then_fail_or_succeed(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    exam = await exam_id(sessionmaker, "Гистология")
    doomed, lucky = await add_join_calls(sessionmaker, exam, [801, 802], due=clock.now())
    limit = 3  # SEND_MAX_ATTEMPTS (5 by default; each retry to a chat waits 1 s of pacing)
    api.fail_next("sendMessage", status=400, count=limit, chat_id=801, description="Bad Request: X")
    api.fail_next("sendMessage", status=400, count=2, chat_id=802, description="Bad Request: Y")
    sender = senders(settings.model_copy(update={"send_max_attempts": limit}))

    for attempt in range(1, limit + 1):
        await sender.drain()
        failing = await notice(sessionmaker, doomed)
        assert failing.attempts == attempt
        assert failing.last_error is not None and "Bad Request: X" in failing.last_error
        if attempt < limit:
            assert failing.status == NoticeStatus.PENDING
            assert failing.due_at == clock.now() + backoff(attempt)
            assert (await sender.drain()).sent == 0  # not before the back-off
            clock.move(backoff(attempt))
        else:
            assert failing.status == NoticeStatus.FAILED  # recorded, never silently dropped
            assert failing.sent_at is None

    recovered = await notice(sessionmaker, lucky)
    assert recovered.status == NoticeStatus.SENT
    assert recovered.attempts == 2 and recovered.last_error is None
    assert len(api.delivered(801)) == 0
    assert len(api.delivered(802)) == 1
    assert len(requests_to(api, 801)) == limit
    assert len(requests_to(api, 802)) == 3
    assert sender.stats.errors == {"TelegramBadRequest": limit + 2}
    assert (await sender.drain()).sent == 0


@SQLITE_ONLY
async def test_an_outage_is_waited_out_without_failing_anything(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    chats = list(range(900, 910))
    await add_join_calls(
        sessionmaker, await exam_id(sessionmaker, "Гистология"), chats, due=clock.now()
    )
    api.outage("500", 1.5)
    over = time.monotonic() + 1.5
    sender = senders()

    stats = await sender.drain()
    assert stats.sent == len(chats) and stats.failed == 0 and stats.retried >= 1
    assert all(len(api.delivered(chat)) == 1 for chat in chats)
    assert min(call.at for call in api.delivered()) >= over
    assert any(not call.ok for call in api.calls)  # it did hit the outage
    assert (await status_counts(sessionmaker)) == {"sent": len(chats)}
    assert {n.attempts for n in await notices(sessionmaker)} == {0}  # not the notices' fault


async def test_a_text_over_4096_characters_is_split_and_delivered(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
    i18n: I18n,
) -> None:
    await seed(sessionmaker, settings, {"2611021": (RU_USER, "ru")})
    exam = await exam_id(sessionmaker, "Гистология")
    # The longest links a teacher or an import may set (2048 characters each).
    link = "https://my.mts-link.ru/j/" + "c" * (2048 - 25)
    moodle = "https://moodle.example-med.ru/?" + "m" * (2048 - 31)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Exam).where(Exam.id == exam).values(link=link, moodle_url=moodle)
        )
    await plan(sessionmaker, settings, clock.now())
    clock.move(HISTOLOGY - DAY - clock.now())
    sender = senders()

    assert (await sender.drain()).sent == 1
    [card] = await notices(sessionmaker, status=NoticeStatus.SENT)
    whole = await rendered(sessionmaker, settings, i18n, card)
    assert len(whole) > 4096
    parts = texts(api, RU_USER)
    assert len(parts) >= 2 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == whole
    assert all(c.ok for c in requests_to(api, RU_USER))  # never rejected
    delivered = api.delivered(RU_USER)
    assert delivered[1].at - delivered[0].at >= 0.99  # one chat: a second apart


# --- pacing -----------------------------------------------------------------------------


@SQLITE_ONLY
async def test_the_overall_rate_stays_under_telegrams_limit(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    api.enforce_limits(30, 1)
    assert settings.send_rate == 30  # Telegram's own limit: the limiter keeps under it
    chats = list(range(60_001, 60_061))
    await add_join_calls(
        sessionmaker, await exam_id(sessionmaker, "Гистология"), chats, due=clock.now()
    )
    sender = senders()

    started = time.monotonic()
    stats = await sender.drain()
    elapsed = time.monotonic() - started

    assert stats.sent == len(chats)
    assert api.throttled == 0 and sender.stats.throttled == 0
    assert elapsed >= (len(chats) - 1) / 30  # the first one goes at once
    assert all(len(api.delivered(chat)) == 1 for chat in chats)
    arrivals = sorted(call.at for call in api.delivered())
    assert max(_per_second(arrivals)) <= 30


@SQLITE_ONLY
async def test_one_chat_gets_at_most_a_message_a_second(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    exam = await exam_id(sessionmaker, "Гистология")
    api.enforce_limits(30, 1)
    one = 61_000
    for tag in "xyz":  # three notices to one chat
        await add_join_calls(sessionmaker, exam, [one], due=clock.now(), tag=tag)

    assert (await senders().drain()).sent == 3
    at = [call.at for call in api.delivered(one)]
    assert len(at) == 3
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(at)), at
    # Whether the fake had to refuse one on the way (it should not): see the xfail below.


def _per_second(arrivals: list[float]) -> list[int]:
    """For each arrival, how many arrived in the second that starts with it."""
    counts, end = [], 0
    for start, at in enumerate(arrivals):
        while end < len(arrivals) and arrivals[end] < at + 1.0:
            end += 1
        counts.append(end - start)
    return counts


# --- regressions: each of these once failed ------------------------------------------


@SQLITE_ONLY
async def test_a_join_call_is_not_sent_after_the_start_when_an_outage_held_it_back(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    start = clock.now() + timedelta(minutes=10)
    [notice_id] = await add_join_calls(
        sessionmaker, await exam_id(sessionmaker, "Гистология"), [950], clock.now(), start
    )
    # Down long enough that the first attempt surely meets it (a busy machine takes a
    # while to claim and render: an outage of half a second was over by then, and the
    # join call went out before the clock moved).
    api.outage("500", 30)
    sender = senders()
    draining = asyncio.create_task(sender.drain())
    await api.wait_for("sendMessage", chat_id=950, timeout=5)  # refused: the API is down
    clock.move(timedelta(minutes=11))  # ... and it stays down past the start
    await draining  # the next attempt finds it expired: dropped, not waited for
    api.outage_over()

    found = await notice(sessionmaker, notice_id)
    assert api.delivered(950) == []
    assert found.status == NoticeStatus.DROPPED


@SQLITE_ONLY
async def test_a_split_notice_failing_on_its_second_part_does_not_repeat_the_first(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings, {"2611021": (RU_USER, "ru")})
    exam = await exam_id(sessionmaker, "Гистология")
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Exam)
            .where(Exam.id == exam)
            .values(link="https://a.ru/" + "a" * 2035, moodle_url="https://b.ru/" + "b" * 2035)
        )
    await plan(sessionmaker, settings, clock.now())
    clock.move(HISTOLOGY - DAY - clock.now())
    sender = senders()

    draining = asyncio.create_task(sender.drain())
    await api.wait_for("sendMessage", chat_id=RU_USER, timeout=5)
    api.fail_next("sendMessage", status=400, chat_id=RU_USER)  # the second part is refused
    await draining
    clock.move(backoff(1))
    await senders().drain()  # the retry (a fresh sender: no pacing left to wait out)

    parts = texts(api, RU_USER)
    assert (await status_counts(sessionmaker)).get("sent") == 1
    assert len(parts) == len(set(parts)), "a part was delivered twice"


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # several senders
async def test_a_notice_held_up_past_its_lease_is_not_sent_twice(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    await add_join_calls(
        sessionmaker, await exam_id(sessionmaker, "Гистология"), [960], clock.now()
    )
    lease = timedelta(seconds=30)
    first, second = senders(lease=lease), senders(lease=lease)
    api.outage("500", 0.5)

    draining = asyncio.create_task(first.drain())
    await api.wait_for("sendMessage", chat_id=960, timeout=5)
    clock.move(lease + timedelta(seconds=1))  # the outage outlasts the lease
    await asyncio.gather(draining, second.drain())

    assert len(api.delivered(960)) == 1


_real_sleep = asyncio.sleep


class _FakeTime:
    """A monotonic clock that asyncio.sleep (patched) moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await _real_sleep(0)  # still let the other tasks run


async def test_one_chat_is_paced_with_a_margin_over_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeTime()
    limiter = RateLimiter(25, now=lambda: fake.now)
    with monkeypatch.context() as patch:
        patch.setattr(asyncio, "sleep", fake.sleep)
        async with limiter.slot(42):
            sent = fake.now
            fake.now += 0.3  # the answer takes a while
        async with limiter.slot(42):
            second = fake.now
    # The second send to the chat leaves 1.1 s after the first one's answer came back.
    assert second - (sent + 0.3) >= 1.1 - 1e-9


async def test_a_request_counts_until_a_second_after_its_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slow answers must not let more than `rate` requests into any second at Telegram."""
    fake = _FakeTime()
    limiter = RateLimiter(5, now=lambda: fake.now)
    with monkeypatch.context() as patch:
        patch.setattr(asyncio, "sleep", fake.sleep)
        for chat in range(5):  # five requests go out and hang
            await limiter.acquire(chat)
        started = fake.now
        waiting = asyncio.ensure_future(limiter.acquire(99))
        for _ in range(20):  # let it poll for a while: all five still in flight
            await asyncio.sleep(0)
            fake.now += 0.01
        assert not waiting.done()
        limiter.release(0)  # one answer comes back
        answered = fake.now
        await waiting
    assert fake.now - answered >= 1.0 - 1e-9 and fake.now > started


# --- the sent journal -------------------------------------------------------------------


async def killed_after_telegram_answered(api: FakeBotAPI, sender: OutboxSender, chat: int) -> None:
    """`sender` delivers, and its process dies before the database hears of it."""
    await sender._open_journal()  # nothing without a journal

    async def never_marked(*_: Any) -> None:
        await asyncio.Event().wait()

    sender._mark_sent = never_marked  # type: ignore[method-assign,assignment]
    draining = asyncio.create_task(sender.drain())
    await api.wait_for("sendMessage", chat_id=chat, timeout=10)
    await asyncio.sleep(0.05)  # the answer reaches the sender
    draining.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await draining
    if sender._journal is not None:
        sender._journal.close(remove=False)  # the kernel drops the dead process's lock


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "no-journal"])
async def test_a_notice_accepted_just_before_a_kill_is_not_sent_again(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
    journal: bool,
) -> None:
    await seed(sessionmaker, settings, {"2611021": (RU_USER, "ru")})
    await plan(sessionmaker, settings, clock.now())
    clock.move(LATIN - DAY - clock.now())
    chosen = settings if journal else settings.model_copy(update={"journal_dir": None})
    await killed_after_telegram_answered(api, senders(chosen), RU_USER)
    [claimed] = await notices(sessionmaker, status=NoticeStatus.CLAIMED)

    # The successor starts up, as after a restart (a lapsed lease on PostgreSQL).
    clock.move(timedelta(minutes=5))
    successor = senders(chosen)
    task = asyncio.create_task(successor.run())
    deadline = time.monotonic() + 10
    while (await notice(sessionmaker, claimed.id)).status != NoticeStatus.SENT:
        assert time.monotonic() < deadline, "the notice was never marked sent"
        await asyncio.sleep(0.05)
    successor.stop()
    await task

    assert len(api.delivered(RU_USER)) == (1 if journal else 2)
    if journal:
        assert list(settings.journal_dir.glob("*.log")) == []  # type: ignore[union-attr]


async def test_the_journal_of_a_live_process_and_foreign_lines_are_left_alone(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings, LINKED)
    await plan(sessionmaker, settings, clock.now())
    clock.move(LATIN - DAY - clock.now())
    alive = senders()
    await alive._open_journal()
    [ru, en] = await alive._claim()
    assert alive._journal is not None
    # Lines of another database's worker, a torn last line, and one of the live sender.
    alive._journal.record(ru, 1, parts=1)
    folder = settings.journal_dir
    assert folder is not None
    (folder / "sent-elsewhere-0.log").write_text(f"elsewhere {en} 1 1\n{alive.worker_id} {en} 1")

    other = senders(exclusive=False)
    await other._open_journal()
    assert {n.id for n in await notices(sessionmaker, status=NoticeStatus.CLAIMED)} == {ru, en}
    assert alive._journal.path.exists()  # still alive: its file stays
    assert not (folder / "sent-elsewhere-0.log").exists()  # dead and replayed: removed
    alive._journal.close(remove=False)
    await senders(exclusive=False)._open_journal()
    assert [n.id for n in await notices(sessionmaker, status=NoticeStatus.SENT)] == [ru]


async def test_a_split_notice_resumes_after_the_parts_the_journal_saw_accepted(
    sessionmaker: async_sessionmaker[AsyncSession],
    senders: Senders,
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings, LINKED)
    await plan(sessionmaker, settings, clock.now())
    clock.move(LATIN - DAY - clock.now())
    sender = senders(exclusive=False)
    [ru, _] = await sender._claim()
    text = f"{sender.worker_id} {ru} 1 3\n{sender.worker_id} {ru} 2 3\n"
    assert await replay(text, sessionmaker, clock) == 0  # not whole yet: nothing marked sent
    found = await notice(sessionmaker, ru)
    assert (found.status, found.payload[PARTS_SENT]) == (NoticeStatus.CLAIMED, 2)
    assert await replay(f"{sender.worker_id} {ru} 3 3\n", sessionmaker, clock) == 1
    assert (await notice(sessionmaker, ru)).status == NoticeStatus.SENT


async def test_a_keyed_line_touches_only_its_own_notice_when_the_id_came_back(
    sessionmaker: async_sessionmaker[AsyncSession],
    senders: Senders,
    settings: Settings,
    clock: MovableClock,
) -> None:
    """A reply said at once is deleted once settled, and SQLite may give its id to the next
    notice: the journal's line for the old reply (with its key) must not mark the new one."""
    await seed(sessionmaker, settings, LINKED)
    await plan(sessionmaker, settings, clock.now())
    clock.move(LATIN - DAY - clock.now())
    sender = senders(exclusive=False)
    [ru, _] = await sender._claim()
    key = (await notice(sessionmaker, ru)).key
    gone = f"{sender.worker_id} {ru} 1 1 reply:{RU_USER}:0123abcd\n"
    assert await replay(gone, sessionmaker, clock) == 0
    assert (await notice(sessionmaker, ru)).status == NoticeStatus.CLAIMED
    assert await replay(f"{sender.worker_id} {ru} 1 1 {key}\n", sessionmaker, clock) == 1
    assert (await notice(sessionmaker, ru)).status == NoticeStatus.SENT


# --- the database going away (PostgreSQL restarting) -------------------------------------


async def join_calls_due_now(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
    chats: Iterable[int],
) -> list[int]:
    """The sample roster, and a join call due now for each chat; returns the chats."""
    await seed(sessionmaker, settings)
    exam = await exam_id(sessionmaker, "Гистология")
    await add_join_calls(sessionmaker, exam, list(chats), due=clock.now())
    return list(chats)


async def test_notices_telegram_accepted_while_the_database_was_away_are_not_sent_again(
    api: FakeBotAPI,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    i18n: I18n,
    clock: MovableClock,
) -> None:
    chats = await join_calls_due_now(sessionmaker, settings, clock, range(920, 926))
    down = Outage(engine)
    bot = create_bot(settings, retry=False)
    accepted = 0

    async def cut_after_the_third(make_request: Any, client: Any, method: Any) -> Any:
        nonlocal accepted
        response = await make_request(client, method)
        accepted += 1
        if accepted == 3:
            down.down = True  # Telegram has it; the database is gone before it hears so
        return response

    bot.session.middleware(cut_after_the_third)  # type: ignore[arg-type]
    sender = OutboxSender(bot, sessionmaker, clock=clock, settings=settings, i18n=i18n)
    try:
        with pytest.raises(ConnectionRefusedError):
            await sender.drain()  # the next claim meets the outage
        down.down = False
        await sender.drain()
        clock.move(timedelta(minutes=10))  # far past the lease: nothing is left to take again
        await sender.drain()
    finally:
        down.remove()
        await sender.close()
    assert all(len(api.delivered(chat)) == 1 for chat in chats)
    assert (await status_counts(sessionmaker)) == {"sent": len(chats)}
    assert sender.stats.sent == len(chats)


async def test_claims_stranded_by_the_database_going_away_are_given_back_at_once(
    api: FakeBotAPI,
    engine: AsyncEngine,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    chats = await join_calls_due_now(sessionmaker, settings, clock, range(930, 934))
    down = Outage(engine)
    down.down_after("claimed_by")  # the claim commits; then the database is gone
    sender = senders()
    try:
        with pytest.raises(ConnectionRefusedError):
            await sender.drain()
        assert api.delivered() == []
        down.down = False
        assert (await status_counts(sessionmaker)) == {"claimed": len(chats)}
        await sender.drain()  # at once, not once the two-minute lease has run out
    finally:
        down.remove()
    assert all(len(api.delivered(chat)) == 1 for chat in chats)
    assert (await status_counts(sessionmaker)) == {"sent": len(chats)}
    assert {n.attempts for n in await notices(sessionmaker)} == {0}  # not the notices' fault


# --- urgency and one limiter for every Bot ------------------------------------------------


async def test_join_calls_go_before_cards_that_fell_due_earlier(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    exam = await exam_id(sessionmaker, "Гистология")
    cards = list(range(70_001, 70_021))
    calls = list(range(71_001, 71_011))
    earlier = clock.now() - timedelta(minutes=10)
    await add_join_calls(sessionmaker, exam, cards, earlier, kind=NoticeKind.DAY_BEFORE)
    await add_join_calls(sessionmaker, exam, calls, clock.now())

    assert (await senders(batch=5, concurrency=1).drain()).sent == 30
    order = [int(call.chat_id) for call in api.delivered()]
    assert order[:10] == calls  # every join call first, then the cards
    assert sorted(order[10:]) == cards


async def test_join_calls_start_early_when_more_fall_due_than_the_rate_sends_by_then(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    histology = await exam_id(sessionmaker, "Гистология")  # its conference link is posted
    latin = await exam_id(sessionmaker, "Латинский язык")  # not yet
    soon = clock.now() + timedelta(seconds=8)
    # 40 due in 8 s at 10/s (planned at 8.5/s, with a 5 s margin): they must start now.
    crowd = await add_join_calls(sessionmaker, histology, range(72_001, 72_041), soon)
    [unlinked] = await add_join_calls(sessionmaker, latin, [72_100], soon, start=LATIN)
    [alone] = await add_join_calls(
        sessionmaker, histology, [72_200], clock.now() + timedelta(minutes=2)
    )
    [far] = await add_join_calls(
        sessionmaker, histology, [72_300], clock.now() + timedelta(minutes=11), tag="f"
    )
    fast = settings.model_copy(update={"send_rate": 10.0})

    stats = await senders(fast).drain()  # the clock stands still: nothing is due yet

    assert stats.sent == len(crowd)
    assert {int(call.chat_id) for call in api.delivered()} == set(range(72_001, 72_041))
    for waiting in (unlinked, alone, far):  # no link yet; time enough; beyond 10 min
        assert (await notice(sessionmaker, waiting)).status == NoticeStatus.PENDING


@SQLITE_ONLY
async def test_replies_and_the_outbox_share_one_limiter(
    api: FakeBotAPI,
    senders: Senders,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: MovableClock,
) -> None:
    await seed(sessionmaker, settings)
    api.enforce_limits(30, 1)
    limiter = SharedLimiter(30)
    await add_join_calls(
        sessionmaker, await exam_id(sessionmaker, "Гистология"), range(73_001, 73_061), clock.now()
    )
    replier = create_bot(settings, limiter=limiter)
    try:
        draining = asyncio.create_task(senders(limiter=limiter).drain())
        await api.wait_for("sendMessage", chat_id=73_001, timeout=5)
        replies = await asyncio.gather(
            *(replier.send_message(74_000 + i, f"reply {i} &amp; more") for i in range(30))
        )
        stats = await draining
    finally:
        await replier.session.close()

    assert stats.sent == 60 and len(replies) == 30
    assert api.throttled == 0 and limiter.throttled == 0
    assert len(api.delivered()) == 90
    arrivals = sorted(call.at for call in api.delivered())
    assert max(_per_second(arrivals)) <= 30


@SQLITE_ONLY
async def test_a_group_chat_is_paced_per_minute_and_edits_per_chat(
    api: FakeBotAPI, settings: Settings
) -> None:
    # Telegram: 20 a minute to a group; here 2 in 4 s, so that the test takes seconds.
    api.enforce_limits(30, 1, per_group=2, group_window=4)
    limiter = SharedLimiter(30, per_group=2, group_window=4)
    bot = create_bot(settings, limiter=limiter)
    deanery = -100_777
    try:
        await asyncio.gather(*(bot.send_message(deanery, f"statement {i}") for i in range(4)))
        message = await bot.send_message(75_000, "roll")
        for mark in range(3):
            await bot.edit_message_text(
                f"roll {mark}", chat_id=75_000, message_id=message.message_id
            )
    finally:
        await bot.session.close()

    assert api.throttled == 0 and limiter.throttled == 0
    group = [call.at for call in api.delivered(deanery)]
    assert len(group) == 4
    assert group[2] - group[0] >= 4 - 0.2  # the third waited for the first to leave
    edits = [c.at for c in api.calls if c.method == "editMessageText" and c.ok]
    sends = [c.at for c in api.delivered(75_000)]
    moments = sends + edits
    assert len(edits) == 3
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(moments))


async def test_a_kept_reply_held_up_by_telegram_keeps_its_claim(
    api: FakeBotAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    i18n: I18n,
) -> None:
    """An update's answer kept in the outbox is said by the unit of work; while Telegram
    keeps that waiting (429s waited out: minutes) its claim is renewed, so no sender takes
    it for one whose lease ran out and says it a second time. Once nobody holds it (a
    kill), the lease runs out and the sender says it, once."""
    await seed(sessionmaker, settings, {"2611021": (RU_USER, "ru")})
    clock = SystemClock()
    sender = OutboxSender(
        create_bot(settings, retry=False),
        sessionmaker,
        clock=clock,
        settings=settings,
        i18n=i18n,
        lease=timedelta(seconds=0.4),
    )
    store = ReplyStore(sessionmaker, clock, sender)
    bot = create_bot(settings)
    try:
        text = "Заявление №7 сохранено: O'Нил & <Ко>"
        async with sessionmaker.begin() as session:
            message = SendMessage(chat_id=RU_USER, text=text, parse_mode=None)
            kept = (await store.keep_in(session, [(bot, message)]))[RU_USER]
        with store.holding(kept):  # three leases long
            for _ in range(6):
                await asyncio.sleep(0.2)
                assert (await sender.drain()).sent == 0
        assert requests_to(api, RU_USER) == []
        await asyncio.sleep(0.5)
        assert (await sender.drain()).sent == 1
        assert texts(api, RU_USER) == [text]
    finally:
        await bot.session.close()
        await sender.close()
