"""The dean's reports' data: the additional session's list (what the educational office
drafts its order from), statements by kind and status per exam, and attendance and grades
per group and discipline. A dean sees their faculties, an admin all. The tables' wording
is `bot.views.reports`'s.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Discipline, Exam, Faculty, Group, RollEntry, Statement
from bot.domain.reports import ReportKind as ReportKind  # re-exported: the reports' names
from bot.domain.roll import Mark, effective_mark
from bot.domain.statements import StatementKind
from bot.services.roll import AdditionalSitting, RollRules, additional_session

_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True)
class ExamCells:
    faculty: str
    group: str
    discipline: str
    starts_at: datetime


@dataclass(frozen=True)
class StatementCounts:
    exam: ExamCells
    kind: str
    by_status: Counter[str]


@dataclass(frozen=True)
class Attendance:
    exam: ExamCells
    marks: Counter[Mark]
    grades: Counter[str]
    confirmed: bool


@dataclass(frozen=True)
class ReportData:
    kind: ReportKind
    now: datetime
    faculties: list[str] | None  # sorted names; None: every faculty (an admin)
    sit_again: list[AdditionalSitting] = field(default_factory=list)
    statements: list[StatementCounts] = field(default_factory=list)
    attendance: list[Attendance] = field(default_factory=list)


def _of_exams(query: Select[*_Ts], faculty_ids: frozenset[int] | None) -> Select[*_Ts]:
    """Every report reads exams with their group, faculty and discipline, within the
    reader's faculties (None: all)."""
    query = (
        query.join(Group, Group.id == Exam.group_id)
        .join(Faculty, Faculty.id == Group.faculty_id)
        .join(Discipline, Discipline.id == Exam.discipline_id)
    )
    return query if faculty_ids is None else query.where(Group.faculty_id.in_(faculty_ids))


async def report_data(
    session: AsyncSession,
    kind: ReportKind,
    faculty_ids: frozenset[int] | None,
    *,
    now: datetime,
    rules: RollRules,
) -> ReportData:
    """`faculty_ids` None: every faculty (an admin). Of the settings only the roll's rules
    matter (when an outage becomes a failure)."""
    faculties = None
    if faculty_ids is not None:
        faculties = sorted(
            await session.scalars(select(Faculty.name).where(Faculty.id.in_(faculty_ids)))
        )
    data = ReportData(kind, now, faculties)
    if kind is ReportKind.ADDITIONAL:
        data.sit_again.extend(await _additional(session, faculty_ids, now, rules=rules))
    elif kind is ReportKind.STATEMENTS:
        data.statements.extend(await _statements(session, faculty_ids))
    else:
        data.attendance.extend(await _attendance(session, faculty_ids, now, rules=rules))
    return data


async def _additional(
    session: AsyncSession, faculty_ids: frozenset[int] | None, now: datetime, *, rules: RollRules
) -> list[AdditionalSitting]:
    """The additional session's list as `/additional` shows it (one predicate), ordered
    as the educational office drafts its order: by faculty, discipline, group, name."""
    sittings = await additional_session(session, faculty_ids, now, rules=rules)
    return sorted(sittings, key=lambda x: (x.faculty, x.discipline, x.group, x.student))


async def _statements(
    session: AsyncSession, faculty_ids: frozenset[int] | None
) -> list[StatementCounts]:
    query = select(
        Exam.id,
        Faculty.name,
        Group.name,
        Discipline.name,
        Exam.starts_at,
        Statement.kind,
        Statement.status,
    ).join(Exam, Exam.id == Statement.exam_id)
    rows = await session.execute(
        _of_exams(query, faculty_ids).order_by(
            Faculty.name, Exam.starts_at, Discipline.name, Group.name
        )
    )
    counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    exams: dict[int, ExamCells] = {}
    for exam_id, faculty, group, discipline, starts, kind, status in rows:
        exams[exam_id] = ExamCells(faculty, group, discipline, starts)
        counts[(exam_id, kind)][status] += 1
    return [
        StatementCounts(cells, kind.value, counts[(exam_id, kind.value)])
        for exam_id, cells in exams.items()
        for kind in StatementKind
        if counts.get((exam_id, kind.value))
    ]


async def _attendance(
    session: AsyncSession, faculty_ids: frozenset[int] | None, now: datetime, *, rules: RollRules
) -> list[Attendance]:
    query = (
        select(
            Exam.id,
            Faculty.name,
            Group.name,
            Discipline.name,
            Exam.starts_at,
            Exam.roll_confirmed_at,
            RollEntry.mark,
            RollEntry.outage_since,
            RollEntry.grade,
        )
        .join(Exam, Exam.id == RollEntry.exam_id)
        .where(Exam.cancelled_at.is_(None))
    )
    rows = await session.execute(
        _of_exams(query, faculty_ids).order_by(
            Faculty.name, Group.name, Discipline.name, Exam.starts_at
        )
    )
    exams: dict[int, tuple[ExamCells, bool]] = {}
    marks: dict[int, Counter[Mark]] = defaultdict(Counter)
    grades: dict[int, Counter[str]] = defaultdict(Counter)
    for exam_id, faculty, group, discipline, starts, confirmed, mark, since, grade in rows:
        exams[exam_id] = (ExamCells(faculty, group, discipline, starts), confirmed is not None)
        marks[exam_id][effective_mark(Mark(mark), since, now, wait=rules.outage_wait)] += 1
        if grade:
            grades[exam_id][grade] += 1
    return [
        Attendance(cells, marks[exam_id], grades[exam_id], confirmed)
        for exam_id, (cells, confirmed) in exams.items()
    ]
