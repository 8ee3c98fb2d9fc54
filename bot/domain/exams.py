"""What an exam event is: its kind (table, "Подготовительный этап") and form (§2.3)."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    EXAM = "exam"
    CONSULTATION = "consultation"  # the pre-exam consultation


class ExamForm(StrEnum):
    ORAL = "oral"  # устное собеседование
    TEST = "test"  # компьютерное тестирование в Moodle
    WRITTEN = "written"  # письменная работа
    COMBINED = "combined"
