"""`python -m bot run` with the send limiter out of the way, for bench/updates.py's cost
mode only: there the fake Bot API enforces no flood limits, and what is measured is the
bot's own cost per update, not Telegram's 30 messages a second (which the bot's limiter,
bot.notify.pacing, otherwise keeps it to). Nothing in bot/ knows of this: the limiter the
application builds is swapped for one that never waits, before the bot starts.

    TELEGRAM_API_URL=... BOT_TOKEN=... DATABASE_URL=... python bench/unpaced_bot.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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
    sys.exit(main(["run"]))
