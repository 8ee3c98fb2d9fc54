"""The teacher's exam-day console: roll call, outages, grades, tickets, subgroups, written
work, and confirming the roll (§2.5, §2.6, §2.8 and the table's procedure blocks).

Every use case checks that the exam is the caller's own (a forged button must fail) and
that the roll is not locked. Taps are idempotent: the same tap twice changes nothing.
Whoever must hear of a change hears it through the outbox.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.config import Settings
from bot.db.engine import dialect_insert
from bot.db.models import (
    MAX_ID,
    Discipline,
    Exam,
    ExamWork,
    GradeChange,
    Group,
    Notice,
    NoticeStatus,
    RollEntry,
    Statement,
    Student,
    Subgroup,
    SubgroupMember,
    Teacher,
)
from bot.domain.exams import ExamForm
from bot.domain.reminders import NoticeKind, Planned, stamp
from bot.domain.roll import (
    VALID_REASON,
    Counts,
    Grade,
    Mark,
    TicketMethod,
    closing_text,
    count,
    effective_mark,
    grades_for,
    opening_text,
    outage_deadline,
    recording_file_name,
    split_alphabetical,
    subgroup_starts,
    tickets_by_last_digit,
    tickets_random,
    time_left_reminders,
    written_window,
)
from bot.domain.statements import StatementKind, StatementStatus
from bot.services.reminders import deanery_recipients, plan_exam, queue
from bot.services.schedule import last_end

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


class MarkAction(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    EXCUSED = "excused"
    OUTAGE = "outage"
    RESOLVED = "resolved"


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


async def mark_excused_by_statement(
    session: AsyncSession, exam_id: int, student_id: int, valid: bool, now: datetime
) -> None:
    """The dean decided an absence statement: approved is "absent, valid reason"; rejected
    is "absent, no valid reason" unless the student was marked present after all."""
    exam = await session.get(Exam, exam_id)
    if exam is None or exam.roll_confirmed_at is not None:
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


async def load_roll(
    session: AsyncSession, exam: Exam, now: datetime, settings: Settings
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
        mark = effective_mark(Mark(entry.mark), entry.outage_since, now, settings.outage_wait)
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
    exam_id: int,
    student_id: int,
    action: MarkAction,
    now: datetime,
    settings: Settings,
) -> Outcome:
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED
    entry = await _entry(session, exam, student_id)
    if entry is None:
        return Outcome.NOT_YOURS
    current = effective_mark(Mark(entry.mark), entry.outage_since, now, settings.outage_wait)
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
        await _plan_outage(session, exam, entry, now, settings)
    if target is Mark.PRESENT and exam.tickets_handed_at is not None and entry.ticket is None:
        await _late_ticket(session, exam, entry, now)
    await session.flush()
    return Outcome.OK


async def _plan_outage(
    session: AsyncSession, exam: Exam, entry: RollEntry, now: datetime, settings: Settings
) -> None:
    """Both notices wait for the clock; each checks at sending time that the outage is
    still unresolved, so no timer needs to survive a restart."""
    deadline = outage_deadline(now, settings.outage_wait)
    tag = f"{exam.id}:{entry.student_id}:{now:%Y%m%dT%H%M%S%f}"
    payload = {"student_id": entry.student_id, "since": now.isoformat()}
    items: list[tuple[Planned, int, int | None, int | None]] = []
    chat = await _student_chat(session, entry.student_id)
    if chat is not None:
        planned = Planned(
            NoticeKind.OUTAGE_EXPIRED,
            f"{NoticeKind.OUTAGE_EXPIRED}:{tag}",
            deadline,
            deadline + KEEP,
            payload,
        )
        items.append((planned, chat, chat, entry.student_id))
    for dean_chat, dean_user in await deanery_recipients(session, exam.group.faculty_id):
        planned = Planned(
            NoticeKind.OUTAGE_REPORT,
            f"{NoticeKind.OUTAGE_REPORT}:{tag}:{dean_chat}",
            deadline,
            deadline + KEEP,
            payload,
        )
        items.append((planned, dean_chat, dean_user, None))
    await queue(session, items, exam.id)


async def set_grade(
    session: AsyncSession,
    teacher: Teacher | None,
    by_user: int,
    exam_id: int,
    student_id: int,
    grade: Grade,
    now: datetime,
    settings: Settings,
) -> Outcome:
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None or grade not in grades_for(exam.pass_fail):
        return Outcome.NOT_YOURS
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED
    entry = await _entry(session, exam, student_id)
    if entry is None:
        return Outcome.NOT_YOURS
    if effective_mark(Mark(entry.mark), entry.outage_since, now, settings.outage_wait) not in (
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
            f"{NoticeKind.GRADE_POSTED}:{exam.id}:{student_id}:{change.id}",
            now,
            now + timedelta(days=3),
            {"grade": grade.value, "posted": now.isoformat(), "changed": change.old_grade},
        )
        await queue(session, [(planned, chat, chat, student_id)], exam.id)
    return Outcome.OK


async def grade_history(session: AsyncSession, entry_id: int) -> list[GradeChange]:
    return list(
        await session.scalars(
            select(GradeChange).where(GradeChange.entry_id == entry_id).order_by(GradeChange.id)
        )
    )


# --- tickets (§2.6) ----------------------------------------------------------------------


async def hand_out_tickets(
    session: AsyncSession,
    teacher: Teacher | None,
    exam_id: int,
    method: TicketMethod,
    tickets: int,
    now: datetime,
    settings: Settings,
    listed: Mapping[int, int] | None = None,
) -> tuple[Outcome, dict[int, int]]:
    """Each present student gets a ticket number in chat; only once per exam."""
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS, {}
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED, {}
    if exam.tickets_handed_at is not None:
        return Outcome.ALREADY, {}
    if not 1 <= tickets <= 500:
        return Outcome.INVALID, {}
    view = await load_roll(session, exam, now, settings)
    present = [x for x in view.lines if x.mark is Mark.PRESENT]
    if not present:
        return Outcome.NOBODY, {}
    seed = None
    if method is TicketMethod.LAST_DIGIT:
        try:
            assigned = tickets_by_last_digit(
                {x.student.id: x.student.record_book for x in present}, tickets
            )
        except ValueError:
            return Outcome.INVALID, {}
    elif method is TicketMethod.RANDOM:
        seed = secrets.randbelow(2**31)
        assigned = tickets_random([x.student.id for x in present], tickets, seed)
    else:
        assigned = {s: n for s, n in (listed or {}).items() if view.line(s) is not None}
        if not assigned:
            return Outcome.NOBODY, {}
    exam.ticket_method = method.value
    exam.ticket_count = tickets
    exam.ticket_seed = seed
    exam.tickets_handed_at = now
    items: list[tuple[Planned, int, int | None, int | None]] = []
    for line in view.lines:
        number = assigned.get(line.student.id)
        if number is None:
            continue
        line.entry.ticket = number
        if line.student.user_id is not None:
            items.append((_ticket_notice(exam.id, line.student.id, number, now), *_to(line)))
    await queue(session, items, exam.id)
    await session.flush()
    return Outcome.OK, assigned


def _to(line: RollLine) -> tuple[int, int | None, int | None]:
    chat = line.student.user_id
    assert chat is not None
    return chat, chat, line.student.id


def _ticket_notice(exam_id: int, student_id: int, number: int, now: datetime) -> Planned:
    return Planned(
        NoticeKind.TICKET,
        f"{NoticeKind.TICKET}:{exam_id}:{student_id}:{number}",
        now,
        now + timedelta(hours=12),
        {"ticket": number, "student_id": student_id},
    )


async def _late_ticket(session: AsyncSession, exam: Exam, entry: RollEntry, now: datetime) -> None:
    """A student marked present after the hand-out: the last digit still decides; for a
    random draw the student gets the first ticket nobody holds (the same from the seed)."""
    tickets = exam.ticket_count or 0
    if exam.ticket_method == TicketMethod.LAST_DIGIT:
        book = await session.scalar(
            select(Student.record_book).where(Student.id == entry.student_id)
        )
        try:
            number = tickets_by_last_digit({entry.student_id: book or ""}, tickets)[
                entry.student_id
            ]
        except ValueError:
            return
    elif exam.ticket_method == TicketMethod.RANDOM:
        held = set(
            await session.scalars(
                select(RollEntry.ticket).where(
                    RollEntry.exam_id == exam.id, RollEntry.ticket.is_not(None)
                )
            )
        )
        free = [n for n in range(1, tickets + 1) if n not in held] or list(range(1, tickets + 1))
        number = free[(exam.ticket_seed or 0) % len(free)]
    else:
        return  # a list: the teacher hands this one out by voice
    entry.ticket = number
    chat = await _student_chat(session, entry.student_id)
    if chat is not None:
        await queue(
            session,
            [
                (
                    _ticket_notice(exam.id, entry.student_id, number, now),
                    chat,
                    chat,
                    entry.student_id,
                )
            ],
            exam.id,
        )


# --- subgroups (§2.5) --------------------------------------------------------------------


async def split(
    session: AsyncSession,
    teacher: Teacher | None,
    exam_id: int,
    parts: int,
    gap: timedelta,
    now: datetime,
    settings: Settings,
    order: list[int] | None = None,
) -> tuple[Outcome, list[list[int]]]:
    """Splits the group (alphabetically, or in the order given) into `parts` subgroups
    starting `gap` apart within the exam's slot; students on an individual sitting keep it."""
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS, []
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED, []
    if exam.starts_at <= now:
        return Outcome.STARTED, []
    individual = {s.id for s in exam.subgroups if s.individual}
    on_their_own = set(
        await session.scalars(
            select(SubgroupMember.student_id).where(
                SubgroupMember.exam_id == exam.id, SubgroupMember.subgroup_id.in_(individual)
            )
        )
    )
    students = [
        (sid, name)
        for sid, name in await session.execute(
            select(Student.id, Student.full_name).where(Student.group_id == exam.group_id)
        )
        if sid not in on_their_own
    ]
    try:
        starts = subgroup_starts(exam.starts_at, timedelta(minutes=exam.duration_min), parts, gap)
        if order is not None:
            known = {sid for sid, _ in students}
            ordered = [sid for sid in order if sid in known]
            ordered += [sid for sid, _ in students if sid not in set(ordered)]
            chunks = split_alphabetical([(sid, f"{i:06d}") for i, sid in enumerate(ordered)], parts)
        else:
            chunks = split_alphabetical(students, parts)
    except ValueError:
        return Outcome.INVALID, []
    for subgroup in [s for s in exam.subgroups if not s.individual]:
        await session.delete(subgroup)
    await session.flush()
    taken = {s.number for s in exam.subgroups if s.individual}
    number = 0
    created: list[tuple[Subgroup, list[int]]] = []
    for start, chunk in zip(starts, chunks, strict=True):
        number += 1
        while number in taken:
            number += 1
        subgroup = Subgroup(exam_id=exam.id, number=number, starts_at=start)
        session.add(subgroup)
        created.append((subgroup, chunk))
    await session.flush()
    for subgroup, chunk in created:
        session.add_all(
            SubgroupMember(exam_id=exam.id, subgroup_id=subgroup.id, student_id=s) for s in chunk
        )
    await session.flush()
    await plan_exam(session, exam.id, now, settings)
    await _tell_subgroups(session, exam, created, now)
    await session.refresh(exam, ["subgroups"])
    return Outcome.OK, chunks


