"""Whom the dean's office may write to with an announcement."""

from __future__ import annotations

from enum import StrEnum


class Target(StrEnum):
    GROUP = "group"
    FACULTY = "faculty"
    EXAM = "exam"  # the group sitting one exam
