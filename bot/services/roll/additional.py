"""The additional session's list: who sits an exam again, absent for a valid reason.

One list, read by `/additional`, the Mini App and the report of the same name alike:
the regulation's additional session is for those absent for a valid reason (an approved
statement) or hit by a technical failure (PRODUCT §3, §5; the table: "УМУ готовит приказ
о дополнительной сессии"), judged row by row by `bot.domain.roll.additional_reason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Discipline, Exam, Faculty, Group, RollEntry, Student
from bot.domain.exams import EventKind
from bot.domain.roll import MAYBE_VALID_REASON, Mark, additional_reason
from bot.services.roll.console import RollRules


@dataclass(frozen=True)
class AdditionalSitting:
    student: str
    record_book: str
    group: str
    discipline: str
    starts_at: datetime
    mark: Mark  # why: absent for a valid reason (EXCUSED) or a technical failure (FAILURE)
    faculty: str = ""


async def additional_session(
    session: AsyncSession, faculty_ids: frozenset[int] | None, now: datetime, *, rules: RollRules
) -> list[AdditionalSitting]:
    """Who sits an exam again in the additional session, within the faculties (None:
    every faculty, an admin's report), by group, discipline and name."""
    query = (
        select(Student, Faculty.name, Group.name, Discipline.name, Exam.starts_at, RollEntry)
        .join(RollEntry, RollEntry.student_id == Student.id)
        .join(Exam, Exam.id == RollEntry.exam_id)
        .join(Group, Group.id == Exam.group_id)
        .join(Faculty, Faculty.id == Group.faculty_id)
        .join(Discipline, Discipline.id == Exam.discipline_id)
        .where(
            Exam.cancelled_at.is_(None),
            # A consultation is no attestation: missing it (an approved absence statement,
            # an outage) is no reason to sit anything again.
            Exam.kind == EventKind.EXAM,
            RollEntry.mark.in_(MAYBE_VALID_REASON),
        )
        .order_by(Group.name, Discipline.name, Student.full_name)
    )
    if faculty_ids is not None:
        query = query.where(Group.faculty_id.in_(faculty_ids))
    result = []
    for student, faculty, group, discipline, starts_at, entry in await session.execute(query):
        mark = additional_reason(Mark(entry.mark), entry.outage_since, now, wait=rules.outage_wait)
        if mark is not None:
            result.append(
                AdditionalSitting(
                    student.full_name,
                    student.record_book,
                    group,
                    discipline,
                    starts_at,
                    mark,
                    faculty,
                )
            )
    return result
