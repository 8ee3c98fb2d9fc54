"""When notices are due: the day-before card, the join call, link nags, splitting, back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.reminders import (
    NoticeKind,
    backoff,
    link_missing_for_deans,
    link_nags,
    notice_key,
    notice_key_prefix,
    send_ahead,
    split_text,
    student_notices,
)

START = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)  # 08:30 Moscow
DAY, JOIN = timedelta(hours=24), timedelta(minutes=15)


def test_exam_gets_card_a_day_before_and_join_call_15_minutes_before() -> None:
    notices = student_notices(
        7, 3, "exam", start=START, now=START - timedelta(days=10), day_lead=DAY, join_lead=JOIN
    )
    assert [(n.kind, n.due_at, n.expires_at) for n in notices] == [
        (NoticeKind.DAY_BEFORE, START - DAY, START),
        (NoticeKind.JOIN_CALL, START - JOIN, START),
    ]
    assert notices[0].key == "day_before:7:3:20261223T0530Z"
    assert notices[0].payload == {"start": START.isoformat()}


def test_consultation_gets_only_the_short_reminder() -> None:
    notices = student_notices(
        7, 3, "consultation", start=START, now=START - DAY * 3, day_lead=DAY, join_lead=JOIN
    )
    assert [n.kind for n in notices] == [NoticeKind.JOIN_CALL]


def test_late_scheduling_sends_the_card_at_once() -> None:
    now = START - timedelta(hours=3)
    card, join = student_notices(7, 3, "exam", start=START, now=now, day_lead=DAY, join_lead=JOIN)
    assert card.due_at == now
    assert join.due_at == START - JOIN
    # Fourteen minutes before: both are due at once, neither is lost.
    now = START - timedelta(minutes=14)
    assert [
        n.due_at
        for n in student_notices(7, 3, "exam", start=START, now=now, day_lead=DAY, join_lead=JOIN)
    ] == [now, now]


def test_nothing_once_the_start_has_come() -> None:
    assert student_notices(7, 3, "exam", start=START, now=START, day_lead=DAY, join_lead=JOIN) == []
    assert (
        student_notices(
            7,
            3,
            "exam",
            start=START,
            now=START + timedelta(seconds=1),
            day_lead=DAY,
            join_lead=JOIN,
        )
        == []
    )
    assert link_nags(7, START, START) == []
    assert link_missing_for_deans(7, -100, START, now=START) is None


def test_a_moved_exam_gets_new_keys() -> None:
    moved = START + timedelta(hours=2)
    old = {
        n.key
        for n in student_notices(
            7, 3, "exam", start=START, now=START - DAY * 2, day_lead=DAY, join_lead=JOIN
        )
    }
    new = {
        n.key
        for n in student_notices(
            7, 3, "exam", start=moved, now=START - DAY * 2, day_lead=DAY, join_lead=JOIN
        )
    }
    assert not old & new


def test_notice_keys_keep_their_stored_shape() -> None:
    """Keys are stored: the builder writes exactly what the f-strings it replaced wrote."""
    [card, call] = student_notices(
        7, 3, "exam", start=START, now=START - DAY * 2, day_lead=DAY, join_lead=JOIN
    )
    assert card.key == "day_before:7:3:20261223T0530Z"
    assert call.key == "join_call:7:3:20261223T0530Z"
    assert notice_key(NoticeKind.TICKET, 7, 3, 12) == "ticket:7:3:12"
    assert notice_key_prefix(NoticeKind.ANNOUNCEMENT, 5) == "announcement:5:"
    assert notice_key(NoticeKind.ANNOUNCEMENT, 5, 9).startswith(
        notice_key_prefix(NoticeKind.ANNOUNCEMENT, 5)
    )


def test_link_nags_twice_a_day_from_48_hours() -> None:
    nags = link_nags(7, START, START - timedelta(days=5))
    assert [START - n.due_at for n in nags] == [timedelta(hours=h) for h in (48, 36, 24, 12)]
    assert len({n.key for n in nags}) == 4


def test_link_nags_already_past_collapse_into_one_now() -> None:
    now = START - timedelta(hours=30)  # the 48 h and 36 h slots are past
    nags = link_nags(7, START, now)
    assert [n.due_at for n in nags] == [
        now,
        START - timedelta(hours=24),
        START - timedelta(hours=12),
    ]
    assert nags[0].key.endswith(":1")  # the latest past slot stands for both


def test_dean_is_told_at_the_regulation_deadline() -> None:
    told = link_missing_for_deans(7, -100, START, now=START - DAY * 2)
    assert told is not None and told.due_at == START - DAY and told.expires_at == START


def test_split_text_keeps_lines_and_limits() -> None:
    assert split_text("short") == ["short"]
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(100))
    parts = split_text(text, limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    assert "\n".join(parts) == text
    huge = "y" * 9000
    assert split_text(huge) == ["y" * 4096, "y" * 4096, "y" * 808]
    assert "".join(split_text("a\n" + huge)).replace("\n", "") == "a" + huge


def test_backoff_doubles_up_to_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30) == timedelta(minutes=10)


# --- send_ahead: when join calls must start before they are due -------------------------

AHEAD_NOW = datetime(2026, 12, 28, 6, 30, tzinfo=UTC)


def _at(*seconds: float) -> list[datetime]:
    return [AHEAD_NOW + timedelta(seconds=s) for s in seconds]


def test_nothing_goes_early_when_the_rate_sends_everything_by_its_time() -> None:
    assert send_ahead([], AHEAD_NOW, 25) == (None, float("inf"))
    early, wait = send_ahead(_at(60, 60, 120), AHEAD_NOW, 1)
    # The 2nd due at 60 s needs 2 s of sending and the 5 s margin: it may wait 53 s.
    assert early is None and wait == pytest.approx(53)


def test_a_crowd_due_together_starts_as_early_as_its_size_needs() -> None:
    crowd = _at(*[300] * 3000)  # 3,000 due in five minutes, 10 a second: 300 s of sending
    early, _ = send_ahead(crowd, AHEAD_NOW, 10)
    assert early == AHEAD_NOW + timedelta(seconds=300)
    smaller = _at(*[300] * 2000)  # 200 s of sending: may wait 300 - 200 - 5 s
    early, wait = send_ahead(smaller, AHEAD_NOW, 10)
    assert early is None and wait == pytest.approx(95)


def test_a_later_crowd_is_not_pulled_forward_by_an_earlier_one() -> None:
    first = _at(*[10] * 100)  # 100 due in 10 s at 10/s: late already, must go now
    later = _at(*[600] * 100)  # 100 more in 10 min: time enough after the first
    early, wait = send_ahead(first + later, AHEAD_NOW, 10)
    assert early == AHEAD_NOW + timedelta(seconds=10)
    assert wait == pytest.approx(600 - 20 - 5)  # the 200th, with the 100 before it
