"""The shared rate limiter (bot.notify.pacing) on a fake clock: no test here sleeps.

`asyncio.sleep` is replaced by one that moves the fake clock forward by what was asked
(and yields once, so other tasks run): a wait of a minute costs nothing.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    GetFile,
    GetUpdates,
    SendChatAction,
    SendMediaGroup,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import InputMediaPhoto

from bot.notify import pacing
from bot.notify.pacing import PacingMiddleware, RateLimiter, paced_chat, weight

_real_sleep = asyncio.sleep


class FakeTime:
    """Virtual time: a sleeping task wakes when the test moves the clock past its time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await _real_sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), woken))
        await woken

    async def advance(self, seconds: float) -> None:
        """Lets `seconds` pass, waking every sleeper on the way at its time."""
        until = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= until:
            self._wake_next()
            await settle()
        self.now = until

    async def until(self, task: asyncio.Future[Any]) -> Any:
        """Lets time pass until `task` is done; returns its result."""
        await settle()
        while not task.done():
            assert self._sleepers, "nothing left to wake: the task waits forever"
            self._wake_next()
            await settle()
        return task.result()

    def _wake_next(self) -> None:
        at, _, woken = heapq.heappop(self._sleepers)
        self.now = max(self.now, at)
        if not woken.done():
            woken.set_result(None)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTime]:
    clock = FakeTime()
    monkeypatch.setattr(asyncio, "sleep", clock.sleep)
    yield clock


def limiter(fake: FakeTime, rate: float = 5, **kwargs: Any) -> RateLimiter:
    return RateLimiter(rate, now=lambda: fake.now, **kwargs)


async def settle() -> None:
    for _ in range(20):
        await _real_sleep(0)


async def run(fake: FakeTime, work: Coroutine[Any, Any, Any]) -> Any:
    return await fake.until(asyncio.ensure_future(work))


# --- counting -------------------------------------------------------------------------


async def wait_after_an_answer(fake: FakeTime, pace: RateLimiter, first_chat: int) -> float:
    """A limiter of 3: three requests in flight hold a fourth however long; then the first
    is answered. Returns how long after that answer the fourth goes."""
    for chat in range(first_chat, first_chat + 3):
        await run(fake, pace.acquire(chat))
    waiting = asyncio.ensure_future(pace.acquire(first_chat + 3))
    await fake.advance(5.0)
    assert not waiting.done()  # three in flight: the allowance is taken however long
    pace.release(first_chat)
    answered = fake.now
    await fake.until(waiting)
    return fake.now - answered


async def test_a_request_counts_from_its_go_until_a_second_after_its_answer(
    fake: FakeTime,
) -> None:
    assert await wait_after_an_answer(fake, limiter(fake, 3), first_chat=1) == pytest.approx(1.0)


async def test_an_answer_counts_until_a_second_after_it_less_the_fastest_round_trip(
    fake: FakeTime,
) -> None:
    pace = limiter(fake, 3, adaptive=False)
    # Round trips of 0.3 s, one of 0.2 s: the fastest is trusted from RTT_LEAST answers on.
    trips = [0.3] * (pacing.RTT_LEAST - 1)
    trips[5] = 0.2
    for chat, took in enumerate(trips):
        await run(fake, slot(pace, chat, took=took))
    assert pace.fastest_trip == 0  # too few answers to go by: a whole second after each
    await run(fake, slot(pace, 99, took=0.3))
    assert pace.fastest_trip == pytest.approx(0.2)
    await fake.advance(2.0)
    assert await wait_after_an_answer(fake, pace, first_chat=101) == pytest.approx(0.8)


async def test_the_fastest_round_trip_follows_the_network(fake: FakeTime) -> None:
    pace = limiter(fake, 30)
    for chat in range(pacing.RTT_LEAST):
        await run(fake, slot(pace, chat, took=0.05))
    assert pace.fastest_trip == pytest.approx(0.05)
    # Slower now: once the quick answers are RTT_SAMPLES answers back, they are forgotten.
    for chat in range(100, 100 + pacing.RTT_SAMPLES):
        await run(fake, slot(pace, chat, took=0.15))
    assert pace.fastest_trip == pytest.approx(0.15)
    # Quicker: at once (counting more is always safe).
    await run(fake, slot(pace, 500, took=0.08))
    assert pace.fastest_trip == pytest.approx(0.08)
    # After a quiet spell, too few recent answers to go by.
    await fake.advance(pacing.RTT_MEMORY + 1)
    await run(fake, slot(pace, 501, took=0.08))
    assert pace.fastest_trip == 0


