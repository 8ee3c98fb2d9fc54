"""How many roster-matching attempts a user has left (so record books cannot be guessed)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class AttemptBudget:
    left: int
    retry_at: datetime | None  # when the next attempt frees up, if none is left


def attempt_budget(
    failures: Iterable[datetime], now: datetime, limit: int, *, window: timedelta
) -> AttemptBudget:
    """Sliding window: failures older than `window` no longer count."""
    recent = sorted(t for t in failures if now - window < t <= now)
    left = max(limit - len(recent), 0)
    if left:
        return AttemptBudget(left=left, retry_at=None)
    # The oldest counted failure leaves the window first.
    return AttemptBudget(left=0, retry_at=recent[len(recent) - limit] + window)
