"""Semesters and retention (the regulation's table, last rows): recordings and written
works are kept "до начала следующего семестра", then destroyed. When a semester set by an
admin begins, teachers are reminded, and the bot deletes the statement documents and
exam works it kept from before that date (rows and files), logging what it removed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import ExamWork, Semester, StatementFile, Teacher
from bot.domain.reminders import NoticeKind, Planned, notice_key
from bot.services.outbox import Outbox
from bot.services.reminders import queue

log = logging.getLogger(__name__)


class SemesterOutcome(StrEnum):
    OK = "ok"
    BAD_ORDER = "bad_order"  # the end is not after the start
    TAKEN = "taken"  # a semester starting that day exists with other dates


async def set_semester(
    session: AsyncSession, starts_on: date, ends_on: date, *, by: int | None
) -> SemesterOutcome:
    if ends_on <= starts_on:
        return SemesterOutcome.BAD_ORDER
    existing = await session.scalar(select(Semester).where(Semester.starts_on == starts_on))
    if existing is not None:
        existing.ends_on = ends_on
        existing.set_by = by
    else:
        session.add(Semester(starts_on=starts_on, ends_on=ends_on, set_by=by))
    await session.flush()
    return SemesterOutcome.OK


async def semesters(session: AsyncSession) -> list[Semester]:
    return list(await session.scalars(select(Semester).order_by(Semester.starts_on)))


@dataclass(frozen=True)
class RetentionReport:
    semester: date
    statement_files: int
    works: int
    files_removed: int
    teachers_told: int


def _start_moment(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


async def retention_due(session: AsyncSession, now: datetime, tz: tzinfo) -> Semester | None:
    """The latest semester that has begun (in the university's zone `tz`) and whose
    retention has not run yet."""
    today = now.astimezone(tz).date()
    return await session.scalar(
        select(Semester)
        .where(Semester.starts_on <= today, Semester.retention_done_at.is_(None))
        .order_by(Semester.starts_on.desc())
        .limit(1)
    )


async def run_retention(
    session: AsyncSession,
    semester: Semester,
    now: datetime,
    *,
    settings: Settings,
    outbox: Outbox,
) -> RetentionReport:
    cutoff = _start_moment(semester.starts_on, settings.tz)
    kept_dir = Path(settings.files_dir)
    removed = 0
    paths = list(
        await session.scalars(
            select(StatementFile.stored_path).where(
                StatementFile.added_at < cutoff, StatementFile.stored_path.is_not(None)
            )
        )
    ) + list(
        await session.scalars(
            select(ExamWork.stored_path).where(
                ExamWork.received_at < cutoff, ExamWork.stored_path.is_not(None)
            )
        )
    )
    for relative in paths:
        if not relative:
            continue
        target = kept_dir / relative
        try:
            target.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    files = await session.execute(delete(StatementFile).where(StatementFile.added_at < cutoff))
    works = await session.execute(delete(ExamWork).where(ExamWork.received_at < cutoff))
    teachers = [
        uid
        for uid in await session.scalars(
            select(Teacher.user_id).where(Teacher.user_id.is_not(None))
        )
        if uid is not None
    ]
    items = [
        (
            Planned(
                NoticeKind.RETENTION,
                notice_key(NoticeKind.RETENTION, semester.id, uid),
                now,
                now + timedelta(days=14),
                {"starts_on": semester.starts_on.strftime("%d.%m.%Y")},
            ),
            uid,
            uid,
            None,
        )
        for uid in teachers
    ]
    await queue(session, items, None, outbox=outbox)
    semester.retention_done_at = now
    await session.flush()
    report = RetentionReport(
        semester.starts_on,
        files.rowcount or 0,  # type: ignore[attr-defined]
        works.rowcount or 0,  # type: ignore[attr-defined]
        removed,
        len(teachers),
    )
    log.info(
        "retention for the semester from %s: %d statement documents and %d exam works deleted "
        "(%d files removed from disk), %d teachers reminded",
        report.semester,
        report.statement_files,
        report.works,
        report.files_removed,
        report.teachers_told,
    )
    return report