async def test_the_fastest_round_trip_is_the_least_of_the_recent_ones(fake: FakeTime) -> None:
    rng = random.Random(3)
    pace = limiter(fake, 30)
    seen: list[tuple[float, float]] = []  # (answer, trip)
    for chat in range(3 * pacing.RTT_SAMPLES):
        took = rng.uniform(0.05, 0.15)
        await run(fake, slot(pace, chat, took=took))
        seen.append((fake.now, took))
        recent = [
            trip
            for answer, trip in seen[-pacing.RTT_SAMPLES :]
            if answer >= fake.now - pacing.RTT_MEMORY
        ]
        expected = min(recent) if len(recent) >= pacing.RTT_LEAST else 0
        assert pace.fastest_trip == pytest.approx(expected)
        if rng.random() < 0.02:  # now and then a quiet spell, a long one once
            await fake.advance(pacing.RTT_MEMORY / (1 if chat > 400 else 4))


async def test_no_second_at_telegram_holds_more_than_the_rate_and_a_backlog_uses_it(
    fake: FakeTime,
) -> None:
    """Legs of 50 ms, or more (uniformly up to 150 ms a third of the time), each way: the
    fastest round trip, 100 ms, is twice the least leg, as the rule assumes."""
    rng = random.Random(7)
    pace = limiter(fake, 10, adaptive=False)
    arrivals: list[float] = []

    def leg() -> float:
        return 0.05 + (rng.uniform(0, 0.1) if rng.random() < 1 / 3 else 0.0)

    async def send(chat: int, gate: asyncio.Semaphore) -> None:
        async with gate, pace.slot(chat):
            await asyncio.sleep(leg())
            arrivals.append(fake.now)  # where Telegram counts it
            await asyncio.sleep(leg())

    gate = asyncio.Semaphore(16)  # as the outbox sender: a few waiting, always
    await fake.until(asyncio.gather(*(send(chat, gate) for chat in range(400))))
    arrivals.sort()
    # The most in any second (less a nanosecond: the clock's rounding) at Telegram's end.
    most = max(
        bisect.bisect_right(arrivals, at) - bisect.bisect_right(arrivals, at - 1 + 1e-9)
        for at in arrivals
    )
    assert most <= 10
    sent = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    average_trip = 2 * (0.05 + 0.05 / 3)
    # Counting each request for its round trip and a whole second after could not send
    # more than 10 / (1 + average trip), 8.8 a second; a second less the fastest trip: 9.7.
    assert sent > 1.05 * 10 / (1 + average_trip)
    assert pace.fastest_trip == pytest.approx(0.1)


async def test_requests_are_spread_evenly_not_in_a_burst(fake: FakeTime) -> None:
    pace = limiter(fake, 10)
    went = []
    for chat in range(5):
        await run(fake, pace.acquire(chat))
        went.append(fake.now)
        pace.release(chat)
    assert [round(b - a, 6) for a, b in itertools.pairwise(went)] == [0.1] * 4


async def test_an_album_counts_as_its_messages(fake: FakeTime) -> None:
    pace = limiter(fake, 10)
    await run(fake, pace.acquire(1, 4))
    await run(fake, pace.acquire(2, 4))
    waiting = asyncio.ensure_future(pace.acquire(3, 4))  # 12 > 10
    await fake.advance(3.0)
    assert not waiting.done()
    pace.release(1, 4)
    await fake.until(waiting)
    assert pace._in_flight == 8


async def slot(pace: RateLimiter, chat: int, took: float = 0.0) -> float:
    """One request to `chat` whose answer takes `took`; returns when it went."""
    async with pace.slot(chat):
        went = pace._now()
        await asyncio.sleep(took)
    return went


async def test_one_chat_waits_a_margin_over_a_second_after_its_last_answer(
    fake: FakeTime,
) -> None:
    pace = limiter(fake, 30)
    await run(fake, slot(pace, 42, took=0.4))
    answered = fake.now
    assert await run(fake, slot(pace, 43)) - answered < 0.1  # another chat goes at once
    assert await run(fake, slot(pace, 42)) - answered == pytest.approx(1.1)


async def test_a_group_chat_gets_at_most_20_a_minute(fake: FakeTime) -> None:
    pace = limiter(fake, 30)
    went = [await run(fake, slot(pace, -100123)) for _ in range(21)]
    assert went[19] - went[0] < 60  # the first 20: a message a second (and a margin)
    assert went[20] - went[0] == pytest.approx(60)  # the 21st: a minute after the first
    assert await run(fake, slot(pace, 7)) - went[20] < 1  # a private chat: not held up


# --- 429 and adapting -------------------------------------------------------------------


async def refused(pace: RateLimiter, chat: int, retry_after: int) -> None:
    async with pace.slot(chat):
        raise TelegramRetryAfter(SendMessage(chat_id=chat, text="x"), "flood", retry_after)


