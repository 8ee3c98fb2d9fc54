"""`python -m bot run` with the send limiter out of the way, for bench/updates.py's cost
mode only: there the fake Bot API enforces no flood limits, and what is measured is the
bot's own cost per update, not Telegram's 30 messages a second (which the bot's limiter,
bot.notify.pacing, otherwise keeps it to). Nothing in bot/ knows of this: the limiter the
application builds is swapped for one that never waits, before the bot starts.

    TELEGRAM_API_URL=... BOT_TOKEN=... DATABASE_URL=... python bench/unpaced_bot.py

With BENCH_PROFILE=<file> the bot runs under cProfile from its first update on (start-up
left out) and writes the statistics there when it stops (read them with
`python -m pstats <file>`): where an update's CPU goes.
"""

from __future__ import annotations

import cProfile
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram import Dispatcher  # noqa: E402  (after the path tweak, so `bot` imports)

import bot.app  # noqa: E402  (after the path tweak, so `bot` imports)
from bot.__main__ import main  # noqa: E402
from bot.notify.pacing import RateLimiter  # noqa: E402

UNBOUNDED = 1_000_000.0  # messages a second: never the bottleneck


class Unpaced(RateLimiter):
    """No overall rate, no per-chat gap, no group minute worth waiting for."""

    def __init__(self, rate: float, per_chat: float = 0.0, **kwargs: Any) -> None:
        super().__init__(UNBOUNDED, 0.0, per_group=1_000_000, adaptive=False)


if __name__ == "__main__":
    bot.app.RateLimiter = Unpaced  # type: ignore[attr-defined]  # swapped where app uses it
    profile_to = os.environ.get("BENCH_PROFILE")
    if not profile_to:
        sys.exit(main(["run"]))
    profiler = cProfile.Profile()
    feed_update = Dispatcher.feed_update

    async def profiled(self: Dispatcher, *args: Any, **kwargs: Any) -> Any:
        profiler.enable()  # from the first update on; again is harmless
        return await feed_update(self, *args, **kwargs)

    Dispatcher.feed_update = profiled  # type: ignore[method-assign]
    try:
        code = main(["run"])
    finally:
        profiler.disable()
        profiler.dump_stats(profile_to)
    sys.exit(code)
