"""Statements from the student's side: which exams they may file for, filing, withdrawing.

The draft lives in the FSM (so it survives a restart) as plain JSON; it becomes rows only
when the student presses Send, after every rule is checked again on the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
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
    SubgroupMember,
    Teacher,
    User,
)
from bot.domain.exams import EventKind
from bot.domain.reminders import NoticeKind, Planned, change_notice, notice_key, stamp
from bot.domain.statements import (
    Decision,
    StatementDraft,
    StatementKind,
    StatementStatus,
    absence_open,
    appeal_open,
    draft_problem,
    room_for_documents,
    timezone_open,
)
from bot.domain.timezones import parse_timezone
from bot.services.deanery_mail import queue_statement_mail
from bot.services.outbox import Outbox
from bot.services.reminders import deanery_recipients, plan_exam, queue
from bot.services.roll import mark_excused_by_statement


@dataclass
class Eligible:
    exam: Exam
    kinds: list[StatementKind] = field(default_factory=list)
    grade_posted_at: datetime | None = None


async def eligible_exams(
    session: AsyncSession, student: Student, now: datetime, *, settings: Settings
) -> list[Eligible]:
    """The student's exams a statement may be about now; an exam graded lately is listed
    even when its appeal window is closed, so that the student can be told when it was."""
    exams = await session.scalars(
        select(Exam)
        .where(Exam.group_id == student.group_id, Exam.cancelled_at.is_(None))
        .options(joinedload(Exam.discipline))
        .order_by(Exam.starts_at, Exam.id)
    )
    posted = await grades_posted(session, student)
    result = []
    for exam in exams:
        graded = posted.get(exam.id)
        kinds = allowed_kinds(exam, now, StatementRules.of(settings), grade_posted_at=graded)
        if kinds or _explains_appeal(exam, graded, now):
            result.append(Eligible(exam, kinds, graded))
    return result


# How long after a grade (or, while there is none, after the exam) the exam stays on
# /statement's list to explain when the appeal window is or was open.
RECENT_GRADE = timedelta(days=14)


def _explains_appeal(exam: Exam, graded: datetime | None, now: datetime) -> bool:
    """A recent exam nothing may be filed about: listed all the same, so that the student
    is told the appeal window closed, or that it opens with the grade (a written work is
    graded days later), rather than that there is no exam."""
    if graded is not None:
        return now - graded < RECENT_GRADE
    return exam.kind == EventKind.EXAM and exam.starts_at <= now < exam.starts_at + RECENT_GRADE


async def grades_posted(session: AsyncSession, student: Student) -> dict[int, datetime]:
    """exam id -> when the student's grade was posted (the appeal window counts from it)."""
    rows = await session.execute(
        select(RollEntry.exam_id, RollEntry.grade_posted_at).where(
            RollEntry.student_id == student.id, RollEntry.grade_posted_at.is_not(None)
        )
    )
    return {exam_id: posted for exam_id, posted in rows if posted is not None}


@dataclass(frozen=True)
class StatementRules:
    """What the statements' windows read of the settings: the university's zone (an
    appeal's "end of the next day") and how long absence documents may follow."""

    tz: ZoneInfo
    absence_docs_days: int

    @classmethod
    def of(cls, settings: Settings) -> StatementRules:
        return cls(settings.tz, settings.absence_docs_days)


def allowed_kinds(
    exam: Exam, now: datetime, rules: StatementRules, *, grade_posted_at: datetime | None = None
) -> list[StatementKind]:
    kinds = []
    if timezone_open(exam.starts_at, now):
        kinds.append(StatementKind.TIMEZONE)
    if absence_open(exam.starts_at, now, rules.absence_docs_days) and grade_posted_at is None:
        kinds.append(StatementKind.ABSENCE)
    if appeal_open(grade_posted_at, now, rules.tz):
        kinds.append(StatementKind.APPEAL)
    return kinds


