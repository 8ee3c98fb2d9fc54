"""The roll itself: the caller's own exam, its lines, and what every use case shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.config import Settings
from bot.db.engine import dialect_insert
from bot.db.models import (
    Exam,
    Group,
    RollEntry,
    Statement,
    Student,
    Subgroup,
    SubgroupMember,
    Teacher,
)
from bot.domain.roll import (
    Counts,
    Mark,
    count,
    effective_mark,
)
from bot.domain.roll import (
    MarkAction as MarkAction,  # re-exported: the console's actions are the domain's
)
from bot.domain.statements import StatementKind, StatementStatus


@dataclass(frozen=True)
class RollRules:
    """What the console's rules read of the settings: §2.8's wait before an outage is a
    failure, and the written work's grace and reminders of time left."""

    outage_wait: timedelta
    written_grace: timedelta
    written_reminders: tuple[int, ...]  # minutes left, when the student is told

    @classmethod
    def of(cls, settings: Settings) -> RollRules:
        return cls(settings.outage_wait, settings.written_grace, settings.written_reminders)


# Notices about a roll stay useful for a while, then are moot.
KEEP = timedelta(days=14)
# How long an album's photos are gathered into one forwarded message.
ALBUM_GATHER = timedelta(seconds=3)


class Outcome(StrEnum):
    OK = "ok"
    NOT_YOURS = "not_yours"  # not the caller's exam, or no such exam/student (forged)
    LOCKED = "locked"  # the roll is confirmed
    ALREADY = "already"  # nothing to change (a double tap)
    NOT_PRESENT = "not_present"  # a grade or ticket for a student not marked present
    HAS_GRADE = "has_grade"  # marking a graded student absent
    TOO_LATE = "too_late"  # the outage clock ran out; the exam has started (split)
    UNMARKED = "unmarked"  # confirming with students still unmarked
    OUTAGE_RUNNING = "outage_running"  # confirming while an outage clock runs
    NOBODY = "nobody"  # nobody is present (tickets, written work)
    INVALID = "invalid"  # a bad number of subgroups, gap, ticket count
    STARTED = "started"  # subgroups are set before the exam starts


@dataclass
class RollLine:
    student: Student
    entry: RollEntry
    mark: Mark  # as it stands now (a run-out outage reads as FAILURE)
    subgroup: int | None
    starts_at: datetime


@dataclass
class RollView:
    exam: Exam
    lines: list[RollLine]
    counts: Counts

    def line(self, student_id: int) -> RollLine | None:
        return next((x for x in self.lines if x.student.id == student_id), None)


def _name_key(name: str) -> str:
    return name.casefold().replace("ё", "е")


async def own_exam(
    session: AsyncSession, teacher: Teacher | None, exam_id: int, *, lock: bool = False
) -> Exam | None:
    """The teacher's exam with what a roll shows, or None (not theirs, cancelled, absent)."""
    if teacher is None:
        return None
    stmt = (
        select(Exam)
        .where(Exam.id == exam_id, Exam.teacher_id == teacher.id, Exam.cancelled_at.is_(None))
        .options(
            joinedload(Exam.discipline),
            joinedload(Exam.group).joinedload(Group.faculty),
            joinedload(Exam.teacher),
            selectinload(Exam.subgroups),
        )
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=Exam)
    return (await session.scalars(stmt)).unique().one_or_none()


async def _ensure_entries(session: AsyncSession, exam: Exam) -> None:
    """A row per student of the group; an approved absence statement pre-marks "excused"."""
    students = list(
        await session.scalars(select(Student.id).where(Student.group_id == exam.group_id))
    )
    if students:
        await session.execute(
            dialect_insert(session, RollEntry)
            .values(
                [{"exam_id": exam.id, "student_id": s, "mark": Mark.UNMARKED} for s in students]
            )
            .on_conflict_do_nothing(index_elements=["exam_id", "student_id"])
        )
    excused = select(Statement.student_id).where(
        Statement.exam_id == exam.id,
        Statement.kind == StatementKind.ABSENCE,
        Statement.status == StatementStatus.APPROVED,
    )
    await session.execute(
        update(RollEntry)
        .where(
            RollEntry.exam_id == exam.id,
            RollEntry.mark == Mark.UNMARKED,
            RollEntry.student_id.in_(excused),
        )
        .values(mark=Mark.EXCUSED.value)
        .execution_options(synchronize_session=False)
    )


async def load_roll(
    session: AsyncSession, exam: Exam, now: datetime, *, rules: RollRules
) -> RollView:
    await _ensure_entries(session, exam)
    rows = await session.execute(
        select(RollEntry, Student)
        .join(Student, Student.id == RollEntry.student_id)
        .where(RollEntry.exam_id == exam.id, Student.group_id == exam.group_id)
        .execution_options(populate_existing=True)
    )
    members = {
        student_id: (number, starts_at)
        for student_id, number, starts_at in await session.execute(
            select(SubgroupMember.student_id, Subgroup.number, Subgroup.starts_at)
            .join(Subgroup, Subgroup.id == SubgroupMember.subgroup_id)
            .where(SubgroupMember.exam_id == exam.id)
        )
    }
    lines = []
    for entry, student in rows:
        number, starts_at = members.get(student.id, (None, exam.starts_at))
        mark = effective_mark(Mark(entry.mark), entry.outage_since, now, wait=rules.outage_wait)
        lines.append(RollLine(student, entry, mark, number, starts_at))
    lines.sort(key=lambda x: (_name_key(x.student.full_name), x.student.id))
    return RollView(exam, lines, count(x.mark for x in lines))


async def _entry(session: AsyncSession, exam: Exam, student_id: int) -> RollEntry | None:
    """The student's row, locked; the roll's rows are made only if it has none yet (a tap
    comes after the roll was shown, which made them: no group-wide insert per tap)."""
    query = (
        select(RollEntry)
        .join(Student, Student.id == RollEntry.student_id)
        .where(
            RollEntry.exam_id == exam.id,
            RollEntry.student_id == student_id,
            Student.group_id == exam.group_id,
        )
        .with_for_update(of=RollEntry)
        .execution_options(populate_existing=True)
    )
    entry = await session.scalar(query)
    if entry is None:
        await _ensure_entries(session, exam)
        entry = await session.scalar(query)
    return entry


async def _student_chat(session: AsyncSession, student_id: int) -> int | None:
    return await session.scalar(select(Student.user_id).where(Student.id == student_id))


def _to(line: RollLine) -> tuple[int, int | None, int | None]:
    chat = line.student.user_id
    assert chat is not None
    return chat, chat, line.student.id