async def test_a_429_holds_its_chat_and_takes_one_off_the_allowance(fake: FakeTime) -> None:
    pace = limiter(fake, 30)
    with pytest.raises(TelegramRetryAfter):
        await run(fake, refused(pace, 42, 3))
    at = fake.now
    assert pace.throttled == 1 and pace.allowance == 29
    # A second 429 within the same second does not cut again: one overshoot, one step.
    pace.note_throttled(44, 1)
    assert pace.throttled == 2 and pace.allowance == 29
    assert await run(fake, slot(pace, 43)) - at < 0.1  # another chat: no pause for all
    assert await run(fake, slot(pace, 42)) - at == pytest.approx(3.0)


async def test_a_long_retry_after_or_a_burst_of_429s_pauses_everything(
    fake: FakeTime,
) -> None:
    pace = limiter(fake, 30)
    pace.note_throttled(42, 10)
    at = fake.now
    assert await run(fake, slot(pace, 43)) - at == pytest.approx(10.0)

    pace = limiter(fake, 30)
    for chat in (1, 2, 3):  # three 429s in a second, each asking 1 s
        pace.note_throttled(chat, 1)
    at = fake.now
    assert await run(fake, slot(pace, 99)) - at == pytest.approx(1.0)


async def test_the_allowance_creeps_up_only_while_it_holds_requests_back(
    fake: FakeTime,
) -> None:
    pace = limiter(fake, 10)
    for chat in range(100):  # time between requests: the allowance never binds
        await run(fake, slot(pace, chat, took=0.1))
        await fake.advance(1.0)
    assert pace.allowance == 10

    for batch in range(12):  # a backlog: always someone waiting
        chats = range(1000 + 50 * batch, 1050 + 50 * batch)
        await fake.until(asyncio.gather(*(slot(pace, chat, took=0.1) for chat in chats)))
    assert pace.allowance == pytest.approx(12)  # CEILING x rate, no further
    pace.note_throttled(1, 1)
    assert pace.allowance == pytest.approx(11)


async def test_the_allowance_never_falls_below_half_the_rate(fake: FakeTime) -> None:
    pace = limiter(fake, 30)
    for chat in range(40):
        pace.note_throttled(chat, 1)
        await fake.advance(1.0)
    assert pace.allowance == 15


# --- who goes first ----------------------------------------------------------------------


async def test_a_reply_goes_before_notices_waiting_longer(fake: FakeTime) -> None:
    pace = limiter(fake, 2)
    await run(fake, pace.acquire(1))
    await run(fake, pace.acquire(2))
    order: list[str] = []

    async def wait(name: str, chat: int, urgent: bool) -> None:
        await pace.acquire(chat, urgent=urgent)
        order.append(name)
        pace.release(chat)

    notices = [asyncio.ensure_future(wait(f"notice{i}", 10 + i, False)) for i in range(3)]
    await fake.advance(0.5)
    reply = asyncio.ensure_future(wait("reply", 99, True))
    await fake.advance(0.5)
    pace.release(1)
    pace.release(2)
    await fake.until(asyncio.gather(reply, *notices))
    assert order == ["reply", "notice0", "notice1", "notice2"]


async def test_a_request_waiting_for_its_chat_does_not_hold_back_others(
    fake: FakeTime,
) -> None:
    pace = limiter(fake, 30)
    await run(fake, slot(pace, 42))
    first = asyncio.ensure_future(pace.acquire(42))  # waits 1.1 s for its chat
    await settle()
    at = fake.now
    await run(fake, pace.acquire(43))
    assert fake.now - at < 0.1 and not first.done()
    await fake.until(first)


async def test_a_chat_held_after_a_429_goes_when_it_is_free_and_stalls_no_one(
    fake: FakeTime,
) -> None:
    """A notice whose chat Telegram held (429) waits behind eight others free to go; once
    its chat is free it goes first, then those behind it, with no gap in the pace."""
    pace = limiter(fake, 10, adaptive=False)
    went: dict[int, float] = {}

    async def send(chat: int) -> None:
        await pace.acquire(chat)
        went[chat] = fake.now
        pace.release(chat)

    pace.note_throttled(1, 1)
    held_from = fake.now
    tasks = [asyncio.ensure_future(send(chat)) for chat in range(10, 18)]
    await settle()
    tasks.append(asyncio.ensure_future(send(1)))
    await settle()
    tasks += [asyncio.ensure_future(send(chat)) for chat in range(20, 30)]
    await fake.until(asyncio.gather(*tasks))
    assert went[1] - held_from == pytest.approx(1.0, abs=pace.POLL)
    times = sorted(went.values())
    assert max(b - a for a, b in itertools.pairwise(times)) < 0.1 + pace.POLL