class SubmitOutcome(StrEnum):
    OK = "ok"
    NOT_YOURS = "not_yours"
    CLOSED = "closed"  # the window for this kind has passed
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class SubmitResult:
    outcome: SubmitOutcome
    statement: Statement | None = None


async def submit(
    session: AsyncSession,
    student: Student,
    draft: StatementDraft | Mapping[str, Any],
    *,
    now: datetime,
    settings: Settings,
) -> SubmitResult:
    """Files the draft (a mapping is read as the dialogue's stored answers) if every rule
    of `draft_problem` holds and the window for its kind is open."""
    if not isinstance(draft, StatementDraft):
        draft = StatementDraft.from_form(draft)
    exam = await session.get(Exam, draft.exam_id)
    if exam is None or exam.group_id != student.group_id or exam.cancelled_at is not None:
        return SubmitResult(SubmitOutcome.NOT_YOURS)
    kind = draft.kind
    if kind is None:
        return SubmitResult(SubmitOutcome.INCOMPLETE)
    graded = (await grades_posted(session, student)).get(exam.id)
    if kind not in allowed_kinds(exam, now, StatementRules.of(settings), grade_posted_at=graded):
        return SubmitResult(SubmitOutcome.CLOSED)
    if draft_problem(draft) is not None:
        return SubmitResult(SubmitOutcome.INCOMPLETE)
    statement = Statement(
        student_id=student.id,
        exam_id=exam.id,
        kind=kind.value,
        status=StatementStatus.SUBMITTED.value,
        reason=draft.reason,
        violation=draft.violation,
        text=draft.text,
        time_zone=draft.time_zone,
        window=draft.window,
        submitted_at=now,
    )
    statement.files = [
        StatementFile(
            kind=f.kind,
            file_id=f.file_id,
            file_unique_id=f.file_unique_id,
            file_name=f.file_name,
            mime_type=f.mime_type,
            size=f.size,
            media_group_id=f.media_group_id,
            added_at=now,
        )
        for f in draft.files
    ]
    session.add(statement)
    await session.flush()
    return SubmitResult(SubmitOutcome.OK, statement)


async def student_statements(session: AsyncSession, student: Student) -> list[Statement]:
    return list(
        await session.scalars(
            select(Statement)
            .where(Statement.student_id == student.id)
            .options(
                joinedload(Statement.exam).joinedload(Exam.discipline),
                selectinload(Statement.files),
            )
            .order_by(Statement.id.desc())
        )
    )


async def withdraw(
    session: AsyncSession, student: Student | None, statement_id: int, *, now: datetime
) -> Statement | None:
    """Withdraws the student's own undecided statement; None if it is not theirs or decided."""
    if student is None:
        return None
    # Locked as `decide` locks it: a withdrawal at the moment of a decision waits for it
    # and then finds the statement decided, instead of overwriting a decision whose effects
    # (the roll, the student and teacher told) have happened.
    statement = await session.get(
        Statement,
        statement_id,
        options=[joinedload(Statement.exam).joinedload(Exam.discipline)],
        with_for_update={"of": Statement},
        populate_existing=True,
    )
    if (
        statement is None
        or statement.student_id != student.id
        or statement.status != StatementStatus.SUBMITTED
    ):
        return None
    statement.status = StatementStatus.WITHDRAWN.value
    statement.decided_at = now
    await session.flush()
    return statement


async def take_zone(
    session: AsyncSession, student: Student | None, user: User, *, statement_id: int
) -> str | None:
    """Sets the zone of the student's own time-zone statement as their zone (whatever its
    status: the student lives there either way); None if the statement is not theirs."""
    statement = await session.get(Statement, statement_id)
    if (
        student is None
        or statement is None
        or statement.student_id != student.id
        or statement.kind != StatementKind.TIMEZONE
        or not statement.time_zone
    ):
        return None
    # Stored as typed and checked then; checked again, as /tz would, before it is used.
    zone = parse_timezone(statement.time_zone)
    if zone is None:
        return None
    user.tz = zone
    await session.flush()
    return zone


