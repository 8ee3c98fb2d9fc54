"""One pace for everything the bot sends: replies, the outbox, progress reports.

Telegram refuses (429) a bot that sends more than about 30 messages a second overall,
more than about one a second to one chat, or more than 20 a minute to a group. Those
limits are the bot's, not one component's: `RateLimiter` is made once (bot.app) and
`PacingMiddleware` puts every message-sending request of every Bot through it, so a reply
and a notice are counted in the same second. The outbox sender takes its slot itself
(`RateLimiter.slot`), to check that a notice is still its own once the slot is granted;
its requests then pass the middleware without being counted twice.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    CopyMessage,
    CopyMessages,
    EditMessageCaption,
    EditMessageLiveLocation,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageText,
    ForwardMessage,
    ForwardMessages,
    Response,
    SendMediaGroup,
    StopMessageLiveLocation,
    TelegramMethod,
)

if TYPE_CHECKING:
    from aiogram import Bot

# Telegram counts by the second: a request is counted until this long after its answer,
# less the fastest round trip (see RateLimiter).
WINDOW = 1.0
GROUP_WINDOW = 60.0  # and to a group chat, for a minute
# Adapting the allowance (see RateLimiter): what one 429 takes away, at most once a window;
# what each answer given while the allowance held requests back adds; its bounds.
DECREASE = 1.0
INCREASE = 0.004
CEILING = 1.2  # x rate
FLOOR = 0.5  # x rate
# How much each answer moves the round trip's running average.
RTT_WEIGHT = 0.05
# The fastest round trip is looked for among the last RTT_SAMPLES answers of the last
# RTT_MEMORY seconds, and trusted once there are RTT_LEAST of them (until then: none).
# The least of n trips is above the least the network can take by about 1 / n of their
# spread (a request let go that much too soon): 256, some 9 s of answers at 30/s.
RTT_SAMPLES = 256
RTT_LEAST = 16
RTT_MEMORY = 60.0
# Lateness of the requests' pace made up by sending sooner (a few close together; the
# allowance still bounds every second).
CATCH_UP = 0.25
# A 429 asking to wait this long, or three within a second: Telegram holds the whole bot
# back (not one chat, not one window's overshoot), so everything pauses.
LONG_RETRY = 5.0
BURST_429 = 3

_EDITS = (
    EditMessageText,
    EditMessageCaption,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageLiveLocation,
    StopMessageLiveLocation,
)
_OTHER_SENDS = (CopyMessage, CopyMessages, ForwardMessage, ForwardMessages)


def paced_chat(method: TelegramMethod[Any]) -> int | str | None:
    """The chat a message-sending request goes to; None for anything else (answers to
    callbacks, chat actions, getFile, getUpdates …) and for inline messages' edits."""
    name = method.__api_method__
    if not (name.startswith("send") or isinstance(method, _EDITS + _OTHER_SENDS)):
        return None
    if name == "sendChatAction":
        return None
    chat = getattr(method, "chat_id", None)
    return chat if isinstance(chat, int | str) else None


def weight(method: TelegramMethod[Any]) -> int:
    """An album is as many messages as it has items (at most ten)."""
    if isinstance(method, SendMediaGroup):
        return max(1, len(method.media))
    if isinstance(method, CopyMessages | ForwardMessages):
        return max(1, len(method.message_ids))
    return 1


_held: ContextVar[tuple[RateLimiter, int | str] | None] = ContextVar("_held", default=None)


