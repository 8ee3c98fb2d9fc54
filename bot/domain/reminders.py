"""When the bot owes whom which notice (the seed's table: links "не позднее 1 дня до даты
экзамена", "За 15 мин до начала экзамена осуществляет вход").

Pure: given an exam's start and "now", which notices should exist, when they are due and
when they become pointless. Keys name a notice by what it is about and for which start,
so planning again finds the same notices, and a moved exam gets new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.exams import EventKind
from bot.domain.imports import local_to_utc
from bot.domain.plans import DEADLINE_REMINDER_AT


class NoticeKind(StrEnum):
    DAY_BEFORE = "day_before"  # the exam card, T-24h
    JOIN_CALL = "join_call"  # join now, T-15 min
    LINK_NAG = "link_nag"  # to the teacher: the conference link is missing
    LINK_MISSING = "link_missing"  # to the dean's office: still missing at T-24h
    TIME_CHANGED = "time_changed"
    LINK_CHANGED = "link_changed"
    CANCELLED = "cancelled"
    STATEMENT = "statement"  # a new statement, to the dean's office
    STATEMENT_DECIDED = "statement_decided"  # the decision (or a question), to the student
    RESCHEDULE = "reschedule"  # to the teacher: confirm a student's new time
    STATEMENT_DOCS = "statement_docs"  # documents added later, to the dean's office
    RESCHEDULE_DECLINED = "reschedule_declined"  # to the dean's office: set another time
    # An e-mail copy of a statement (or of documents added later) to the faculty's address:
    # sent over SMTP, not Telegram (chat_id is 0).
    STATEMENT_EMAIL = "statement_email"
    # The exam-day console (bot.services.roll):
    OUTAGE_EXPIRED = "outage_expired"  # to the student: 15 minutes passed, sit another day
    OUTAGE_REPORT = "outage_report"  # to the dean's office: the same, with start and end
    GRADE_POSTED = "grade_posted"  # to the student, with the appeal deadline
    TICKET = "ticket"  # to the student: their ticket number
    SUBGROUP = "subgroup"  # to the student: their subgroup and start time
    WRITTEN_START = "written_start"  # to the student: sheet headings and the deadline
    WRITTEN_LEFT = "written_left"  # to the student: minutes left
    WRITTEN_MISSING = "written_missing"  # to the teacher: who has not handed in
    WORK_RECEIVED = "work_received"  # to the teacher: a student's work, labelled
    NO_SHOWS = "no_shows"  # to the dean's office: absent without a valid reason
    # The dean's desk (no exam behind them):
    ANNOUNCEMENT = "announcement"  # a dean's or admin's message to students
    RETENTION = "retention"  # to teachers: the new semester began, destroy the recordings
    # Individual study plans (no exam behind it either):
    PLAN_DEADLINE = "plan_deadline"  # to the student: a discipline's deadline is near
    # A handler's reply that Telegram failed after its update committed, stored as sent
    # (bot.notify.stored_replies): no exam, nothing to render.
    REPLY = "reply"


# Notices about a moment (a start, a new time or link, the time running out, a ticket
# drawn): worth little when late, so each must arrive by its due time and goes before
# anything that can wait. The others go by their expiry, or within FAIR_WAIT.
TIMED_KINDS = frozenset(
    {
        NoticeKind.JOIN_CALL,
        NoticeKind.TIME_CHANGED,
        NoticeKind.LINK_CHANGED,
        NoticeKind.CANCELLED,
        NoticeKind.TICKET,
        NoticeKind.SUBGROUP,
        NoticeKind.WRITTEN_START,
        NoticeKind.WRITTEN_LEFT,
        NoticeKind.OUTAGE_EXPIRED,
        NoticeKind.REPLY,  # a reply Telegram failed: the user is waiting for it now
    }
)
FAIR_WAIT = timedelta(minutes=10)
# Join calls may go this long before they are due (never before the conference link is
# posted: it is what they carry), when more fall due together than the rate can send by
# then; see send_ahead.
EARLY_KINDS = frozenset({NoticeKind.JOIN_CALL})
SEND_AHEAD = timedelta(minutes=10)
AHEAD_MARGIN = timedelta(seconds=5)


def send_ahead(
    deadlines: Sequence[datetime], now: datetime, rate: float
) -> tuple[datetime | None, float]:
    """When to start on notices with deadlines, sending `rate` a second, in deadline order.

    `deadlines` (ascending) are those of every notice still to go whose deadline is within
    SEND_AHEAD. The k-th can arrive by its deadline only if the k before it have gone, so
    if k / rate (and a margin) is more than the time left, those k must already be on
    their way, due or not. Returns the latest deadline for which that holds (None: nothing
    needs to go early) and the seconds until it next will for one that does not yet (inf).
    """
    margin = AHEAD_MARGIN.total_seconds()
    slacks = [
        (deadline, (deadline - now).total_seconds() - count / rate - margin)
        for count, deadline in enumerate(deadlines, 1)
    ]
    early_until = max((deadline for deadline, slack in slacks if slack <= 0), default=None)
    later = [slack for deadline, slack in slacks if early_until is None or deadline > early_until]
    return early_until, min(later, default=float("inf"))


# From T-48h the teacher is reminded at most twice a day while the link is missing.
NAG_OFFSETS = (timedelta(hours=48), timedelta(hours=36), timedelta(hours=24), timedelta(hours=12))
LINK_DEADLINE = timedelta(hours=24)  # the regulation: no later than one day before


@dataclass(frozen=True)
class Planned:
    kind: NoticeKind
    key: str
    due_at: datetime
    expires_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def notice_key(kind: str, *parts: object) -> str:
    """A notice's key: its kind, then what makes it one of a kind, joined by ":". Keys are
    stored (a notice is planned once per key, across restarts and replicas), so the shape
    never changes: each part is formatted as an f-string would."""
    return ":".join(format(part) for part in (kind, *parts))


def notice_key_prefix(kind: str, *parts: object) -> str:
    """The start every key of these parts has (for a query by prefix)."""
    return notice_key(kind, *parts) + ":"


def stamp(moment: datetime) -> str:
    """A start time as it appears in keys (UTC, minute precision)."""
    return moment.strftime("%Y%m%dT%H%MZ")


def student_notices(
    exam_id: int,
    student_id: int,
    event_kind: str,
    *,
    start: datetime,
    now: datetime,
    day_lead: timedelta,
    join_lead: timedelta,
) -> list[Planned]:
    """The card a day before (exams) and the join call; nothing once the start has passed.

    A notice whose time is already past but whose event is still ahead is due at once
    (an exam created or moved at short notice gets its card immediately).
    """
    if start <= now:
        return []
    occurrence = (exam_id, student_id, stamp(start))
    told = {"start": start.isoformat()}
    planned = []
    if event_kind == EventKind.EXAM:
        planned.append(
            Planned(
                NoticeKind.DAY_BEFORE,
                notice_key(NoticeKind.DAY_BEFORE, *occurrence),
                max(start - day_lead, now),
                start,
                told,
            )
        )
    planned.append(
        Planned(
            NoticeKind.JOIN_CALL,
            notice_key(NoticeKind.JOIN_CALL, *occurrence),
            max(start - join_lead, now),
            start,
            told,
        )
    )
    return planned


def link_nags(exam_id: int, start: datetime, now: datetime) -> list[Planned]:
    """Teacher reminders while the link is missing: T-48h, T-36h, T-24h, T-12h.

    Slots already past collapse into one reminder due now, so a teacher of an exam
    scheduled at short notice is told once, not four times at once.
    """
    if start <= now:
        return []
    planned: list[Planned] = []
    past = [i for i, offset in enumerate(NAG_OFFSETS) if start - offset <= now]
    for index, offset in enumerate(NAG_OFFSETS):
        if index in past and index != past[-1]:
            continue
        planned.append(
            Planned(
                NoticeKind.LINK_NAG,
                notice_key(NoticeKind.LINK_NAG, exam_id, stamp(start), index),
                max(start - offset, now),
                start,
            )
        )
    return planned


def link_missing_for_deans(
    exam_id: int, chat_id: int, start: datetime, *, now: datetime
) -> Planned | None:
    """The dean's office is told at T-24h if the link is still missing then."""
    if start <= now:
        return None
    return Planned(
        NoticeKind.LINK_MISSING,
        notice_key(NoticeKind.LINK_MISSING, exam_id, chat_id, stamp(start)),
        max(start - LINK_DEADLINE, now),
        start,
    )