async def _tell_subgroups(
    session: AsyncSession,
    exam: Exam,
    created: Iterable[tuple[Subgroup, list[int]]],
    now: datetime,
) -> None:
    chats: dict[int, int | None] = {
        sid: chat
        for sid, chat in await session.execute(
            select(Student.id, Student.user_id).where(Student.group_id == exam.group_id)
        )
    }
    # Whoever re-planning already told of the new time (a card had gone out) is not told twice.
    told = set(
        await session.scalars(
            select(Notice.student_id).where(
                Notice.exam_id == exam.id,
                Notice.kind == NoticeKind.TIME_CHANGED,
                Notice.created_at >= now - timedelta(seconds=1),
                Notice.status == NoticeStatus.PENDING,
            )
        )
    )
    items: list[tuple[Planned, int, int | None, int | None]] = []
    for subgroup, chunk in created:
        for student_id in chunk:
            chat = chats.get(student_id)
            if chat is None or student_id in told:
                continue
            planned = Planned(
                NoticeKind.SUBGROUP,
                f"{NoticeKind.SUBGROUP}:{exam.id}:{student_id}:{subgroup.number}:"
                f"{stamp(subgroup.starts_at)}",
                now,
                subgroup.starts_at,
                {"number": subgroup.number, "start": subgroup.starts_at.isoformat()},
            )
            items.append((planned, chat, chat, student_id))
    await queue(session, items, exam.id)


