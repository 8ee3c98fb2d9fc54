"""Upcoming exams and consultations for a student or a teacher, and the teacher's links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.db.models import Exam, Group, Student, Subgroup, SubgroupMember, Teacher
from bot.domain.exams import EventKind
from bot.domain.links import normalize_link


@dataclass(frozen=True)
class ScheduleItem:
    exam: Exam
    starts_at: datetime  # the student's own start: their subgroup's, if split
    subgroup: int | None = None

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.exam.duration_min)


def _with_details() -> list[object]:
    return [
        joinedload(Exam.discipline),
        joinedload(Exam.teacher),
        joinedload(Exam.group).joinedload(Group.faculty),
    ]


async def student_schedule(
    session: AsyncSession, student: Student, now: datetime
) -> list[ScheduleItem]:
    """Everything not yet over, soonest first."""
    exams = list(
        await session.scalars(
            select(Exam)
            .where(Exam.group_id == student.group_id, Exam.cancelled_at.is_(None))
            .options(*_with_details())  # type: ignore[arg-type]
            .order_by(Exam.starts_at, Exam.id)
        )
    )
    placements = {
        exam_id: (number, starts_at)
        for exam_id, number, starts_at in await session.execute(
            select(SubgroupMember.exam_id, Subgroup.number, Subgroup.starts_at)
            .join(Subgroup, Subgroup.id == SubgroupMember.subgroup_id)
            .where(SubgroupMember.student_id == student.id)
        )
    }
    items = []
    for exam in exams:
        number, start = placements.get(exam.id, (None, exam.starts_at))
        item = ScheduleItem(exam=exam, starts_at=start, subgroup=number)
        if item.ends_at > now:
            items.append(item)
    items.sort(key=lambda i: (i.starts_at, i.exam.id))
    return items


async def teacher_exams(session: AsyncSession, teacher: Teacher, now: datetime) -> list[Exam]:
    exams = await session.scalars(
        select(Exam)
        .where(Exam.teacher_id == teacher.id, Exam.cancelled_at.is_(None))
        .options(*_with_details(), selectinload(Exam.subgroups))  # type: ignore[arg-type]
        .order_by(Exam.starts_at, Exam.id)
    )
    # An exam stays on the list after it ends until its roll is confirmed (a week at most).
    return [e for e in exams if last_end(e) > now or _roll_still_open(e, now)]


async def teacher_schedule(
    session: AsyncSession, teacher: Teacher, now: datetime
) -> list[ScheduleItem]:
    """The teacher's exams and consultations not yet over, one item per sitting: each
    regular subgroup at its own start (an individual sitting of one student is the
    dean's arrangement, listed as well), soonest first."""
    exams = await session.scalars(
        select(Exam)
        .where(Exam.teacher_id == teacher.id, Exam.cancelled_at.is_(None))
        .options(*_with_details(), selectinload(Exam.subgroups))  # type: ignore[arg-type]
        .order_by(Exam.starts_at, Exam.id)
    )
    items = []
    for exam in exams:
        sittings = [
            ScheduleItem(exam=exam, starts_at=s.starts_at, subgroup=s.number)
            for s in sorted(exam.subgroups, key=lambda s: (s.starts_at, s.number))
        ] or [ScheduleItem(exam=exam, starts_at=exam.starts_at)]
        items += [item for item in sittings if item.ends_at > now]
    items.sort(key=lambda i: (i.starts_at, i.exam.id, i.subgroup or 0))
    return items


def _roll_still_open(exam: Exam, now: datetime) -> bool:
    return (
        exam.kind == EventKind.EXAM
        and exam.roll_confirmed_at is None
        and exam.starts_at > now - ROLL_OPEN_FOR
    )


ROLL_OPEN_FOR = timedelta(days=7)


def last_end(exam: Exam) -> datetime:
    """When the last subgroup (or the whole group) finishes."""
    latest = max([exam.starts_at, *(s.starts_at for s in exam.subgroups)])
    return latest + timedelta(minutes=exam.duration_min)


class LinkField(StrEnum):
    CONFERENCE = "link"
    MOODLE = "moodle"


class LinkOutcome(StrEnum):
    OK = "ok"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"


async def teacher_exam(session: AsyncSession, teacher: Teacher | None, exam_id: int) -> Exam | None:
    """The exam if this teacher runs it (callback data is never trusted)."""
    if teacher is None:
        return None
    exam = await session.get(
        Exam,
        exam_id,
        options=[*_with_details(), selectinload(Exam.subgroups)],  # type: ignore[list-item]
    )
    if exam is None or exam.teacher_id != teacher.id:
        return None
    return exam


async def set_exam_link(
    session: AsyncSession, teacher: Teacher | None, exam_id: int, *, field: LinkField, text: str
) -> tuple[LinkOutcome, Exam | None]:
    exam = await teacher_exam(session, teacher, exam_id)
    if exam is None:
        return LinkOutcome.FORBIDDEN, None
    url = normalize_link(text)
    if url is None:
        return LinkOutcome.INVALID, exam
    if field is LinkField.CONFERENCE:
        exam.link = url
    else:
        exam.moodle_url = url
    await session.flush()
    return LinkOutcome.OK, exam


async def upcoming_exams(session: AsyncSession, now: datetime) -> list[Exam]:
    """Every exam and consultation not yet over, for the admin's list."""
    exams = await session.scalars(
        select(Exam)
        .where(Exam.cancelled_at.is_(None))
        .options(*_with_details(), selectinload(Exam.subgroups))  # type: ignore[arg-type]
        .order_by(Exam.starts_at, Exam.id)
    )
    return [e for e in exams if last_end(e) > now]
