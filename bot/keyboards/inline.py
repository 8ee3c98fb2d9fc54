"""Inline keyboards; labels go through gettext in the user's locale."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.db.models import Faculty
from bot.domain.statements import AbsenceReason, AppealViolation
from bot.keyboards.callbacks import (
    BindCB,
    ExamAction,
    ExamCB,
    JoinCB,
    LangCB,
    RollAction,
    RollCB,
    StmtActCB,
    StmtAction,
    StmtAddDocsCB,
    StmtExamCB,
    StmtKindCB,
    StmtReasonCB,
    StmtViolationCB,
    StmtWithdrawCB,
    StmtZoneCB,
    StmtZonePickCB,
    TzCB,
)


def join_confirm() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Yes, that's me"), callback_data=JoinCB(confirm=True))
    kb.button(text=_("❌ No"), callback_data=JoinCB(confirm=False))
    return kb.as_markup()


def languages() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="Русский", callback_data=LangCB(code="ru"))
    kb.button(text="English", callback_data=LangCB(code="en"))
    return kb.as_markup()


def time_zones(zones: Iterable[tuple[str, str]]) -> InlineKeyboardMarkup:
    """(zone name, label) pairs, two to a row so they fit a phone screen."""
    kb = InlineKeyboardBuilder()
    for zone, label in zones:
        kb.button(text=label, callback_data=TzCB(zone=zone))
    kb.adjust(2)
    return kb.as_markup()


def exam_links(exam_id: int, roll: bool = False) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("🔗 Conference link"), callback_data=ExamCB(action=ExamAction.LINK, exam_id=exam_id)
    )
    kb.button(
        text=_("🎓 Moodle link"), callback_data=ExamCB(action=ExamAction.MOODLE, exam_id=exam_id)
    )
    if roll:
        kb.button(
            text=_("📋 Roll call"), callback_data=RollCB(action=RollAction.SHOW, exam_id=exam_id)
        )
        kb.adjust(2, 1)
    return kb.as_markup()


def faculties(items: Iterable[Faculty]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for faculty in items:
        kb.button(text=faculty.name, callback_data=BindCB(faculty_id=faculty.id))
    kb.adjust(1)
    return kb.as_markup()


def statement_exams(items: Iterable[tuple[int, str]]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for exam_id, label in items:
        kb.button(text=label, callback_data=StmtExamCB(exam_id=exam_id))
    kb.adjust(1)
    return kb.as_markup()


def statement_kinds(kinds: Iterable[str]) -> InlineKeyboardMarkup:
    labels = {
        "timezone": _("🌍 Another time (time zone)"),
        "absence": _("🩺 Absence for a valid reason"),
        "appeal": _("⚖️ Appeal (a violation of the procedure)"),
    }
    kb = InlineKeyboardBuilder()
    for kind in kinds:
        kb.button(text=labels[kind], callback_data=StmtKindCB(kind=kind))
    kb.adjust(1)
    return kb.as_markup()


def absence_reasons() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Illness"), callback_data=StmtReasonCB(reason=AbsenceReason.ILLNESS))
    kb.button(
        text=_("Family circumstances"), callback_data=StmtReasonCB(reason=AbsenceReason.FAMILY)
    )
    kb.button(text=_("Other"), callback_data=StmtReasonCB(reason=AbsenceReason.OTHER))
    kb.adjust(1)
    return kb.as_markup()


def appeal_violations(items: Iterable[tuple[AppealViolation, str]]) -> InlineKeyboardMarkup:
    """(violation, label) pairs, one a row."""
    kb = InlineKeyboardBuilder()
    for violation, label in items:
        kb.button(text=label, callback_data=StmtViolationCB(violation=violation))
    kb.adjust(1)
    return kb.as_markup()


def take_statement_zone(statement_id: int, zone: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("🌍 Show times in {zone}").format(zone=zone),
        callback_data=StmtZoneCB(statement_id=statement_id),
    )
    return kb.as_markup()


def statement_action(action: StmtAction, label: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=label, callback_data=StmtActCB(action=action))
    return kb.as_markup()


def statement_zones(zones: Iterable[tuple[str, str]], keep: str | None) -> InlineKeyboardMarkup:
    """The time-zone statement's question: the zone already set (kept with one press),
    then the common zones (zone, label)."""
    kb = InlineKeyboardBuilder()
    if keep:
        kb.button(text=keep, callback_data=StmtActCB(action=StmtAction.ZONE))
    for zone, label in zones:
        kb.button(text=label, callback_data=StmtZonePickCB(zone=zone))
    kb.adjust(*((1, 2) if keep else (2,)))
    return kb.as_markup()


def statement_preview() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📨 Send"), callback_data=StmtActCB(action=StmtAction.SEND))
    kb.button(text=_("✏️ Edit"), callback_data=StmtActCB(action=StmtAction.EDIT))
    kb.button(text=_("✖️ Cancel"), callback_data=StmtActCB(action=StmtAction.CANCEL))
    kb.adjust(1)
    return kb.as_markup()


def statement_actions(statement_id: int, can_add_documents: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if can_add_documents:
        kb.button(
            text=_("📎 Add documents"), callback_data=StmtAddDocsCB(statement_id=statement_id)
        )
    kb.button(text=_("Withdraw"), callback_data=StmtWithdrawCB(statement_id=statement_id))
    kb.adjust(1)
    return kb.as_markup()