# --- written work ------------------------------------------------------------------------


async def start_written(
    session: AsyncSession,
    teacher: Teacher | None,
    exam_id: int,
    minutes: int,
    now: datetime,
    settings: Settings,
) -> Outcome:
    """Starts the written work's clock: headings and deadline to every present student,
    time-left reminders, and the teacher's list of missing works at the deadline."""
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED
    if exam.written_started_at is not None:
        return Outcome.ALREADY
    if not 5 <= minutes <= 600:
        return Outcome.INVALID
    view = await load_roll(session, exam, now, settings)
    present = [x for x in view.lines if x.mark is Mark.PRESENT]
    if not present:
        return Outcome.NOBODY
    exam.written_started_at = now
    exam.written_minutes = minutes
    duration = timedelta(minutes=minutes)
    ends, accepted_until = written_window(now, duration, settings.written_grace)
    items: list[tuple[Planned, int, int | None, int | None]] = []
    for line in present:
        if line.student.user_id is None:
            continue
        base = f"{exam.id}:{line.student.id}"
        items.append(
            (
                Planned(
                    NoticeKind.WRITTEN_START,
                    f"{NoticeKind.WRITTEN_START}:{base}",
                    now,
                    ends,
                    {"ends": ends.isoformat(), "until": accepted_until.isoformat()},
                ),
                *_to(line),
            )
        )
        for left, at in time_left_reminders(now, duration, settings.written_reminders):
            items.append(
                (
                    Planned(
                        NoticeKind.WRITTEN_LEFT,
                        f"{NoticeKind.WRITTEN_LEFT}:{base}:{left}",
                        at,
                        ends,
                        {"left": left, "ends": ends.isoformat()},
                    ),
                    *_to(line),
                )
            )
    teacher_chat = teacher.user_id if teacher is not None else None
    if teacher_chat is not None:
        items.append(
            (
                Planned(
                    NoticeKind.WRITTEN_MISSING,
                    f"{NoticeKind.WRITTEN_MISSING}:{exam.id}",
                    accepted_until,
                    accepted_until + KEEP,
                    {"until": accepted_until.isoformat()},
                ),
                teacher_chat,
                teacher_chat,
                None,
            )
        )
    await queue(session, items, exam.id)
    await session.flush()
    return Outcome.OK


