"""Individual study plans (ИУП, the second regulation's appendix 1): the share of hours
held with distance technologies, and the reminder days before a discipline's deadline.

Pure: no database, no aiogram. The plan template's rows are read in `bot.domain.imports`;
`bot.services.plans` feeds a student's stored plan through the share rule here.

The rule: in a master's programme, the hours held with distance-learning technologies may
be at most 70 % of the plan's hours, or 50 % where the programme has no part-time form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from fractions import Fraction

DEFAULT_DISTANCE_LIMIT = 0.7  # master's programmes that also run part-time
NO_PART_TIME_LIMIT = 0.5  # master's programmes without a part-time form
DEFAULT_REMINDER_DAYS = (7, 1)
MAX_REMINDER_DAYS = 365
# Deadline reminders go out at this university time on their day: a working hour, not
# midnight, so nobody is woken by a reminder about a deadline a week away.
DEADLINE_REMINDER_AT = time(9, 0)


class ProgrammeLevel(StrEnum):
    BACHELOR = "bachelor"
    SPECIALIST = "specialist"
    MASTER = "master"
    POSTGRADUATE = "postgraduate"


# Keys are compared after bot.domain.imports.name_key (casefolded, ё → е).
LEVEL_VALUES = {
    "bachelor": ProgrammeLevel.BACHELOR,
    "бакалавриат": ProgrammeLevel.BACHELOR,
    "бакалавр": ProgrammeLevel.BACHELOR,
    "specialist": ProgrammeLevel.SPECIALIST,
    "специалитет": ProgrammeLevel.SPECIALIST,
    "master": ProgrammeLevel.MASTER,
    "магистратура": ProgrammeLevel.MASTER,
    "магистр": ProgrammeLevel.MASTER,
    "postgraduate": ProgrammeLevel.POSTGRADUATE,
    "аспирантура": ProgrammeLevel.POSTGRADUATE,
}

_LIMIT = re.compile(r"(\d{1,3}(?:[.,]\d{1,4})?)\s*(%?)")
_DAYS_SEPARATORS = re.compile(r"[,; ]+")


@dataclass(frozen=True, slots=True)
class PlanHours:
    """One discipline of a plan, as far as the share rule is concerned."""

    lecture: int = 0
    lab: int = 0
    practice: int = 0
    distance: int = 0  # of the hours above, those held with distance technologies
    level: str = ""  # a ProgrammeLevel value, or "" when the file did not say
    limit: float | None = None  # the row's own limit (a fraction), overriding the level's

    @property
    def total(self) -> int:
        return self.lecture + self.lab + self.practice


@dataclass(frozen=True, slots=True)
class ShareExcess:
    """A student whose plan holds more distance-learning hours than allowed."""

    record_book: str
    full_name: str
    distance: int
    total: int
    limit: Fraction


def exact(limit: float | Fraction) -> Fraction:
    """A limit as an exact fraction: 0.7 is 7/10, not 0.6999999999999999555910790149937.

    Hours are whole numbers, so with exact fractions 49 of 70 hours is exactly 70 % (float
    arithmetic makes 0.7 * 70 = 48.99999999999999 and would call it over the limit).
    """
    return Fraction(str(limit)) if isinstance(limit, float) else Fraction(limit)


def distance_share_exceeded(items: Iterable[PlanHours], limit: float | Fraction) -> bool:
    """Whether the distance hours are more than `limit` of all the plan's hours.

    "At most 70 %" allows exactly 70 %. A plan without hours has no share to exceed.
    """
    distance = total = 0
    for item in items:
        distance += item.distance
        total += item.total
    return total > 0 and Fraction(distance, total) > exact(limit)


def applicable_limit(items: Iterable[PlanHours], default: float | Fraction) -> Fraction | None:
    """The limit a student's plan is held to; None when the rule does not apply.

    A limit written in the plan wins (the strictest, if rows disagree). Otherwise a
    master's plan, or one whose level the file does not give (the setting is the
    university's choice), gets `default`; a plan of another level has no limit.
    """
    lines = list(items)
    explicit = [exact(item.limit) for item in lines if item.limit is not None]
    if explicit:
        return min(explicit)
    if any(item.level in ("", ProgrammeLevel.MASTER) for item in lines):
        return exact(default)
    return None


def share_excess(
    record_book: str, full_name: str, items: Iterable[PlanHours], *, default: float | Fraction
) -> ShareExcess | None:
    """The student's excess over the limit that applies to them, or None if within it."""
    lines = list(items)
    limit = applicable_limit(lines, default)
    if limit is None or not distance_share_exceeded(lines, limit):
        return None
    return ShareExcess(
        record_book,
        full_name,
        sum(item.distance for item in lines),
        sum(item.total for item in lines),
        limit,
    )


def parse_limit(value: str) -> float | None:
    """A share limit as typed in a plan: "70", "70 %", "0.7" or "0,7"; None if not one.

    Numbers above 1 are percentages. The result is a fraction in (0, 1].
    """
    m = _LIMIT.fullmatch(value.strip())
    if m is None:
        return None
    number = Fraction(m[1].replace(",", "."))
    if m[2] or number > 1:
        number /= 100
    if not 0 < number <= 1:
        return None
    return float(number)


def parse_reminder_days(value: str) -> tuple[int, ...]:
    """PLAN_REMINDER_DAYS: "7,1" → (7, 1), latest reminder last; ValueError if unreadable.

    0 means the deadline day itself; repeats are dropped.
    """
    parts = [p for p in _DAYS_SEPARATORS.split(value.strip()) if p]
    try:
        days = {int(p) for p in parts}
    except ValueError as exc:
        raise ValueError("must be whole days separated by commas, such as 7,1") from exc
    if any(not 0 <= d <= MAX_REMINDER_DAYS for d in days):
        raise ValueError(f"must be days from 0 to {MAX_REMINDER_DAYS}, such as 7,1")
    return tuple(sorted(days, reverse=True))
