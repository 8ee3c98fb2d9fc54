"""Upcoming exams and consultations for a student or a teacher, and the teacher's links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, bindparam, select
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


# A student's exams with their own subgroup's start, in one statement built once:
# /schedule is the command of an exam morning, and building a statement with its loader
# options cost about as much as running it (a student sits in one subgroup of an exam).
_STUDENT_SCHEDULE = (
    select(Exam, Subgroup.number, Subgroup.starts_at)
    .outerjoin(
        SubgroupMember,
        and_(
            SubgroupMember.exam_id == Exam.id,
            SubgroupMember.student_id == bindparam("student_id"),
        ),
    )
    .outerjoin(Subgroup, Subgroup.id == SubgroupMember.subgroup_id)
    .where(Exam.group_id == bindparam("group_id"), Exam.cancelled_at.is_(None))
    .options(*_with_details())  # type: ignore[arg-type]
    .order_by(Exam.starts_at, Exam.id)
)


async def student_schedule(
    session: AsyncSession, student: Student, now: datetime
) -> list[ScheduleItem]:
    """Everything not yet over, soonest first."""
    rows = await session.execute(
        _STUDENT_SCHEDULE, {"student_id": student.id, "group_id": student.group_id}
    )
    items = []
    for exam, number, subgroup_start in rows:
        start = exam.starts_at if number is None else subgroup_start
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