class WorkOutcome(StrEnum):
    ACCEPTED = "accepted"
    TOO_LATE = "too_late"
    NOT_PRESENT = "not_present"
    NONE = "none"  # no exam of the student's is taking works now


@dataclass
class WorkResult:
    outcome: WorkOutcome
    exam: Exam | None = None
    due: datetime | None = None  # when works were due (too late)
    first: bool = True  # the first file of an album (the others are acknowledged with it)


async def accept_work(
    session: AsyncSession,
    student: Student,
    kind: str,
    file_id: str,
    file_unique_id: str,
    mime_type: str | None,
    size: int | None,
    media_group_id: str | None,
    now: datetime,
    settings: Settings,
) -> WorkResult:
    """A photo or PDF from a student outside any dialogue: written work while its clock
    runs (plus the grace), or an oral exam's preparation sheets on the exam day."""
    exams = list(
        await session.scalars(
            select(Exam)
            .where(
                Exam.group_id == student.group_id,
                Exam.cancelled_at.is_(None),
                Exam.kind == "exam",
                Exam.starts_at <= now,
                Exam.starts_at > now - timedelta(days=1),
            )
            .options(
                joinedload(Exam.discipline),
                joinedload(Exam.teacher),
                selectinload(Exam.subgroups),
            )
            .order_by(Exam.starts_at.desc())
        )
    )
    late: WorkResult | None = None
    absent: WorkResult | None = None
    for exam in exams:
        entry = await session.scalar(
            select(RollEntry).where(
                RollEntry.exam_id == exam.id, RollEntry.student_id == student.id
            )
        )
        mark = (
            effective_mark(Mark(entry.mark), entry.outage_since, now, settings.outage_wait)
            if entry is not None
            else Mark.UNMARKED
        )
        if exam.written_started_at is not None and exam.written_minutes:
            _, until = written_window(
                exam.written_started_at,
                timedelta(minutes=exam.written_minutes),
                settings.written_grace,
            )
            purpose = "written"
        elif exam.form in ("oral", "combined"):
            until = last_end(exam) + settings.written_grace
            purpose = "preparation"
        else:
            continue
        if now > until:
            late = late or WorkResult(WorkOutcome.TOO_LATE, exam, until)
            continue
        if mark is not Mark.PRESENT:
            absent = absent or WorkResult(WorkOutcome.NOT_PRESENT, exam)
            continue
        return await _store_work(
            session,
            exam,
            student,
            purpose,
            kind,
            file_id,
            file_unique_id,
            mime_type,
            size,
            media_group_id,
            now,
        )
    return late or absent or WorkResult(WorkOutcome.NONE)