async def faculty_of(session: AsyncSession, statement: Statement) -> int | None:
    return await session.scalar(
        select(Group.faculty_id)
        .join(Student, Student.group_id == Group.id)
        .where(Student.id == statement.student_id)
    )


async def announce_statement(
    session: AsyncSession,
    statement: Statement,
    now: datetime,
    *,
    settings: Settings,
    outbox: Outbox,
) -> int:
    """Queues the statement's card for the faculty's dean's office (and its e-mail copy,
    when the faculty has an address); returns how many."""
    faculty_id = await faculty_of(session, statement)
    recipients = await deanery_recipients(session, faculty_id or 0)
    rows = [_card_notice(statement.id, now, chat_id) for chat_id, _user in recipients]
    items: list[tuple[Planned, int, int | None, int | None]] = [
        (p, chat, user, None) for p, (chat, user) in zip(rows, recipients, strict=True)
    ]
    if statement.kind == StatementKind.APPEAL:
        # The table: the appeal goes to the dean's office, and the teacher is told of it.
        teacher_user = await _teacher_user(session, statement.exam_id)
        if teacher_user is not None:
            planned = _card_notice(statement.id, now, "teacher", to="teacher")
            items.append((planned, teacher_user, teacher_user, None))
    mailed = await queue_statement_mail(
        session, statement, now, mail_on=settings.smtp is not None, outbox=outbox
    )
    return await queue(session, items, statement.exam_id, outbox=outbox) + mailed


async def _teacher_user(session: AsyncSession, exam_id: int) -> int | None:
    return await session.scalar(
        select(Teacher.user_id).join(Exam, Exam.teacher_id == Teacher.id).where(Exam.id == exam_id)
    )


class DecideOutcome(StrEnum):
    OK = "ok"
    FORBIDDEN = "forbidden"
    ALREADY = "already"


async def decide(
    session: AsyncSession,
    dean_faculty_ids: frozenset[int],
    user_id: int,
    *,
    statement_id: int,
    action: Decision,
    comment: str | None,
    now: datetime,
    outbox: Outbox,
) -> tuple[DecideOutcome, Statement | None]:
    """Approve, reject or ask for more; only a dean of the student's faculty, only once."""
    statement = await session.get(Statement, statement_id, with_for_update={"of": Statement})
    if statement is None or await faculty_of(session, statement) not in dean_faculty_ids:
        return DecideOutcome.FORBIDDEN, None
    if statement.status != StatementStatus.SUBMITTED:
        return DecideOutcome.ALREADY, statement
    student_chat = await session.scalar(
        select(Student.user_id).where(Student.id == statement.student_id)
    )
    if action == "more":
        statement.decision_comment = comment
        key = notice_key(NoticeKind.STATEMENT_DECIDED, statement.id, "more", now.isoformat())
    else:
        statement.status = (
            StatementStatus.APPROVED.value
            if action == "approve"
            else StatementStatus.REJECTED.value
        )
        statement.decided_by = user_id
        statement.decided_at = now
        statement.decision_comment = comment
        key = notice_key(NoticeKind.STATEMENT_DECIDED, statement.id, statement.status)
    if student_chat is not None:
        planned = Planned(
            NoticeKind.STATEMENT_DECIDED,
            key,
            now,
            now + timedelta(days=60),
            {"statement_id": statement.id, "action": action, "comment": comment or ""},
        )
        await queue(
            session,
            [(planned, student_chat, student_chat, statement.student_id)],
            statement.exam_id,
            outbox=outbox,
        )
    if action != "more" and statement.kind == StatementKind.ABSENCE:
        # The roll: approved is "absent, valid reason" (the additional session's list);
        # rejected is "absent, no valid reason" unless the student did attend.
        await mark_excused_by_statement(
            session, statement.exam_id, statement.student_id, valid=action == "approve", now=now
        )
    if action != "more":
        # The teacher runs the roll call: they hear the outcome too.
        teacher_user = await _teacher_user(session, statement.exam_id)
        if teacher_user is not None:
            planned = Planned(
                NoticeKind.STATEMENT_DECIDED,
                notice_key(NoticeKind.STATEMENT_DECIDED, statement.id, "teacher"),
                now,
                now + timedelta(days=60),
                {"statement_id": statement.id, "action": action, "for": "teacher"},
            )
            await queue(
                session,
                [(planned, teacher_user, teacher_user, None)],
                statement.exam_id,
                outbox=outbox,
            )
    await session.flush()
    return DecideOutcome.OK, statement


