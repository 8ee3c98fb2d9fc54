"""When statements may be filed: time zone, absence with documents, appeal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.statements import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_STATEMENT_FILES,
    MAX_TEXT,
    MIN_APPEAL_TEXT,
    AppealProblem,
    AppealViolation,
    DraftProblem,
    StatementDraft,
    StatementKind,
    absence_deadline,
    absence_open,
    appeal_deadline,
    appeal_open,
    appeal_problem,
    document_accepted,
    documents_problem,
    draft_problem,
    room_for_documents,
    timezone_open,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)


def test_time_zone_statement_only_before_the_start() -> None:
    assert timezone_open(START, START - timedelta(seconds=1))
    assert not timezone_open(START, START)


def test_absence_until_days_after_the_exam() -> None:
    assert absence_deadline(START, 3) == START + timedelta(days=3)
    assert absence_open(START, START + timedelta(days=3) - timedelta(seconds=1), 3)
    assert not absence_open(START, START + timedelta(days=3), 3)
    assert not absence_open(START, START, 0)


@pytest.mark.parametrize(
    ("mime", "size", "problem"),
    [
        ("application/pdf", 1000, None),
        ("image/jpeg", MAX_FILE_BYTES, None),
        ("IMAGE/PNG", 10, None),
        ("image/jpeg", MAX_FILE_BYTES + 1, "size"),
        ("video/mp4", 10, "type"),
        (None, 10, "type"),
        ("application/x-msdownload", 10, "type"),
    ],
)
def test_documents_by_type_and_size(mime: str | None, size: int, problem: str | None) -> None:
    assert document_accepted(mime, size) == problem


def test_appeal_until_the_end_of_the_next_day_university_time() -> None:
    # Posted 10:00 Moscow on 23 Dec: open until 24 Dec 23:59:59.999999 Moscow (20:59 UTC).
    posted = datetime(2026, 12, 23, 7, 0, tzinfo=UTC)
    deadline = appeal_deadline(posted, MOSCOW)
    assert deadline == datetime(2026, 12, 24, 20, 59, 59, 999999, tzinfo=UTC)
    assert appeal_open(posted, deadline, MOSCOW)
    assert not appeal_open(posted, deadline + timedelta(microseconds=1), MOSCOW)
    assert not appeal_open(posted, posted - timedelta(seconds=1), MOSCOW)  # before the grade
    assert not appeal_open(None, posted, MOSCOW)  # no grade yet


def test_appeal_day_is_counted_in_the_university_zone() -> None:
    # 23:30 Moscow is still the 23rd there (20:30 UTC), although the 24th has begun further east.
    late = datetime(2026, 12, 23, 20, 30, tzinfo=UTC)
    assert appeal_deadline(late, MOSCOW) == datetime(2026, 12, 24, 20, 59, 59, 999999, tzinfo=UTC)
    # 00:10 Moscow on the 24th (21:10 UTC on the 23rd) is the next day: deadline the 25th.
    after_midnight = datetime(2026, 12, 23, 21, 10, tzinfo=UTC)
    assert appeal_deadline(after_midnight, MOSCOW).date() == datetime(2026, 12, 25).date()


def test_appeal_deadline_across_a_dst_change() -> None:
    # Posted Saturday 28 Mar 2026 in Berlin; the next day the clocks go forward an hour.
    posted = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)  # 12:00 CET
    deadline = appeal_deadline(posted, BERLIN)
    # The end of Sunday 29 Mar is 23:59:59.999999 CEST = 21:59:59.999999 UTC.
    assert deadline == datetime(2026, 3, 29, 21, 59, 59, 999999, tzinfo=UTC)
    # And in autumn (25 Oct 2026 back to CET): 22:59:59.999999 UTC.
    autumn = appeal_deadline(datetime(2026, 10, 24, 10, 0, tzinfo=UTC), BERLIN)
    assert autumn == datetime(2026, 10, 25, 22, 59, 59, 999999, tzinfo=UTC)


# --- the appeal names a violation ---------------------------------------------------------

DISAGREEMENT = "Я не согласен с выставленной оценкой и прошу её пересмотреть"
DESCRIBED = "Билет не был озвучен, преподаватель сразу начал задавать вопросы по теме."


def test_disagreement_alone_is_no_appeal() -> None:
    assert len(DISAGREEMENT) >= MIN_APPEAL_TEXT  # long enough: the length is not the rule
    assert appeal_problem(None, DISAGREEMENT) is AppealProblem.NO_VIOLATION
    assert appeal_problem("", DISAGREEMENT) is AppealProblem.NO_VIOLATION


def test_an_unknown_violation_is_no_choice() -> None:
    # A forged or stale button value must not pass for a choice.
    assert appeal_problem("grade", DESCRIBED) is AppealProblem.NO_VIOLATION
    assert appeal_problem("TICKET", DESCRIBED) is AppealProblem.NO_VIOLATION


@pytest.mark.parametrize("violation", list(AppealViolation))
def test_a_chosen_and_described_violation_is_an_appeal(violation: AppealViolation) -> None:
    assert appeal_problem(violation.value, DESCRIBED) is None


def test_a_chosen_violation_still_needs_a_description() -> None:
    assert appeal_problem("ticket", "") is AppealProblem.TOO_SHORT
    assert appeal_problem("ticket", " " * 40) is AppealProblem.TOO_SHORT
    assert appeal_problem("ticket", "x" * (MIN_APPEAL_TEXT - 1)) is AppealProblem.TOO_SHORT
    assert appeal_problem("ticket", "x" * MIN_APPEAL_TEXT) is None


def test_violation_values_fit_the_column() -> None:
    assert max(len(v.value) for v in AppealViolation) <= 32


SCAN = {"kind": "photo", "file_id": "F1", "file_unique_id": "U1", "size": 10}


def test_a_draft_is_read_from_the_dialogue_and_judged_once() -> None:
    absence = {"exam_id": 7, "kind": "absence", "reason": "illness", "text": "ОРВИ & <b>"}
    assert draft_problem(StatementDraft.from_form(absence)) is DraftProblem.NO_DOCUMENTS
    filed = StatementDraft.from_form({**absence, "files": [SCAN] * (MAX_FILES + 3)})
    assert filed.exam_id == 7 and filed.kind is StatementKind.ABSENCE
    assert len(filed.files) == MAX_FILES and filed.files[0].file_id == "F1"
    assert draft_problem(filed) is None
    assert draft_problem(StatementDraft.from_form({**absence, "reason": None})) is (
        DraftProblem.NO_REASON
    )
    too_long = {**absence, "files": [SCAN], "text": "я" * (MAX_TEXT + 1)}
    assert draft_problem(StatementDraft.from_form(too_long)) is DraftProblem.TEXT_TOO_LONG
    assert draft_problem(StatementDraft.from_form({"exam_id": 7, "kind": "bogus"})) is (
        DraftProblem.NO_KIND
    )
    assert draft_problem(StatementDraft.from_form({"exam_id": 7, "kind": "timezone"})) is (
        DraftProblem.NO_ZONE
    )
    appeal = {"exam_id": 7, "kind": "appeal", "violation": "ticket", "text": "коротко"}
    assert draft_problem(StatementDraft.from_form(appeal)) is DraftProblem.TOO_SHORT
    # An appeal needs no documents; a violation on another kind is not kept.
    assert documents_problem(StatementKind.APPEAL, 0) is None
    assert StatementDraft.from_form({**absence, "violation": "ticket"}).violation is None


@pytest.mark.parametrize(
    ("held", "room"),
    [
        (0, MAX_FILES),
        (MAX_FILES, MAX_FILES),
        (15, 5),
        (MAX_STATEMENT_FILES - 1, 1),
        (MAX_STATEMENT_FILES, 0),
        (MAX_STATEMENT_FILES + 3, 0),
    ],
)
def test_a_follow_up_adds_at_most_what_the_statement_has_room_for(held: int, room: int) -> None:
    assert room_for_documents(held) == room