async def _store_work(
    session: AsyncSession,
    exam: Exam,
    student: Student,
    purpose: str,
    kind: str,
    file_id: str,
    file_unique_id: str,
    mime_type: str | None,
    size: int | None,
    media_group_id: str | None,
    now: datetime,
) -> WorkResult:
    first = True
    if media_group_id is not None:
        first = (
            await session.scalar(
                select(ExamWork.id)
                .where(
                    ExamWork.exam_id == exam.id,
                    ExamWork.student_id == student.id,
                    ExamWork.media_group_id == media_group_id,
                )
                .limit(1)
            )
            is None
        )
    work = ExamWork(
        exam_id=exam.id,
        student_id=student.id,
        purpose=purpose,
        kind=kind,
        file_id=file_id,
        file_unique_id=file_unique_id,
        mime_type=mime_type,
        size=size,
        media_group_id=media_group_id,
        received_at=now,
    )
    session.add(work)
    await session.flush()
    teacher_chat = exam.teacher.user_id if exam.teacher is not None else None
    if teacher_chat is not None:
        await _forward_to_teacher(session, exam, student, work, teacher_chat, now)
    return WorkResult(WorkOutcome.ACCEPTED, exam, first=first)


async def _forward_to_teacher(
    session: AsyncSession,
    exam: Exam,
    student: Student,
    work: ExamWork,
    chat: int,
    now: datetime,
) -> None:
    """An album's photos gather into one pending notice for a few seconds, so the teacher
    gets one labelled album, not a message per photo."""
    group = work.media_group_id or f"w{work.id}"
    key = f"{NoticeKind.WORK_RECEIVED}:{exam.id}:{student.id}:{group}"
    pending = await session.scalar(select(Notice).where(Notice.key == key).with_for_update())
    if pending is not None and pending.status == NoticeStatus.PENDING:
        pending.payload = {
            **pending.payload,
            "works": [*pending.payload.get("works", []), work.id],
        }
        return
    if pending is not None:  # already on its way: a late photo of the album goes alone
        key = f"{key}:{work.id}"
    planned = Planned(
        NoticeKind.WORK_RECEIVED,
        key,
        now + ALBUM_GATHER if work.media_group_id else now,
        now + KEEP,
        {"works": [work.id], "student_id": student.id, "purpose": work.purpose},
    )
    await queue(session, [(planned, chat, chat, None)], exam.id)


async def handed_in(session: AsyncSession, exam_id: int) -> set[int]:
    return set(
        await session.scalars(
            select(ExamWork.student_id).where(
                ExamWork.exam_id == exam_id, ExamWork.purpose == "written"
            )
        )
    )


# --- confirming ----------------------------------------------------------------------------