async def dean_may_decide(
    session: AsyncSession, dean_faculty_ids: frozenset[int], statement_id: int
) -> Statement | None:
    statement = await session.get(Statement, statement_id)
    if statement is None or await faculty_of(session, statement) not in dean_faculty_ids:
        return None
    return statement


async def card_again(
    session: AsyncSession,
    dean_faculty_ids: frozenset[int],
    statement_id: int,
    *,
    chat_id: int,
    user_id: int | None,
    now: datetime,
    outbox: Outbox,
) -> DecideOutcome:
    """An undecided statement's card once more, to the chat /inbox was opened in: a dean
    who joined (or a chat bound) after it was filed never got it, and the card is where
    it is decided."""
    statement = await dean_may_decide(session, dean_faculty_ids, statement_id)
    if statement is None:
        return DecideOutcome.FORBIDDEN
    if statement.status != StatementStatus.SUBMITTED:
        return DecideOutcome.ALREADY
    planned = _card_notice(statement.id, now, chat_id, now.isoformat())
    await queue(session, [(planned, chat_id, user_id, None)], statement.exam_id, outbox=outbox)
    return DecideOutcome.OK


def _card_notice(statement_id: int, now: datetime, *key: object, to: str = "") -> Planned:
    """A statement's card: the dean's office's (`key`: the chat, and a moment for a card
    sent again from /inbox), or the teacher's (`to="teacher"`)."""
    payload: dict[str, object] = {"statement_id": statement_id}
    if to:
        payload["for"] = to
    return Planned(
        NoticeKind.STATEMENT,
        notice_key(NoticeKind.STATEMENT, statement_id, *key),
        now,
        now + timedelta(days=60),
        payload,
    )


async def undecided(session: AsyncSession, faculty_ids: frozenset[int]) -> list[Statement]:
    if not faculty_ids:
        return []
    return list(
        await session.scalars(
            select(Statement)
            .join(Student, Student.id == Statement.student_id)
            .join(Group, Group.id == Student.group_id)
            .where(
                Group.faculty_id.in_(faculty_ids),
                Statement.status == StatementStatus.SUBMITTED,
            )
            .options(joinedload(Statement.exam).joinedload(Exam.discipline))
            .order_by(Statement.submitted_at, Statement.id)
        )
    )


class MoveOutcome(StrEnum):
    ASKED = "asked"  # the teacher is asked to confirm
    MOVED = "moved"  # applied (confirmed, or no teacher in the bot to ask)
    FORBIDDEN = "forbidden"
    NOT_APPROVED = "not_approved"
    IN_PAST = "in_past"
    DECLINED = "declined"


