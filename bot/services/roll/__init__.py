"""The teacher's exam-day console: roll call, outages, grades, tickets, subgroups, written
work, and confirming the roll (§2.5, §2.6, §2.8 and the table's procedure blocks).

Every use case checks that the exam is the caller's own (a forged button must fail) and
that the roll is not locked. Taps are idempotent: the same tap twice changes nothing.
Whoever must hear of a change hears it through the outbox.

One module a use case; the names are re-exported here, so `bot.services.roll.X` stays.
"""

from bot.services.roll.additional import AdditionalSitting, additional_session
from bot.services.roll.aloud import Aloud, texts_aloud
from bot.services.roll.confirm import confirm_roll, exam_for_export, unlock_roll
from bot.services.roll.console import (
    ALBUM_GATHER,
    KEEP,
    MarkAction,
    Outcome,
    RollLine,
    RollRules,
    RollView,
    load_roll,
    own_exam,
)
from bot.services.roll.marks import grade_history, mark_excused_by_statement, set_grade, set_mark
from bot.services.roll.subgroups import split
from bot.services.roll.tickets import hand_out_tickets
from bot.services.roll.written import WorkOutcome, WorkResult, accept_work, handed_in, start_written

__all__ = [
    "ALBUM_GATHER",
    "KEEP",
    "AdditionalSitting",
    "Aloud",
    "MarkAction",
    "Outcome",
    "RollLine",
    "RollRules",
    "RollView",
    "WorkOutcome",
    "WorkResult",
    "accept_work",
    "additional_session",
    "confirm_roll",
    "exam_for_export",
    "grade_history",
    "hand_out_tickets",
    "handed_in",
    "load_roll",
    "mark_excused_by_statement",
    "own_exam",
    "set_grade",
    "set_mark",
    "split",
    "start_written",
    "texts_aloud",
    "unlock_roll",
]