async def confirm_roll(
    session: AsyncSession,
    teacher: Teacher | None,
    by_user: int,
    exam_id: int,
    now: datetime,
    settings: Settings,
) -> tuple[Outcome, RollView | None]:
    """Locks the roll; the dean's office gets the no-shows without a valid reason."""
    exam = await own_exam(session, teacher, exam_id, lock=True)
    if exam is None:
        return Outcome.NOT_YOURS, None
    view = await load_roll(session, exam, now, settings)
    if exam.roll_confirmed_at is not None:
        return Outcome.LOCKED, view
    if view.counts.unmarked:
        return Outcome.UNMARKED, view
    if view.counts.outage:
        return Outcome.OUTAGE_RUNNING, view
    exam.roll_confirmed_at = now
    exam.roll_confirmed_by = by_user
    for line in view.lines:
        if line.mark is Mark.FAILURE and line.entry.mark != Mark.FAILURE:
            line.entry.mark = Mark.FAILURE.value  # the clock ran out: record it for good
    items: list[tuple[Planned, int, int | None, int | None]] = []
    for chat, user in await deanery_recipients(session, exam.group.faculty_id):
        planned = Planned(
            NoticeKind.NO_SHOWS,
            f"{NoticeKind.NO_SHOWS}:{exam.id}:{chat}:{stamp(now)}",
            now,
            now + KEEP,
            {},
        )
        items.append((planned, chat, user, None))
    await queue(session, items, exam.id)
    await session.flush()
    return Outcome.OK, view


async def unlock_roll(session: AsyncSession, exam_id: int) -> bool:
    if not 0 < exam_id <= MAX_ID:  # typed by hand: no exam has it
        return False
    exam = await session.get(Exam, exam_id, with_for_update=True)
    if exam is None or exam.roll_confirmed_at is None:
        return False
    exam.roll_confirmed_at = None
    exam.roll_confirmed_by = None
    await session.flush()
    return True


async def exam_for_export(session: AsyncSession, exam_id: int) -> Exam | None:
    return (
        (
            await session.scalars(
                select(Exam)
                .where(Exam.id == exam_id)
                .options(
                    joinedload(Exam.discipline),
                    joinedload(Exam.group).joinedload(Group.faculty),
                    joinedload(Exam.teacher),
                    selectinload(Exam.subgroups),
                )
            )
        )
        .unique()
        .one_or_none()
    )


@dataclass(frozen=True)
class Aloud:
    """What the teacher says on the recording (the regulation's Russian wording): the
    opening (one a subgroup), the closing (None for a computer test) and the file name."""

    openings: list[str]
    closing: str | None
    file_name: str


def texts_aloud(view: RollView, tz: tzinfo) -> Aloud:
    exam = view.exam
    form = ExamForm(exam.form)
    regular = [s for s in exam.subgroups if not s.individual]
    openings = [
        opening_text(
            form,
            exam.discipline.name,
            subgroup.starts_at.astimezone(tz),
            subgroup.number,
            sum(1 for x in view.lines if x.subgroup == subgroup.number and x.mark is Mark.PRESENT),
        )
        for subgroup in regular
    ] or [
        opening_text(
            form, exam.discipline.name, exam.starts_at.astimezone(tz), None, view.counts.present
        )
    ]
    teacher = exam.teacher.full_name if exam.teacher is not None else ""
    return Aloud(
        openings,
        closing_text(form, count(x.mark for x in view.lines)),
        recording_file_name(
            exam.discipline.name, exam.starts_at.astimezone(tz), exam.group.name, teacher, form=form
        ),
    )


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
    session: AsyncSession, faculty_ids: frozenset[int], now: datetime, settings: Settings
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
            RollEntry.mark.in_((Mark.EXCUSED, Mark.FAILURE, Mark.OUTAGE)),
        )
        .order_by(Group.name, Discipline.name, Student.full_name)
    )
    result = []
    for student, group, discipline, starts_at, entry in rows:
        mark = effective_mark(Mark(entry.mark), entry.outage_since, now, settings.outage_wait)
        if mark in VALID_REASON:
            result.append(
                AdditionalSitting(
                    student.full_name, student.record_book, group, discipline, starts_at, mark
                )
            )
    return result
