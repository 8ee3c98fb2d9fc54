"""The dean's office's reports, by name (each is drawn by bot.views.reports)."""

from __future__ import annotations

from enum import StrEnum


class ReportKind(StrEnum):
    ADDITIONAL = "additional"  # the additional session's list
    STATEMENTS = "statements"  # statements by kind and status per exam
    ATTENDANCE = "attendance"  # attendance and grades per group and discipline
