"""The additional session's list: who sits an exam again, absent for a valid reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Discipline,
    Exam,
    Group,
    RollEntry,
    Student,
)
from bot.domain.roll import (
    MAYBE_VALID_REASON,
    VALID_REASON,
    Mark,
    additional_reason,
)
from bot.services.roll.console import RollRules


def valid_reason(mark: Mark) -> bool:
    return mark in VALID_REASON


@dataclass(frozen=True)
class AdditionalSitting:
    student: str
    record_book: str
    group: str
    discipline: str
    starts_at: datetime
    mark: Mark


async def additional_session(
    session: AsyncSession, faculty_ids: frozenset[int], now: datetime, rules: RollRules
) -> list[AdditionalSitting]:
    """Who sits an exam again in the additional session: absent for a valid reason
    (an approved statement, or a technical failure), per the faculty's exams."""
    rows = await session.execute(
        select(Student, Group.name, Discipline.name, Exam.starts_at, RollEntry)
        .join(RollEntry, RollEntry.student_id == Student.id)
        .join(Exam, Exam.id == RollEntry.exam_id)
        .join(Group, Group.id == Exam.group_id)
        .join(Discipline, Discipline.id == Exam.discipline_id)
        .where(
            Group.faculty_id.in_(faculty_ids),
            Exam.cancelled_at.is_(None),
            RollEntry.mark.in_(MAYBE_VALID_REASON),
        )
        .order_by(Group.name, Discipline.name, Student.full_name)
    )
    result = []
    for student, group, discipline, starts_at, entry in rows:
        mark = additional_reason(Mark(entry.mark), entry.outage_since, now, rules.outage_wait)
        if mark is not None:
            result.append(
                AdditionalSitting(
                    student.full_name, student.record_book, group, discipline, starts_at, mark
                )
            )
    return result
