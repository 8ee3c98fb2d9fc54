"""Callback data classes. Whatever they carry is re-checked on the server: it can be forged."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class JoinCB(CallbackData, prefix="join"):
    """Confirming the roster entry found; the entry itself is kept in the FSM, not here."""

    confirm: bool


class LangCB(CallbackData, prefix="lang"):
    code: str


class TzCB(CallbackData, prefix="tz"):
    zone: str


class ExamCB(CallbackData, prefix="ex"):
    action: str  # "link" | "moodle"
    exam_id: int


class BindCB(CallbackData, prefix="bind"):
    faculty_id: int


class StmtExamCB(CallbackData, prefix="st-exam"):
    exam_id: int


class StmtKindCB(CallbackData, prefix="st-kind"):
    kind: str


class StmtReasonCB(CallbackData, prefix="st-why"):
    reason: str


class StmtActCB(CallbackData, prefix="st-act"):
    action: str  # "done" (no more files) | "send" | "edit" | "cancel" | "skip"


class StmtWithdrawCB(CallbackData, prefix="st-wd"):
    statement_id: int


class StmtAddDocsCB(CallbackData, prefix="st-add"):
    statement_id: int


class RescheduleCB(CallbackData, prefix="st-move"):
    statement_id: int
    confirm: bool


class DecideCB(CallbackData, prefix="st-dec"):
    action: str  # "approve" | "reject" | "more"
    statement_id: int


class RollCB(CallbackData, prefix="rl"):
    """The exam-day console. `value` carries the mark, grade, method or numbers chosen;
    the service checks the exam is the presser's and the student is in it."""

    action: str
    exam_id: int
    student_id: int = 0
    page: int = 0
    value: str = ""


class ReportCB(CallbackData, prefix="rep"):
    kind: str  # additional | statements | attendance


class AnnounceCB(CallbackData, prefix="ann"):
    target: str  # group | faculty | exam; re-checked against the author's faculties
    target_id: int


class AnnounceActCB(CallbackData, prefix="ann-act"):
    action: str  # send | cancel


class MyDataCB(CallbackData, prefix="my"):
    action: str  # file | unlink | confirm | keep
