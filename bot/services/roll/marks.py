"""Roll call and grades: marks, outages (§2.8) and grade changes, each told through the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Exam,
    GradeChange,
    Notice,
    NoticeStatus,
    RollEntry,
    Teacher,
)
from bot.domain.reminders import NoticeKind, Planned, notice_key
from bot.domain.roll import (
    Grade,
    Mark,
    effective_mark,
    grades_for,
    outage_deadline,
)
from bot.services.outbox import Outbox
from bot.services.reminders import deanery_recipients, queue
from bot.services.roll.console import (
    KEEP,
    MarkAction,
    Outcome,
    RollRules,
    _ensure_entries,
    _entry,
    _student_chat,
    own_exam,
)
from bot.services.roll.tickets import _late_ticket
from bot.services.roll.written import late_written


async def mark_excused_by_statement(
    session: AsyncSession, exam_id: int, student_id: int, *, valid: bool, now: datetime
) -> None:
    """The dean decided an absence statement: approved is "absent, valid reason"; rejected
    is "absent, no valid reason" unless the student was marked present after all.

    A confirmed roll is locked for the teacher, not for the dean: documents may follow
    the exam by days (ABSENCE_DOCS_DAYS), so an approval after the confirmation still
    turns its "absent" into "absent, valid reason" (the additional session's list)."""
    exam = await session.get(Exam, exam_id)
    if exam is None:
        return
    if exam.roll_confirmed_at is not None:
        if valid:
            await session.execute(
                update(RollEntry)
                .where(
                    RollEntry.exam_id == exam_id,
                    RollEntry.student_id == student_id,
                    RollEntry.mark == Mark.ABSENT,
                    RollEntry.grade.is_(None),
                )
                .values(mark=Mark.EXCUSED.value, marked_at=now)
                .execution_options(synchronize_session="fetch")
            )
        return
    await _ensure_entries(session, exam)
    entry = await session.scalar(
        select(RollEntry)
        .where(RollEntry.exam_id == exam_id, RollEntry.student_id == student_id)
        .with_for_update()
    )
    if entry is None or entry.mark == Mark.PRESENT or entry.grade is not None:
        return
    if valid or entry.mark in (Mark.UNMARKED, Mark.EXCUSED):
        entry.mark = (Mark.EXCUSED if valid else Mark.ABSENT).value
        entry.marked_at = now
    await session.flush()


async def _cancel_outage_notices(session: AsyncSession, exam_id: int, student_id: int) -> None:
    await session.execute(
        update(Notice)
        .where(
            Notice.exam_id == exam_id,
            Notice.kind.in_((NoticeKind.OUTAGE_EXPIRED, NoticeKind.OUTAGE_REPORT)),
            Notice.payload["student_id"].as_integer() == student_id,
            Notice.status == NoticeStatus.PENDING,
        )
        .values(status=NoticeStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )


async def set_mark(
    session: AsyncSession,
    teacher: Teacher | None,
    by_user: int,
    *,
    exam_id: int,
    student_id: int,
    action: MarkAction,
    now: datetime,
    rules: RollRules,
    outbox: Outbox,
) -> Outcome:
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED
    entry = await _entry(session, exam, student_id)
    if entry is None:
        return Outcome.NOT_YOURS
    current = effective_mark(Mark(entry.mark), entry.outage_since, now, wait=rules.outage_wait)
    if current is Mark.FAILURE:
        return Outcome.TOO_LATE  # §2.8: no further attestation; the student was told
    if action is MarkAction.RESOLVED:
        if current is not Mark.OUTAGE:
            return Outcome.ALREADY
        target = Mark.PRESENT
    else:
        target = Mark(action.value)
    if target == current:
        return Outcome.ALREADY
    if target is not Mark.PRESENT and entry.grade is not None:
        return Outcome.HAS_GRADE
    if current is Mark.OUTAGE:
        entry.outage_resolved_at = now
        await _cancel_outage_notices(session, exam.id, student_id)
    entry.mark = target.value
    entry.marked_by = by_user
    entry.marked_at = now
    if target is Mark.OUTAGE:
        entry.outage_since = now
        entry.outage_resolved_at = None
        await _plan_outage(session, exam, entry, now=now, rules=rules, outbox=outbox)
    if target is Mark.PRESENT and exam.tickets_handed_at is not None and entry.ticket is None:
        await _late_ticket(session, exam, entry, now=now, outbox=outbox)
    if target is Mark.PRESENT:
        await late_written(session, exam, entry, now=now, rules=rules, outbox=outbox)
    await session.flush()
    return Outcome.OK


async def _plan_outage(
    session: AsyncSession,
    exam: Exam,
    entry: RollEntry,
    *,
    now: datetime,
    rules: RollRules,
    outbox: Outbox,
) -> None:
    """Both notices wait for the clock; each checks at sending time that the outage is
    still unresolved, so no timer needs to survive a restart."""
    deadline = outage_deadline(now, rules.outage_wait)
    tag = (exam.id, entry.student_id, f"{now:%Y%m%dT%H%M%S%f}")
    payload = {"student_id": entry.student_id, "since": now.isoformat()}
    items: list[tuple[Planned, int, int | None, int | None]] = []
    chat = await _student_chat(session, entry.student_id)
    if chat is not None:
        planned = Planned(
            NoticeKind.OUTAGE_EXPIRED,
            notice_key(NoticeKind.OUTAGE_EXPIRED, *tag),
            deadline,
            deadline + KEEP,
            payload,
        )
        items.append((planned, chat, chat, entry.student_id))
    for dean_chat, dean_user in await deanery_recipients(session, exam.group.faculty_id):
        planned = Planned(
            NoticeKind.OUTAGE_REPORT,
            notice_key(NoticeKind.OUTAGE_REPORT, *tag, dean_chat),
            deadline,
            deadline + KEEP,
            payload,
        )
        items.append((planned, dean_chat, dean_user, None))
    await queue(session, items, exam.id, outbox=outbox)


async def set_grade(
    session: AsyncSession,
    teacher: Teacher | None,
    by_user: int,
    *,
    exam_id: int,
    student_id: int,
    grade: Grade,
    now: datetime,
    rules: RollRules,
    outbox: Outbox,
) -> Outcome:
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None or grade not in grades_for(exam.pass_fail):
        return Outcome.NOT_YOURS
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED
    entry = await _entry(session, exam, student_id)
    if entry is None:
        return Outcome.NOT_YOURS
    if effective_mark(Mark(entry.mark), entry.outage_since, now, wait=rules.outage_wait) not in (
        Mark.PRESENT,
    ):
        return Outcome.NOT_PRESENT
    if entry.grade == grade:
        return Outcome.ALREADY
    change = GradeChange(
        entry_id=entry.id,
        old_grade=entry.grade,
        new_grade=grade.value,
        changed_by=by_user,
        changed_at=now,
    )
    session.add(change)
    entry.grade = grade.value
    entry.grade_posted_at = now  # a changed grade opens a fresh appeal window
    entry.graded_by = by_user
    await session.flush()
    chat = await _student_chat(session, student_id)
    if chat is not None:
        planned = Planned(
            NoticeKind.GRADE_POSTED,
            notice_key(NoticeKind.GRADE_POSTED, exam.id, student_id, change.id),
            now,
            now + timedelta(days=3),
            {"grade": grade.value, "posted": now.isoformat(), "changed": change.old_grade},
        )
        await queue(session, [(planned, chat, chat, student_id)], exam.id, outbox=outbox)
    return Outcome.OK


async def grade_history(session: AsyncSession, entry_id: int) -> list[GradeChange]:
    return list(
        await session.scalars(
            select(GradeChange).where(GradeChange.entry_id == entry_id).order_by(GradeChange.id)
        )
    )