# --- the middleware ---------------------------------------------------------------------


def test_only_message_sending_requests_are_paced() -> None:
    assert paced_chat(SendMessage(chat_id=5, text="x")) == 5
    assert paced_chat(EditMessageText(chat_id=-7, message_id=1, text="x")) == -7
    assert paced_chat(EditMessageText(inline_message_id="abc", text="x")) is None
    for method in (
        AnswerCallbackQuery(callback_query_id="1"),
        SendChatAction(chat_id=5, action="typing"),
        GetFile(file_id="f"),
        GetUpdates(),
    ):
        assert paced_chat(method) is None
    album = SendMediaGroup(chat_id=5, media=[InputMediaPhoto(media=f"p{i}") for i in range(3)])
    assert (paced_chat(album), weight(album)) == (5, 3)


Next = Callable[[Any, TelegramMethod[Any]], Awaitable[Any]]


async def test_the_middleware_takes_a_slot_unless_the_task_holds_one(fake: FakeTime) -> None:
    pace = limiter(fake, 30)
    middleware = PacingMiddleware(pace)
    seen: list[int] = []

    async def request(bot: Any, method: TelegramMethod[Any]) -> Any:
        seen.append(pace._in_flight)
        return True

    async def outbox() -> None:
        async with pace.slot(6):  # the outbox holds a slot for chat 6 already
            await middleware(request, None, SendMessage(chat_id=6, text="x"))  # type: ignore[arg-type]

    await run(fake, middleware(request, None, SendMessage(chat_id=5, text="x")))  # type: ignore[arg-type]
    await run(fake, middleware(request, None, AnswerCallbackQuery(callback_query_id="1")))  # type: ignore[arg-type]
    await run(fake, outbox())
    assert seen == [1, 0, 1]  # counted once each; the callback answer not at all
    assert pace._in_flight == 0


async def test_a_429_through_the_middleware_is_taken_into_account(fake: FakeTime) -> None:
    pace = limiter(fake, 30)
    middleware = PacingMiddleware(pace)
    method = SendMessage(chat_id=5, text="x")

    async def flood(bot: Any, method: TelegramMethod[Any]) -> Any:
        raise TelegramRetryAfter(method, "flood", 2)

    with pytest.raises(TelegramRetryAfter):
        await run(fake, middleware(flood, None, method))  # type: ignore[arg-type]
    assert pace.throttled == 1 and pace._in_flight == 0
    assert pacing.WINDOW == 1.0


async def test_replies_to_a_burst_go_first_come_first_served(fake: FakeTime) -> None:
    """Students all at once: each reply waits its turn, in the order they asked, and the
    burst goes at the rate (500 at 30/s take 16.7 s, whatever else the bot does; 90 here,
    3 s)."""
    pace = limiter(fake, 30)
    middleware = PacingMiddleware(pace)
    answered: list[tuple[int, float]] = []

    async def request(bot: Any, method: TelegramMethod[Any]) -> Any:
        answered.append((method.chat_id, fake.now))  # type: ignore[attr-defined]
        return True

    start = fake.now
    burst = [
        asyncio.ensure_future(middleware(request, None, SendMessage(chat_id=1000 + i, text="x")))  # type: ignore[arg-type]
        for i in range(90)
    ]
    await fake.until(asyncio.gather(*burst))
    assert [chat for chat, _at in answered] == [1000 + i for i in range(90)]
    assert 90 / 30 - 1 <= answered[-1][1] - start <= 90 / 30 + 1


async def test_a_callback_answer_does_not_queue_behind_a_burst_of_replies(
    fake: FakeTime,
) -> None:
    """A teacher's roll tap is answered while 90 /schedule replies wait for their slots:
    answerCallbackQuery is no message, it takes no slot and waits for none."""
    pace = limiter(fake, 30)
    middleware = PacingMiddleware(pace)
    sent: list[str] = []

    async def request(bot: Any, method: TelegramMethod[Any]) -> Any:
        sent.append(method.__api_method__)
        return True

    burst = [
        asyncio.ensure_future(middleware(request, None, SendMessage(chat_id=1000 + i, text="x")))  # type: ignore[arg-type]
        for i in range(90)
    ]
    await fake.advance(1.0)
    waiting = sum(not task.done() for task in burst)
    at = fake.now
    tap = asyncio.ensure_future(
        middleware(request, None, AnswerCallbackQuery(callback_query_id="tap"))  # type: ignore[arg-type]
    )
    await settle()
    assert tap.done() and fake.now == at  # at once, no slot waited for
    assert waiting > 30 and sum(not task.done() for task in burst) == waiting
    await fake.until(asyncio.gather(*burst))
    assert sent.count("sendMessage") == 90 and sent.count("answerCallbackQuery") == 1