def change_notice(
    kind: NoticeKind,
    exam_id: int,
    student_id: int,
    *,
    what: str,
    now: datetime,
    until: datetime,
    payload: dict[str, Any],
) -> Planned:
    """An update (new time, new link) for a student who was already told the old one.

    `what` names the new state (the new start, the new link's digest), so each change is
    announced once and announcing it again is a no-op.
    """
    return Planned(kind, notice_key(kind, exam_id, student_id, what), now, until, payload)


def _local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    # A clock change at that very hour: the moment the clocks would have shown it.
    return local_to_utc(day, at, tz) or datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def deadline_notices(
    student_id: int,
    item_id: int,
    deadline: date,
    *,
    now: datetime,
    lead_days: Sequence[int],
    tz: ZoneInfo,
    at: time = DEADLINE_REMINDER_AT,
) -> list[Planned]:
    """Reminders of a study plan's deadline, `lead_days` days before it at `at` in `tz`.

    The key holds the plan item (one student's discipline), the deadline and the lead, so
    planning again finds the same notices and a moved deadline gets new ones. Every
    reminder expires when the deadline day is over. Slots already past collapse into one
    reminder due now (the latest of them): a plan imported three days before a deadline
    reminds the student at once, not once per missed slot.
    """
    expires = _local_moment(deadline + timedelta(days=1), time(0), tz)
    if expires <= now:
        return []
    slots = [
        (lead, _local_moment(deadline - timedelta(days=lead), at, tz))
        for lead in sorted(set(lead_days), reverse=True)
    ]
    past = [lead for lead, due in slots if due <= now]
    payload = {"item_id": item_id, "deadline": deadline.isoformat()}
    return [
        Planned(
            NoticeKind.PLAN_DEADLINE,
            notice_key(NoticeKind.PLAN_DEADLINE, student_id, item_id, f"{deadline:%Y%m%d}", lead),
            max(due, now),
            expires,
            {**payload, "lead": lead},
        )
        for lead, due in slots
        if lead not in past or lead == past[-1]
    ]


def _safe_cut(line: str, limit: int) -> int:
    """Where to cut an over-long line of HTML: not inside a tag or an entity."""
    cut = limit
    tag, entity = line.rfind("<", 0, cut), line.rfind("&", 0, cut)
    if tag > line.rfind(">", 0, cut):
        cut = tag
    if entity > line.rfind(";", 0, cut):
        cut = min(cut, entity)
    return cut if cut > 0 else limit


def split_text(text: str, limit: int = 4096) -> list[str]:
    """Telegram's 4096-character limit: split at line breaks; a line longer than a message
    is cut where no tag or entity of the HTML is broken (tags never span our lines)."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            cut = _safe_cut(line, limit)
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return [part for part in parts if part.strip()]


def backoff(attempts: int, base: timedelta = timedelta(seconds=5)) -> timedelta:
    """Delay before retry number `attempts` (1, 2, …): doubling, at most ten minutes."""
    delay: timedelta = base * 2 ** max(attempts - 1, 0)
    return min(delay, timedelta(minutes=10))
