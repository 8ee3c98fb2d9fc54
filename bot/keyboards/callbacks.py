"""Callback data classes. Whatever they carry is re-checked on the server: it can be forged."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from bot.db.models import MAX_ID

# A row's id as the database can hold it. Anything else is forged: it fails when the data
# is parsed, so the press falls through to "no longer valid" instead of reaching a query
# it would break (an int past 64 bits stops even SQLite).
Id = Annotated[int, Field(ge=0, le=MAX_ID)]


class JoinCB(CallbackData, prefix="join"):
    """Confirming the roster entry found; the entry itself is kept in the FSM, not here."""

    confirm: bool


class LangCB(CallbackData, prefix="lang"):
    code: str


class TzCB(CallbackData, prefix="tz"):
    zone: str


class ExamCB(CallbackData, prefix="ex"):
    action: str  # "link" | "moodle"
    exam_id: Id


class BindCB(CallbackData, prefix="bind"):
    faculty_id: Id


class StmtExamCB(CallbackData, prefix="st-exam"):
    exam_id: Id


class StmtKindCB(CallbackData, prefix="st-kind"):
    kind: str


class StmtReasonCB(CallbackData, prefix="st-why"):
    reason: str


class StmtViolationCB(CallbackData, prefix="st-viol"):
    violation: str  # an AppealViolation; checked again when the statement is sent


class StmtZoneCB(CallbackData, prefix="st-tz"):
    """Take a time-zone statement's zone as one's own (the service checks the statement
    is the presser's)."""

    statement_id: Id


class StmtActCB(CallbackData, prefix="st-act"):
    action: str  # "done" (no more files) | "send" | "edit" | "cancel" | "skip"


class StmtWithdrawCB(CallbackData, prefix="st-wd"):
    statement_id: Id


class StmtAddDocsCB(CallbackData, prefix="st-add"):
    statement_id: Id


class RescheduleCB(CallbackData, prefix="st-move"):
    statement_id: Id
    confirm: bool


class DecideCB(CallbackData, prefix="st-dec"):
    action: str  # "approve" | "reject" | "more"
    statement_id: Id


class RollCB(CallbackData, prefix="rl"):
    """The exam-day console. `value` carries the mark, grade, method or numbers chosen;
    the service checks the exam is the presser's and the student is in it."""

    action: str
    exam_id: Id
    student_id: Id = 0
    page: Id = 0
    value: str = ""


class ReportCB(CallbackData, prefix="rep"):
    kind: str  # additional | statements | attendance


class AnnounceCB(CallbackData, prefix="ann"):
    target: str  # group | faculty | exam; re-checked against the author's faculties
    target_id: Id


class AnnounceActCB(CallbackData, prefix="ann-act"):
    action: str  # send | cancel


class MyDataCB(CallbackData, prefix="my"):
    action: str  # file | unlink | confirm | keep


class Listing(StrEnum):
    """The lists shown a page at a time (◀ n/N ▶)."""

    INBOX = "inbox"
    ADDITIONAL = "add"
    STATEMENTS = "stmts"
    EXAMS = "exams"


class PageCB(CallbackData, prefix="pg"):
    """A page of a list; who may see which list is checked again on every press."""

    listing: Listing
    page: Id