class RateLimiter:
    """Send slots shared by everything that sends: at most `rate` messages in any second
    at Telegram's end, `per_chat` seconds apart per chat, `per_group` a minute to a group
    chat (a negative id), however the requests bunch up on the way (given one assumption
    about the network, below).

    Telegram counts a message when the request reaches it, somewhere between the moment
    we let it go and the moment its answer comes back. A request is counted from the
    first moment (in flight) until a second after the second, less the fastest round trip
    seen lately (`fastest_trip`, F): no one-second window at Telegram's end can then hold
    more of ours than are counted at once, however the requests bunch up on the way (a
    busy event loop, a slow network), as long as each way takes at least F / 2. Why: a
    request let go at `go` reaches Telegram after go + F / 2; one answered at `a` reached
    it before a - F / 2; so if a <= go + F - 1, the two are more than a second apart at
    Telegram. F / 2 each way is what the distance alone takes when the fastest trip met no
    queue; F is the least of many recent trips (RTT_LEAST of the last RTT_SAMPLES, within
    RTT_MEMORY: none, a whole second, until there are that many), so a few slow answers
    cannot make it too long, a quicker one shortens it at once, and it follows the network
    when that slows down. The per-chat gap (a margin over Telegram's one second) is
    measured from the answer of the previous send to that chat, and a group's minute
    from each answer, as before.

    How many may be counted at once (the allowance) starts at `rate`. Counting each
    request in flight as well costs rate x (RTT - F) / (1 + RTT - F) of the throughput
    (5 % with round trips of 100 ms +- 50 %, 1 % at +- 10 %); the allowance adapts: while
    it is what holds requests back and Telegram answers without 429, it creeps up (by
    INCREASE an answer, at most to CEILING x rate); a 429 takes DECREASE off (once a
    window: one overshoot, one step). It settles where a 429 is one answer in DECREASE /
    INCREASE (~250), and brings the count back below the rate if the network breaks the
    rule's assumption. Requests still go out no closer than 1/rate apart.

    A 429 holds its chat for `retry_after`; a long one, or a burst of them, pauses all.
    Urgent requests (replies to a person waiting) go before the others when both wait;
    a reply's messages to a private chat are not held to the per-chat gap (`paced`).
    """

    POLL = 0.02  # how often a full window is looked at again while requests are in flight

    def __init__(
        self,
        rate: float,
        per_chat: float = 1.1,
        *,
        per_group: int = 20,
        group_window: float = GROUP_WINDOW,
        adaptive: bool = True,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._now = now
        self.rate = rate
        self._interval = 1.0 / rate
        self._round_trip = 0.0  # from a slot's go to its answer, on average (RTT_WEIGHT)
        self._trips: deque[float] = deque(maxlen=RTT_SAMPLES)  # answer times
        # The trips that may yet be the least of those: (answer count, answer time, trip),
        # quicker towards the end (a sliding minimum: O(1) an answer).
        self._quickest: deque[tuple[int, float, float]] = deque()
        self._answers = 0
        self.fastest_trip = 0.0  # the least of them (see RTT_LEAST), 0 when not known
        self._per_chat = per_chat
        self._per_group = per_group
        self._group_window = group_window
        self._adaptive = adaptive
        self.allowance = float(max(rate, 1.0))
        self._floor = max(1.0, rate * FLOOR)
        self._ceiling = max(self.allowance, rate * CEILING)
        # When the next request may go: one interval after the previous one was due to
        # go, not after it went, so that the event loop's lateness (up to CATCH_UP: a
        # busy machine's stall) is made up and a backlog goes at the rate, not below it;
        # after an idle spell, one interval after the last one went (no burst).
        self._next_go = -1e9
        self._paused_until = 0.0
        self._answered: deque[tuple[float, int]] = deque()  # (answer time, weight)
        self._answered_weight = 0
        self._in_flight = 0
        self._chat_busy: set[int | str] = set()
        self._chat_answered: dict[int | str, float] = {}
        self._chat_held: dict[int | str, float] = {}  # after a 429, until
        self._group_answered: dict[int | str, deque[float]] = {}
        self._group_in_flight: dict[int | str, int] = {}
        # Who waits, in the order they came (tickets grow): urgent ones, then the others.
        self._waiting: tuple[dict[int, int | str], dict[int, int | str]] = ({}, {})
        self._tickets = itertools.count()
        self._pressed_at = -1e9  # when the allowance last held a request back
        self._last_cut = -1e9
        self._recent_429: deque[float] = deque()
        self.throttled = 0  # 429s seen

    # -- the outside -------------------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._now() + seconds)

    @asynccontextmanager
    async def slot(
        self, chat_id: int | str, weight: int = 1, *, urgent: bool = False, paced: bool = True
    ) -> AsyncIterator[None]:
        """Waits for a slot, holds it while the request is on its way; a 429 raised inside
        is taken into account. Requests of this task to `chat_id` through a Bot with
        `PacingMiddleware` of this limiter pass without taking another slot."""
        await self.acquire(chat_id, weight, urgent=urgent, paced=paced)
        went = self._now()
        token = _held.set((self, chat_id))
        try:
            yield
        except TelegramRetryAfter as exc:
            self.note_throttled(chat_id, exc.retry_after)
            raise
        finally:
            _held.reset(token)
            self.release(chat_id, weight, went=went)

    def holds(self, chat_id: int | str) -> bool:
        """Whether the running task holds a slot of this limiter for `chat_id`."""
        return _held.get() == (self, chat_id)

    async def acquire(
        self, chat_id: int | str, weight: int = 1, *, urgent: bool = False, paced: bool = True
    ) -> None:
        """Waits until one more request (to `chat_id`) may go; pair with `release`.
        `paced=False`: not held to the per-chat second (a reply's few messages in a row)."""
        weight = max(1, min(weight, int(self._floor)))
        ticket = next(self._tickets)
        waiting = self._waiting[0 if urgent else 1]
        waiting[ticket] = chat_id
        turns = 0
        try:
            while True:
                wait = self._wait(chat_id if paced else None, weight, ticket=ticket, urgent=urgent)
                if wait == 0:
                    # Nothing awaited since the check: taking the slot is atomic.
                    self._take(chat_id, weight)
                    return
                if wait < 0:  # one ahead of it may go now: let it (it is about to wake)
                    turns += 1
                    await asyncio.sleep(0 if turns < 8 else self.POLL / 4)
                    continue
                turns = 0
                # Those ahead in the line, free to go, go first, one interval apart: wake
                # for half that, not with all of them at the same instant only to sleep
                # again (16 notices waiting: 16 wake-ups a message, now a few). A longer
                # wait of its own (its chat held after a 429) outlasts them: it wakes when
                # that ends, not half their turns later, while the others, behind it in
                # the line, let it go first and stall.
                ahead = self._ready_ahead(ticket, urgent, now=self._now()) * self._pace()
                await asyncio.sleep(min(wait + ahead / 2, max(wait, ahead)))
        finally:
            del waiting[ticket]

    def release(self, chat_id: int | str, weight: int = 1, *, went: float | None = None) -> None:
        """The answer came (`went`: when the request was let go, for the round trip)."""
        weight = max(1, min(weight, int(self._floor)))
        now = self._now()
        if went is not None:
            self._note_trip(max(0.0, now - went), now)
        self._in_flight -= weight
        self._chat_busy.discard(chat_id)
        self._answered.append((now, weight))
        self._answered_weight += weight
        self._chat_answered[chat_id] = now
        if _is_group(chat_id):
            self._group_in_flight[chat_id] -= weight
            self._group_answered.setdefault(chat_id, deque()).append(now)
        if self._adaptive and now - self._pressed_at < WINDOW and now - self._last_cut > WINDOW:
            self.allowance = min(self._ceiling, self.allowance + INCREASE * weight)
        if len(self._chat_answered) > 10_000:
            self._forget(now)

    def note_throttled(self, chat_id: int | str, retry_after: float) -> None:
        """Telegram answered 429: hold the chat, and send less at once."""
        now = self._now()
        self.throttled += 1
        self._chat_held[chat_id] = max(self._chat_held.get(chat_id, 0.0), now + retry_after)
        recent = self._recent_429
        recent.append(now)
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        if retry_after >= LONG_RETRY or len(recent) >= BURST_429:
            self.pause(retry_after)
        if self._adaptive and now - self._last_cut >= WINDOW:
            self.allowance = max(self._floor, self.allowance - DECREASE)
            self._last_cut = now

    @property
    def round_trip(self) -> float:
        """From a request's go to its answer, on average (recent answers weigh more)."""
        return self._round_trip

    # -- the inside --------------------------------------------------------------------------

    def _note_trip(self, trip: float, now: float) -> None:
        self._round_trip += (trip - self._round_trip) * RTT_WEIGHT
        trips, quickest = self._trips, self._quickest
        self._answers += 1
        trips.append(now)
        while trips and trips[0] < now - RTT_MEMORY:
            trips.popleft()
        while quickest and quickest[-1][2] >= trip:
            quickest.pop()
        quickest.append((self._answers, now, trip))
        while quickest[0][0] <= self._answers - RTT_SAMPLES or quickest[0][1] < now - RTT_MEMORY:
            quickest.popleft()
        # The least of many, so that one answer (a slow one) cannot make it too long; one
        # quicker than the others only makes the count stricter. None from a few answers.
        self.fastest_trip = quickest[0][2] if len(trips) >= RTT_LEAST else 0.0

    def _take(self, chat_id: int | str, weight: int) -> None:
        now = self._now()
        on_time = now - self._next_go < CATCH_UP  # a backlog, not an idle spell
        self._next_go = (self._next_go if on_time else now) + self._pace()
        self._in_flight += weight
        self._chat_busy.add(chat_id)
        if _is_group(chat_id):
            self._group_in_flight[chat_id] = self._group_in_flight.get(chat_id, 0) + weight

    def _chat_wait(self, chat_id: int | str, now: float) -> float:
        """Seconds before `chat_id` may have one more request; 0 when now."""
        if chat_id in self._chat_busy:
            return self.POLL
        wait = max(
            self._chat_answered.get(chat_id, -1e9) + self._per_chat - now,
            self._chat_held.get(chat_id, -1e9) - now,
        )
        if _is_group(chat_id):
            sent = self._group_answered.get(chat_id)
            while sent and sent[0] <= now - self._group_window:
                sent.popleft()
            count = (len(sent) if sent else 0) + self._group_in_flight.get(chat_id, 0)
            if count >= self._per_group:
                wait = max(wait, sent[0] + self._group_window - now if sent else self.POLL)
        return max(wait, 0.0)

    def _ahead(self, ticket: int, urgent: bool, now: float) -> bool:
        """Whether a request waiting longer, or more urgent, could go now instead (the
        first one looked at, as a rule: only a chat still busy makes it look further)."""
        for queue in self._waiting if not urgent else self._waiting[:1]:
            for other, chat in queue.items():
                if other == ticket:
                    return False
                if self._chat_wait(chat, now) <= 0:
                    return True
        return False

    def _pace(self) -> float:
        """Seconds between two requests: as many a second as the allowance holds with each
        counted as long as `_window_wait` counts it, on average (so that a backlog goes
        evenly, not in bursts each time answers leave the window), at most `rate`."""
        counted_for = WINDOW + max(0.0, self._round_trip - self.fastest_trip)
        return max(self._interval, counted_for / self.allowance)

    def _ready_ahead(self, ticket: int, urgent: bool, now: float) -> int:
        """How many waiting longer, or more urgent, may go as soon as the pace allows."""
        count = 0
        for queue in self._waiting if not urgent else self._waiting[:1]:
            for other, chat in queue.items():
                if other == ticket:
                    return count
                if self._chat_wait(chat, now) <= 0:
                    count += 1
        return count

    def _wait(self, chat_id: int | str | None, weight: int, *, ticket: int, urgent: bool) -> float:
        """Seconds to wait before this request may go: 0 when it may go now, < 0 when
        it may but one waiting longer (or more urgent) may too and goes first."""
        now = self._now()
        # Spread the requests evenly rather than letting them go in bursts.
        wait = max(
            self._paused_until - now,
            self._next_go - now,
            self._window_wait(weight, now),
            0.0 if chat_id is None else self._chat_wait(chat_id, now),
        )
        if wait > 0:
            if self._next_go - now >= wait and self._pace() > self._interval:
                self._pressed_at = now  # the allowance, through the pace, holds it back
            return wait
        return -1.0 if self._ahead(ticket, urgent, now) else 0.0

    def _window_wait(self, weight: int, now: float) -> float:
        answered = self._answered
        while answered and answered[0][0] <= now - WINDOW:
            self._answered_weight -= answered.popleft()[1]
        # Answered up to `horizon`: at Telegram more than a second before this one can be.
        horizon = now - WINDOW + self.fastest_trip
        counted = self._answered_weight + weight
        leaves = None  # when the first answer still counted stops counting
        for at, each in answered:  # the few answered within the fastest trip of leaving
            if at > horizon:
                leaves = at + WINDOW - self.fastest_trip
                break
            counted -= each
        if counted <= self.rate and self._in_flight + counted <= self.allowance:
            return 0.0
        self._pressed_at = now
        return leaves - now if leaves is not None else self.POLL

    def _forget(self, now: float) -> None:
        horizon = now - max(self._per_chat, WINDOW)
        self._chat_answered = {c: t for c, t in self._chat_answered.items() if t > horizon}
        self._chat_held = {c: t for c, t in self._chat_held.items() if t > now}
        self._group_answered = {
            c: d for c, d in self._group_answered.items() if d and d[-1] > now - self._group_window
        }
        self._group_in_flight = {c: n for c, n in self._group_in_flight.items() if n}


def _is_group(chat_id: int | str) -> bool:
    """Groups and channels have negative ids (or a public @username)."""
    return isinstance(chat_id, str) or chat_id < 0


class PacingMiddleware(BaseRequestMiddleware):
    """Every message-sending request of the Bot waits for a slot of the shared limiter;
    a request whose task holds a slot already (the outbox) goes straight on."""

    def __init__(self, limiter: RateLimiter, *, urgent: bool = True) -> None:
        self.limiter = limiter
        self._urgent = urgent

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        chat = paced_chat(method)
        if chat is None or self.limiter.holds(chat):
            return await make_request(bot, method)
        # A reply's few messages in a row to a person go together, as Telegram allows;
        # edits (a roll tapped fast) and groups keep to their pace.
        paced = isinstance(method, _EDITS) or _is_group(chat)
        async with self.limiter.slot(chat, weight(method), urgent=self._urgent, paced=paced):
            return await make_request(bot, method)