async def propose_new_start(
    session: AsyncSession,
    dean_faculty_ids: frozenset[int],
    statement_id: int,
    *,
    new_start: datetime,
    now: datetime,
    settings: Settings,
    outbox: Outbox,
) -> tuple[MoveOutcome, Statement | None]:
    """The dean sets the student's new start; the teacher is asked to confirm it."""
    statement = await session.get(Statement, statement_id, with_for_update={"of": Statement})
    if statement is None or await faculty_of(session, statement) not in dean_faculty_ids:
        return MoveOutcome.FORBIDDEN, None
    if (
        statement.kind != StatementKind.TIMEZONE
        or statement.status != StatementStatus.APPROVED
        or statement.teacher_confirmed_at is not None
    ):
        return MoveOutcome.NOT_APPROVED, statement
    if new_start <= now:
        return MoveOutcome.IN_PAST, statement
    statement.new_start = new_start
    exam = await session.get(Exam, statement.exam_id)
    teacher_user = (
        await session.scalar(select(Teacher.user_id).where(Teacher.id == exam.teacher_id))
        if exam is not None and exam.teacher_id is not None
        else None
    )
    if teacher_user is None:
        await _move_student(session, statement, now, settings=settings, outbox=outbox)
        return MoveOutcome.MOVED, statement
    planned = Planned(
        NoticeKind.RESCHEDULE,
        notice_key(NoticeKind.RESCHEDULE, statement.id, stamp(new_start)),
        now,
        new_start,
        {"statement_id": statement.id},
    )
    await queue(
        session, [(planned, teacher_user, teacher_user, None)], statement.exam_id, outbox=outbox
    )
    await session.flush()
    return MoveOutcome.ASKED, statement


async def answer_new_start(
    session: AsyncSession,
    teacher: Teacher | None,
    statement_id: int,
    *,
    confirm: bool,
    now: datetime,
    settings: Settings,
    outbox: Outbox,
) -> tuple[MoveOutcome, Statement | None]:
    """The teacher of the exam confirms (or declines) the student's new start."""
    statement = await session.get(Statement, statement_id, with_for_update={"of": Statement})
    exam = await session.get(Exam, statement.exam_id) if statement is not None else None
    if statement is None or exam is None or teacher is None or exam.teacher_id != teacher.id:
        return MoveOutcome.FORBIDDEN, None
    if statement.new_start is None or statement.teacher_confirmed_at is not None:
        return MoveOutcome.NOT_APPROVED, statement
    if not confirm:
        declined = statement.new_start
        statement.new_start = None
        faculty_id = await faculty_of(session, statement)
        items = [
            (
                Planned(
                    NoticeKind.RESCHEDULE_DECLINED,
                    notice_key(NoticeKind.RESCHEDULE_DECLINED, statement.id, stamp(declined), chat),
                    now,
                    now + timedelta(days=60),
                    {"statement_id": statement.id, "declined": declined.isoformat()},
                ),
                chat,
                user,
                None,
            )
            for chat, user in await deanery_recipients(session, faculty_id or 0)
        ]
        await queue(session, items, statement.exam_id, outbox=outbox)
        await session.flush()
        return MoveOutcome.DECLINED, statement
    await _move_student(session, statement, now, settings=settings, outbox=outbox)
    return MoveOutcome.MOVED, statement


async def _move_student(
    session: AsyncSession,
    statement: Statement,
    now: datetime,
    *,
    settings: Settings,
    outbox: Outbox,
) -> None:
    """An individual sitting: a subgroup of one, so the student's reminders follow it."""
    assert statement.new_start is not None
    statement.teacher_confirmed_at = now
    number = (
        await session.scalar(
            select(func.max(Subgroup.number)).where(Subgroup.exam_id == statement.exam_id)
        )
        or 0
    ) + 1
    sitting = Subgroup(
        exam_id=statement.exam_id, number=number, starts_at=statement.new_start, individual=True
    )
    session.add(sitting)
    await session.flush()
    await session.execute(
        delete(SubgroupMember).where(
            SubgroupMember.exam_id == statement.exam_id,
            SubgroupMember.student_id == statement.student_id,
        )
    )
    session.add(
        SubgroupMember(
            exam_id=statement.exam_id, subgroup_id=sitting.id, student_id=statement.student_id
        )
    )
    await session.flush()
    student_chat = await session.scalar(
        select(Student.user_id).where(Student.id == statement.student_id)
    )
    exam = await session.get(Exam, statement.exam_id)
    if student_chat is not None and exam is not None:
        # Told whether or not a card went out before: the statement asked for this.
        change = change_notice(
            NoticeKind.TIME_CHANGED,
            exam.id,
            statement.student_id,
            what=stamp(statement.new_start),
            now=now,
            until=statement.new_start,
            payload={"start": statement.new_start.isoformat()},
        )
        await queue(
            session,
            [(change, student_chat, student_chat, statement.student_id)],
            exam.id,
            outbox=outbox,
        )
    await plan_exam(session, statement.exam_id, now, settings=settings, outbox=outbox)


