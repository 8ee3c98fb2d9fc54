"""Callback data classes. Whatever they carry is re-checked on the server: it can be forged.

Every action is a `StrEnum` member and every field has a type: a value outside them cannot
be packed (pydantic refuses it when the data is built), and a forged or outdated string
fails when it is parsed, so the press falls through to the polite "no longer valid"
(bot.handlers.replies.stale) and reaches no handler. Each action has its own
handler, registered with `XCB.filter(F.action == XAction.Y)`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from bot.db.models import MAX_ID
from bot.domain.announcements import Target
from bot.domain.reports import ReportKind
from bot.domain.roll import Grade, MarkAction, TicketMethod
from bot.domain.statements import AbsenceReason, AppealViolation, StatementKind

# A row's id as the database can hold it. Anything else is forged: it fails when the data
# is parsed, so the press falls through to "no longer valid" instead of reaching a query
# it would break (an int past 64 bits stops even SQLite).
Id = Annotated[int, Field(ge=0, le=MAX_ID)]


class JoinCB(CallbackData, prefix="join"):
    """Confirming the roster entry found; the entry itself is kept in the FSM, not here."""

    confirm: bool


class LangCB(CallbackData, prefix="lang"):
    code: Literal["ru", "en"]  # bot.config.SUPPORTED_LOCALES


class TzCB(CallbackData, prefix="tz"):
    zone: str


class ExamAction(StrEnum):
    """Which of the exam's links the teacher sets (the values are bot.services.schedule's
    LinkField)."""

    LINK = "link"
    MOODLE = "moodle"


class ExamCB(CallbackData, prefix="ex"):
    action: ExamAction
    exam_id: Id


class BindCB(CallbackData, prefix="bind"):
    faculty_id: Id


class StmtExamCB(CallbackData, prefix="st-exam"):
    exam_id: Id


class StmtKindCB(CallbackData, prefix="st-kind"):
    kind: StatementKind


class StmtReasonCB(CallbackData, prefix="st-why"):
    reason: AbsenceReason


class StmtViolationCB(CallbackData, prefix="st-viol"):
    violation: AppealViolation


class StmtZoneCB(CallbackData, prefix="st-tz"):
    """Take a time-zone statement's zone as one's own (the service checks the statement
    is the presser's)."""

    statement_id: Id


class StmtZonePickCB(CallbackData, prefix="st-zone"):
    """A zone chosen from the list while filing a time-zone statement (parsed again)."""

    zone: str


class StmtAction(StrEnum):
    DONE = "done"  # no more files
    SEND = "send"
    EDIT = "edit"
    CANCEL = "cancel"
    SKIP = "skip"  # no text
    ZONE = "zone"  # keep the zone already known


class StmtActCB(CallbackData, prefix="st-act"):
    action: StmtAction


class StmtWithdrawCB(CallbackData, prefix="st-wd"):
    statement_id: Id


class StmtAddDocsCB(CallbackData, prefix="st-add"):
    statement_id: Id


class RescheduleCB(CallbackData, prefix="st-move"):
    statement_id: Id
    confirm: bool


class DecideAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    MORE = "more"  # ask the student for more
    RETIME = "retime"  # a time-zone statement: propose another time


class DecideCB(CallbackData, prefix="st-dec"):
    action: DecideAction
    statement_id: Id


class InboxOpenCB(CallbackData, prefix="st-open"):
    """An undecided statement's card, sent again from /inbox (the service checks the
    presser's faculty)."""

    statement_id: Id


class RollAction(StrEnum):
    """The exam-day console's buttons that carry nothing but where they were pressed (the
    exam, the student, the page). The values are short: callback data has 64 bytes."""

    SHOW = "show"  # the roll (a page of it)
    CARD = "card"  # a student's card
    REST_ABSENT = "rest"
    TICKET_MENU = "tickets"
    SPLIT_MENU = "split"  # how many subgroups?
    WRITTEN_MENU = "written"
    TEXTS = "texts"
    CONFIRM = "confirm"
    SHEET = "sheet"


# A page of the roll, and the console's small numbers (a ticket count, subgroups, minutes):
# a forged number past these fails when the data is parsed; one within them is still
# refused by the service when it does not fit the exam.
Page = Annotated[int, Field(ge=0, le=10_000)]
Small = Annotated[int, Field(ge=0, le=1_000)]


class RollCB(CallbackData, prefix="rl"):
    """The exam-day console's plain buttons. Every console button (this class and the
    typed ones below) carries `exam_id` and `page`: the service checks the exam is the
    presser's and the student is in it."""

    action: RollAction
    exam_id: Id
    student_id: Id = 0
    page: Page = 0


class RollMarkCB(CallbackData, prefix="rm"):
    """A mark set from the roll (the name: present), or from the card (`card`: the card is
    drawn again, not the roll)."""

    exam_id: Id
    student_id: Id
    page: Page
    mark: MarkAction
    card: bool = False


class RollGradeCB(CallbackData, prefix="rg"):
    exam_id: Id
    student_id: Id
    page: Page
    grade: Grade


class RollTicketsCB(CallbackData, prefix="rt"):
    """Tickets handed out by `method` out of `count` (a list is sent as a message next)."""

    exam_id: Id
    page: Page
    method: TicketMethod
    count: Small = 0


class RollPartsCB(CallbackData, prefix="rp"):
    """How many subgroups were chosen: asks how far apart they start."""

    exam_id: Id
    page: Page
    parts: Small


class RollSplitCB(CallbackData, prefix="rs"):
    exam_id: Id
    page: Page
    parts: Small
    minutes: Small  # apart


class RollWrittenCB(CallbackData, prefix="rw"):
    exam_id: Id
    page: Page
    minutes: Small  # the written work's length


class RollLegacyCB(CallbackData, prefix="rl"):
    """A console button as the version before the typed ones packed it,
    `rl:<action>:<exam>:<student>:<page>:<value>` (one field more than `RollCB`, so neither
    parses the other's data). Such buttons stay in chats after a deploy: a press on one
    redraws the console as it is now and does nothing else (bot.handlers.teacher.roll).
    Never packed by the bot; its actions are the old ones, nothing else parses."""

    action: Literal[
        "show", "card", "rest", "mark", "cmark", "grade", "tickets", "tk", "split", "sp",
        "written", "wr", "texts", "confirm", "sheet",
    ]  # fmt: skip
    exam_id: Id
    student_id: Id = 0
    page: Page = 0
    value: Annotated[str, Field(max_length=32)] = ""

    @property
    def on_card(self) -> bool:
        """The button was on a student's card (or opened it): the card is drawn again."""
        return self.action in ("card", "cmark", "grade") and self.student_id > 0


# Every console button: each carries `exam_id` and `page` (bot.handlers.teacher.roll).
ROLL_BUTTONS: tuple[type[CallbackData], ...] = (
    RollCB,
    RollMarkCB,
    RollGradeCB,
    RollTicketsCB,
    RollPartsCB,
    RollSplitCB,
    RollWrittenCB,
)
# Every press the console answers: its buttons, and the old form's still in chats.
ROLL_PRESSES: tuple[type[CallbackData], ...] = (*ROLL_BUTTONS, RollLegacyCB)


class ReportCB(CallbackData, prefix="rep"):
    kind: ReportKind


class AnnounceCB(CallbackData, prefix="ann"):
    target: Target  # re-checked against the author's faculties
    target_id: Id


class AnnounceAction(StrEnum):
    SEND = "send"
    CANCEL = "cancel"


class AnnounceActCB(CallbackData, prefix="ann-act"):
    action: AnnounceAction


class MyDataAction(StrEnum):
    FILE = "file"  # what the bot holds, as a JSON file
    UNLINK = "unlink"  # asks to confirm
    CONFIRM = "confirm"  # unlinks
    KEEP = "keep"  # changed one's mind


class MyDataCB(CallbackData, prefix="my"):
    action: MyDataAction


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
