"""Statements to the dean's office (§2.7 and the seed's table): what may be filed when.

- time zone: until the exam starts;
- absence (illness, family, other) with documents: any time before the exam, and until
  ABSENCE_DOCS_DAYS days after it, so that documents can follow;
- appeal: only after the grade, until the end of the next day (built with the grades).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class StatementKind(StrEnum):
    TIMEZONE = "timezone"
    ABSENCE = "absence"
    APPEAL = "appeal"


class StatementStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Decision(StrEnum):
    """What the dean's office decides on a statement: approving and rejecting close it,
    asking for more keeps it open."""

    APPROVE = "approve"
    REJECT = "reject"
    MORE = "more"


class AbsenceReason(StrEnum):
    ILLNESS = "illness"
    FAMILY = "family"
    OTHER = "other"


# Telegram lets a bot download files up to 20 MB; the regulation asks for scans or photos.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILES = 10  # at once: with the statement, or in one follow-up
MAX_STATEMENT_FILES = 2 * MAX_FILES  # a statement's documents in all, follow-ups included
ACCEPTED_DOCUMENT_TYPES = frozenset(
    {"application/pdf", "image/jpeg", "image/png", "image/heic", "image/heif", "image/webp"}
)
MAX_TEXT = 2000
# The dean's office's reason or question, as the student is to read it whole.
MAX_COMMENT = 1000
MAX_WINDOW = 255  # a time-zone statement's preferred time (the column's length)


def room_for_documents(held: int) -> int:
    """How many documents one follow-up may still add to a statement holding `held`."""
    return max(0, min(MAX_FILES, MAX_STATEMENT_FILES - held))


def timezone_open(start: datetime, now: datetime) -> bool:
    return now < start


def absence_deadline(start: datetime, docs_days: int) -> datetime:
    return start + timedelta(days=docs_days)


def absence_open(start: datetime, now: datetime, docs_days: int) -> bool:
    return now < absence_deadline(start, docs_days)


def document_accepted(mime_type: str | None, size: int | None) -> str | None:
    """None if the file may be attached, else why not: "type" or "size"."""
    if (size or 0) > MAX_FILE_BYTES:
        return "size"
    if (mime_type or "").lower() not in ACCEPTED_DOCUMENT_TYPES:
        return "type"
    return None


MIN_APPEAL_TEXT = 30  # the appeal must name the concrete violation of the procedure


class AppealViolation(StrEnum):
    """What part of the procedure an appeal says was violated: the steps of the table's
    procedures (oral interview, computer test, written work) a student can witness."""

    IDENTIFICATION = "identification"  # identity checked by record book or passport
    TICKET = "ticket"  # the ticket or task handed out as announced
    PREPARATION = "preparation"  # the time to prepare (or to write) announced and given
    TECHNICAL = "technical"  # §2.8: a failure not fixed in 15 minutes ends the attempt
    RECORDING = "recording"  # the conference recorded from the opening to the closing text
    OTHER = "other"  # another step of the procedure, described in the text


class AppealProblem(StrEnum):
    NO_VIOLATION = "no_violation"  # nothing (or something unknown) chosen
    TOO_SHORT = "too_short"  # the description does not say what happened


def appeal_problem(violation: str | None, text: str) -> AppealProblem | None:
    """None if the appeal may be sent: a violation of the procedure is chosen and described.

    Disagreement with the grade alone ("Я не согласен с выставленной оценкой и прошу её
    пересмотреть") is no ground under the table ("указав на конкретное нарушение в
    процедуре"), so the choice comes first, whatever the text says.
    """
    if violation not in AppealViolation._value2member_map_:
        return AppealProblem.NO_VIOLATION
    if len(text.strip()) < MIN_APPEAL_TEXT:
        return AppealProblem.TOO_SHORT
    return None


class DraftProblem(StrEnum):
    """Why a statement draft may not be filed (the handler asks at each step; the service
    asks once more of the whole draft, whoever hands it over)."""

    NO_KIND = "no_kind"
    NO_ZONE = "no_zone"  # a time-zone statement names the zone
    NO_REASON = "no_reason"  # an absence names the reason and describes it
    TEXT_TOO_LONG = "text_too_long"
    NO_DOCUMENTS = "no_documents"  # an absence comes with supporting documents
    NO_VIOLATION = AppealProblem.NO_VIOLATION.value
    TOO_SHORT = AppealProblem.TOO_SHORT.value


@dataclass(frozen=True)
class DraftFile:
    kind: str  # "photo" or "document"
    file_id: str
    file_unique_id: str
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    media_group_id: str | None = None


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class StatementDraft:
    """A statement as the student composed it, before it is filed."""

    exam_id: int
    kind: StatementKind | None
    reason: str | None = None
    violation: str | None = None  # an appeal's only
    text: str = ""
    time_zone: str | None = None
    window: str | None = None
    files: tuple[DraftFile, ...] = ()

    @classmethod
    def from_form(cls, data: Mapping[str, Any]) -> StatementDraft:
        """From the dialogue's stored answers (the FSM data); files past MAX_FILES are
        dropped, as the dialogue never takes more."""
        try:
            kind: StatementKind | None = StatementKind(str(data.get("kind")))
        except ValueError:
            kind = None
        return cls(
            exam_id=int(data.get("exam_id") or 0),
            kind=kind,
            reason=_optional(data.get("reason")),
            violation=_optional(data.get("violation")) if kind is StatementKind.APPEAL else None,
            text=str(data.get("text") or ""),
            time_zone=_optional(data.get("time_zone")),
            window=_optional(data.get("window")),
            files=tuple(
                DraftFile(
                    kind=str(f["kind"]),
                    file_id=str(f["file_id"]),
                    file_unique_id=str(f["file_unique_id"]),
                    file_name=f.get("file_name"),
                    mime_type=f.get("mime_type"),
                    size=f.get("size"),
                    media_group_id=f.get("media_group_id"),
                )
                for f in list(data.get("files", []))[:MAX_FILES]
            ),
        )


def text_problem(text: str) -> DraftProblem | None:
    return DraftProblem.TEXT_TOO_LONG if len(text) > MAX_TEXT else None


def documents_problem(kind: StatementKind | None, count: int) -> DraftProblem | None:
    """An absence needs at least one document (the table: "с подтверждающими
    документами"); the other kinds may come without."""
    return DraftProblem.NO_DOCUMENTS if kind is StatementKind.ABSENCE and count == 0 else None


def draft_problem(draft: StatementDraft) -> DraftProblem | None:
    """None if the draft may be filed: every rule of the dialogue, asked of the whole."""
    kind = draft.kind
    if kind is None:
        return DraftProblem.NO_KIND
    if kind is StatementKind.TIMEZONE and not draft.time_zone:
        return DraftProblem.NO_ZONE
    if kind is StatementKind.ABSENCE and not (draft.reason and draft.text):
        return DraftProblem.NO_REASON
    if kind is StatementKind.APPEAL:
        appeal = appeal_problem(draft.violation, draft.text)
        if appeal is not None:
            return DraftProblem(appeal.value)
    return text_problem(draft.text) or documents_problem(kind, len(draft.files))


def appeal_deadline(grade_posted_at: datetime, zone: ZoneInfo) -> datetime:
    """The end of the day after the grade was posted (23:59:59.999999), in the university's
    zone, as an aware UTC moment: the seed's table, "не позднее следующего дня"."""
    local_day = grade_posted_at.astimezone(zone).date() + timedelta(days=1)
    next_midnight = datetime.combine(local_day + timedelta(days=1), time(0, 0), tzinfo=zone)
    # Via UTC: wall-clock arithmetic across a DST change would be off by the shift.
    return next_midnight.astimezone(UTC) - timedelta(microseconds=1)


def appeal_open(grade_posted_at: datetime | None, now: datetime, zone: ZoneInfo) -> bool:
    return grade_posted_at is not None and grade_posted_at <= now <= appeal_deadline(
        grade_posted_at, zone
    )