def can_add_documents(
    statement: Statement, exam: Exam, now: datetime, *, rules: StatementRules
) -> bool:
    """An undecided absence statement until ABSENCE_DOCS_DAYS after the exam; any undecided
    statement the dean's office asked more about ("Ask for more" leaves a comment)."""
    if statement.status != StatementStatus.SUBMITTED:
        return False
    if statement.decision_comment is not None:
        return True
    return statement.kind == StatementKind.ABSENCE and absence_open(
        exam.starts_at, now, rules.absence_docs_days
    )


async def open_for_documents(
    session: AsyncSession,
    student: Student | None,
    statement_id: int,
    *,
    now: datetime,
    settings: Settings,
) -> Statement | None:
    """The student's own absence statement, if documents may still be added to it."""
    if student is None:
        return None
    statement = await session.get(Statement, statement_id, options=[selectinload(Statement.files)])
    exam = await session.get(Exam, statement.exam_id) if statement is not None else None
    if (
        statement is None
        or exam is None
        or statement.student_id != student.id
        or not can_add_documents(statement, exam, now, rules=StatementRules.of(settings))
    ):
        return None
    return statement


async def add_documents(
    session: AsyncSession,
    student: Student | None,
    statement_id: int,
    *,
    files: list[dict[str, Any]],
    now: datetime,
    settings: Settings,
    answer: str = "",
    outbox: Outbox,
) -> Statement | None:
    """Documents (and a written answer to the dean's question) that follow a statement;
    the dean's office gets them as a follow-up. None if not allowed or nothing given."""
    answer = answer.strip()
    if not files and not answer:
        return None
    statement = await open_for_documents(session, student, statement_id, now=now, settings=settings)
    if statement is None:
        return None
    # The dialogue takes no more than there is room for; two follow-ups at once still
    # cannot pass the statement's limit.
    room = room_for_documents(len(statement.files))
    added = [
        StatementFile(
            statement_id=statement.id,
            kind=f["kind"],
            file_id=f["file_id"],
            file_unique_id=f["file_unique_id"],
            file_name=f.get("file_name"),
            mime_type=f.get("mime_type"),
            size=f.get("size"),
            media_group_id=f.get("media_group_id"),
            added_at=now,
        )
        for f in files[:room]
    ]
    if not added and not answer:
        return None  # no follow-up with nothing in it
    session.add_all(added)
    if answer:
        # Kept with the statement, marked as the answer, so the record shows the exchange.
        statement.text = f"{statement.text}\n\n[{now:%Y-%m-%d %H:%M} UTC] {answer}".strip()
    await session.flush()
    faculty_id = await faculty_of(session, statement)
    recipients = await deanery_recipients(session, faculty_id or 0)
    payload = {
        "statement_id": statement.id,
        "files": [[f.kind, f.file_id] for f in added],
        "answer": answer,
    }
    items = [
        (
            Planned(
                NoticeKind.STATEMENT_DOCS,
                notice_key(
                    NoticeKind.STATEMENT_DOCS,
                    statement.id,
                    chat,
                    added[0].id if added else now.isoformat(),
                ),
                now,
                now + timedelta(days=60),
                payload,
            ),
            chat,
            user,
            None,
        )
        for chat, user in recipients
    ]
    await queue(session, items, statement.exam_id, outbox=outbox)
    await queue_statement_mail(
        session, statement, now, mail_on=settings.smtp is not None, added=added, outbox=outbox
    )
    return statement
