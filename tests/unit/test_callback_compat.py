"""Buttons already in chats when a new version is deployed keep working: the callback data
the version before the typed callbacks packed (its classes, copied below as they were) still
parse with today's classes to the same choice, or, for the roll console whose form changed,
as the one class that redraws the console (bot.handlers.teacher.roll.on_old_button)."""

from __future__ import annotations

import pytest
from aiogram.filters.callback_data import CallbackData

from bot.domain.announcements import Target
from bot.domain.reports import ReportKind
from bot.domain.statements import AppealViolation
from bot.keyboards.callbacks import (
    ROLL_PRESSES,
    AnnounceCB,
    LangCB,
    ReportCB,
    RollCB,
    RollLegacyCB,
    StmtViolationCB,
)


# As they were before the typed callbacks (plain `str` fields).
class OldLangCB(CallbackData, prefix="lang"):
    code: str


class OldViolationCB(CallbackData, prefix="st-viol"):
    violation: str


class OldReportCB(CallbackData, prefix="rep"):
    kind: str


class OldAnnounceCB(CallbackData, prefix="ann"):
    target: str
    target_id: int


class OldRollCB(CallbackData, prefix="rl"):
    action: str
    exam_id: int
    student_id: int = 0
    page: int = 0
    value: str = ""


# The old console's actions and the values they carried.
OLD_ROLL = [
    ("show", 0, 2, ""),
    ("card", 7, 0, ""),
    ("rest", 0, 0, ""),
    ("mark", 7, 1, "present"),
    ("cmark", 7, 0, "outage_fixed"),
    ("grade", 7, 0, "5"),
    ("tickets", 0, 0, ""),
    ("tk", 0, 0, "random-30"),
    ("split", 0, 0, "3"),
    ("sp", 0, 0, "3x40"),
    ("written", 0, 0, ""),
    ("wr", 0, 0, "90"),
    ("texts", 0, 0, ""),
    ("confirm", 0, 0, ""),
    ("sheet", 0, 0, ""),
]


@pytest.mark.parametrize("code", ["ru", "en"])
def test_an_old_language_button_chooses_the_same(code: str) -> None:
    assert LangCB.unpack(OldLangCB(code=code).pack()).code == code


@pytest.mark.parametrize("violation", list(AppealViolation))
def test_an_old_violation_button_chooses_the_same(violation: AppealViolation) -> None:
    data = OldViolationCB(violation=violation.value).pack()
    assert StmtViolationCB.unpack(data).violation is violation


@pytest.mark.parametrize("kind", list(ReportKind))
def test_an_old_report_button_chooses_the_same(kind: ReportKind) -> None:
    assert ReportCB.unpack(OldReportCB(kind=kind.value).pack()).kind is kind


@pytest.mark.parametrize("target", list(Target))
def test_an_old_announcement_button_chooses_the_same(target: Target) -> None:
    parsed = AnnounceCB.unpack(OldAnnounceCB(target=target.value, target_id=42).pack())
    assert (parsed.target, parsed.target_id) == (target, 42)


@pytest.mark.parametrize(("action", "student", "page", "value"), OLD_ROLL)
def test_an_old_console_button_is_recognised_as_one(
    action: str, student: int, page: int, value: str
) -> None:
    data = OldRollCB(action=action, exam_id=31, student_id=student, page=page, value=value).pack()
    with pytest.raises((TypeError, ValueError)):
        RollCB.unpack(data)  # today's form has one field less
    old = RollLegacyCB.unpack(data)
    assert (old.exam_id, old.page, old.student_id) == (31, page, student)
    assert old.on_card is (action in ("card", "cmark", "grade"))
    assert RollLegacyCB in ROLL_PRESSES  # the exam is checked as the presser's first


def test_todays_console_button_is_not_taken_for_an_old_one() -> None:
    data = RollCB(action="show", exam_id=31, page=2).pack()
    with pytest.raises((TypeError, ValueError)):
        RollLegacyCB.unpack(data)


def test_a_forged_old_form_is_not_recognised() -> None:
    with pytest.raises(ValueError):
        RollLegacyCB.unpack("rl:drop:31:0:0:")
