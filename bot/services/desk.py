"""Queries the Mini App's pages need beyond the chat's own: statements found by filters
and pages, one statement or document within the dean's faculties, a teacher's exams of a
day, every exam for the administrator, and moving an exam (its students are told as
after an import). Plain data; the checks of who may are here, as in the other services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.config import Settings
from bot.db.models import (
    Exam,
    Group,
    RollEntry,
    Statement,
    StatementFile,
    Student,
    Subgroup,
    Teacher,
)
from bot.domain.imports import normalize_surname
from bot.services.outbox import Outbox
from bot.services.reminders import PlanReport, plan_exam


@dataclass(frozen=True)
class StatementFilter:
    kind: str | None = None
    status: str | None = None
    exam_id: int | None = None
    group: str | None = None  # a group's id (digits) or name
    filed_from: datetime | None = None  # [from, until)
    filed_until: datetime | None = None
    text: str | None = None  # a surname (its beginning) or a record book


_LOADED = (
    joinedload(Statement.exam).joinedload(Exam.discipline),
    joinedload(Statement.student).joinedload(Student.group),
    selectinload(Statement.files),
)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _of_faculties(faculties: frozenset[int]) -> Select[Statement]:
    return (
        select(Statement)
        .join(Student, Student.id == Statement.student_id)
        .join(Group, Group.id == Student.group_id)
        .where(Group.faculty_id.in_(faculties))
    )


def _filtered(faculties: frozenset[int], f: StatementFilter) -> Select[Statement]:
    stmt = _of_faculties(faculties)
    if f.kind:
        stmt = stmt.where(Statement.kind == f.kind)
    if f.status:
        stmt = stmt.where(Statement.status == f.status)
    if f.exam_id is not None:
        stmt = stmt.where(Statement.exam_id == f.exam_id)
    if f.group:
        stmt = stmt.where(Group.id == int(f.group) if f.group.isdigit() else Group.name == f.group)
    if f.filed_from is not None:
        stmt = stmt.where(Statement.submitted_at >= f.filed_from)
    if f.filed_until is not None:
        stmt = stmt.where(Statement.submitted_at < f.filed_until)
    if f.text:
        key = normalize_surname(f.text)
        matches = [Student.record_book == f.text]
        if key:
            matches.append(Student.surname_key.like(f"{_like(key)}%", escape="\\"))
        stmt = stmt.where(or_(*matches))
    return stmt


async def find_statements(
    session: AsyncSession,
    faculties: frozenset[int],
    found: StatementFilter,
    *,
    page: int,
    page_size: int,
) -> tuple[list[Statement], int]:
    """One page (from 1) of the faculties' statements, the latest first, and how many."""
    stmt = _filtered(faculties, found)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(
        stmt.options(*_LOADED)
        .order_by(Statement.submitted_at.desc(), Statement.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows.unique()), total


async def dean_statement(
    session: AsyncSession, faculties: frozenset[int], statement_id: int
) -> Statement | None:
    """The statement if it is of one of these faculties' students, with what a page shows."""
    return (
        await session.scalars(
            _of_faculties(faculties)
            .where(Statement.id == statement_id)
            .options(*_LOADED)
            .execution_options(populate_existing=True)
        )
    ).first()


async def roll_entry(session: AsyncSession, statement: Statement) -> RollEntry | None:
    """The statement's student at its exam: the roll mark and the grade."""
    return await session.scalar(
        select(RollEntry).where(
            RollEntry.exam_id == statement.exam_id, RollEntry.student_id == statement.student_id
        )
    )


async def dean_document(
    session: AsyncSession, faculties: frozenset[int], file_id: int
) -> StatementFile | None:
    """A statement's document if the statement is of one of these faculties."""
    return await session.scalar(
        select(StatementFile)
        .join(Statement, Statement.id == StatementFile.statement_id)
        .join(Student, Student.id == Statement.student_id)
        .join(Group, Group.id == Student.group_id)
        .where(StatementFile.id == file_id, Group.faculty_id.in_(faculties))
    )


async def teacher_exams_between(
    session: AsyncSession, teacher: Teacher, start: datetime, *, end: datetime
) -> list[Exam]:
    """The teacher's exams and consultations starting in [start, end), not cancelled."""
    return list(
        await session.scalars(
            select(Exam)
            .where(
                Exam.teacher_id == teacher.id,
                Exam.cancelled_at.is_(None),
                Exam.starts_at >= start,
                Exam.starts_at < end,
            )
            .options(joinedload(Exam.discipline), joinedload(Exam.group))
            .order_by(Exam.starts_at, Exam.id)
        )
    )


def _with_details() -> tuple[object, ...]:
    return (
        joinedload(Exam.discipline),
        joinedload(Exam.group),
        joinedload(Exam.teacher),
        selectinload(Exam.subgroups),
    )


async def every_exam(session: AsyncSession) -> list[Exam]:
    """Every exam and consultation not cancelled, in time order (the admin's lists)."""
    found = await session.scalars(
        select(Exam)
        .where(Exam.cancelled_at.is_(None))
        .options(*_with_details())  # type: ignore[arg-type]
        .order_by(Exam.starts_at, Exam.id)
    )
    return list(found.unique())


async def exam_with_details(session: AsyncSession, exam_id: int) -> Exam | None:
    return (
        (
            await session.scalars(
                select(Exam)
                .where(Exam.id == exam_id)
                .options(*_with_details())  # type: ignore[arg-type]
                .execution_options(populate_existing=True)
            )
        )
        .unique()
        .one_or_none()
    )


async def move_exam(
    session: AsyncSession,
    exam: Exam,
    new_start: datetime,
    *,
    now: datetime,
    settings: Settings,
    outbox: Outbox,
) -> PlanReport:
    """The exam (and its subgroups, keeping their gaps) to a new start; its notices are
    planned again, so its students are told as after a schedule import."""
    shift: timedelta = new_start - exam.starts_at
    if shift:
        exam.starts_at = new_start
        for subgroup in await session.scalars(select(Subgroup).where(Subgroup.exam_id == exam.id)):
            subgroup.starts_at = subgroup.starts_at + shift
        await session.flush()
    return await plan_exam(session, exam.id, now, settings=settings, outbox=outbox)
