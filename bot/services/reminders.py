"""Planning the outbox: which notices each exam owes, kept in step with the data; and the
deadline reminders of individual study plans.

Called whenever an exam, its link, its students or their links change, and at start-up.
Planning is idempotent (notices are keyed), so calling it too often costs a few queries
and nothing else. Every function that adds notices takes the unit of work's `Outbox`
(bot.services.outbox) and counts them on it; the unit of work wakes the sender once the
transaction commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.engine import dialect_insert
from bot.db.models import (
    DeaneryChat,
    DeanMember,
    Exam,
    Group,
    Notice,
    NoticeStatus,
    PlanItem,
    Student,
    Subgroup,
    SubgroupMember,
    Teacher,
    User,
)
from bot.domain.reminders import (
    NoticeKind,
    Planned,
    change_notice,
    deadline_notices,
    link_missing_for_deans,
    link_nags,
    notice_key,
    stamp,
    student_notices,
)
from bot.services.outbox import Outbox

STUDENT_KINDS = (NoticeKind.DAY_BEFORE.value, NoticeKind.JOIN_CALL.value)
LINK_KINDS = (NoticeKind.LINK_NAG.value, NoticeKind.LINK_MISSING.value)
EXAM_PLAN_KINDS = (
    *STUDENT_KINDS,
    *LINK_KINDS,
    NoticeKind.TIME_CHANGED.value,
    NoticeKind.LINK_CHANGED.value,
)


@dataclass
class PlanReport:
    created: int = 0
    cancelled: int = 0
    past_exams: list[int] = field(default_factory=list)
    # On the roster but not in the bot: nobody to tell. A set, so that a student of a
    # group with 30 exams counts once, not 30 times.
    unlinked: set[int] = field(default_factory=set)

    @property
    def unlinked_students(self) -> int:
        return len(self.unlinked)

    def add(self, other: PlanReport) -> None:
        self.created += other.created
        self.cancelled += other.cancelled
        self.unlinked |= other.unlinked
        self.past_exams += other.past_exams


@dataclass(frozen=True)
class _Recipient:
    chat_id: int
    user_id: int | None
    student_id: int | None = None


# An exam's notices as plain rows, not ORM objects: planning only reads them, and a bulk
# plan of thousands of exams must not fill the session's identity map.
_EXISTING = select(
    Notice.id,
    Notice.key,
    Notice.kind,
    Notice.status,
    Notice.student_id,
    Notice.chat_id,
    Notice.user_id,
    Notice.payload,
    Notice.due_at,
    Notice.exam_id,
)
_Existing = Row[
    tuple[int, str, str, str, int | None, int, int | None, dict[str, Any], datetime, int | None]
]
# Exams loaded per query: IN lists well under SQLite's 32,766 parameters.
BULK_EXAMS = 500
# Linked (student, exam) pairs planned per round of queries (plan_exams_bulk). Each becomes
# a few notices held in memory until the round's insert; rounds of this size keep an
# import's peak to a few MB.
BULK_PAIRS = 300


def _until(exam: Exam) -> datetime:
    return exam.starts_at + timedelta(minutes=exam.duration_min)


@dataclass
class _ExamFacts:
    """What planning one exam reads from the database (one exam's worth, or a bulk load's)."""

    starts: dict[int, datetime]  # subgroup starts by student
    existing: dict[str, _Existing]  # the exam's notices by key
    students: list[tuple[int, int | None, bool | None]]  # (student, user, active) of the group
    teacher_user: int | None = None  # asked only while the exam has no link
    deanery: list[_Recipient] = field(default_factory=list)  # likewise


async def plan_exam(
    session: AsyncSession, exam_id: int, now: datetime, *, settings: Settings, outbox: Outbox
) -> PlanReport:
    report = PlanReport()
    exam = await session.get(
        Exam,
        exam_id,
    )
    if exam is None:
        return report
    # Plain queries, not relationships: the exam may already sit in this session without
    # them loaded, and a lazy load cannot run here.
    starts = await _student_starts(session, exam)
    rows = await session.execute(_EXISTING.where(Notice.exam_id == exam.id))
    existing = {n.key: n for n in rows}
    if exam.cancelled_at is not None:
        _note_past(exam, starts, now, report=report)
        return await _plan_cancellation(
            session, exam, existing, starts=starts, now=now, report=report, outbox=outbox
        )
    students = await session.execute(
        select(Student.id, Student.user_id, User.is_active)
        .outerjoin(User, User.id == Student.user_id)
        .where(Student.group_id == exam.group_id)
    )
    facts = _ExamFacts(starts, existing, [(i, u, a) for i, u, a in students])
    if not exam.link:
        facts.teacher_user = (
            await session.scalar(select(Teacher.user_id).where(Teacher.id == exam.teacher_id))
            if exam.teacher_id is not None
            else None
        )
        faculty_id = await session.scalar(select(Group.faculty_id).where(Group.id == exam.group_id))
        facts.deanery = await _deanery(session, faculty_id or 0)
    wanted, stale = _exam_plan(exam, facts, now, leads=Leads.of(settings), report=report)
    report.cancelled = await _cancel(session, stale)
    report.created = await _revive(session, wanted, existing, outbox=outbox)
    report.created += await _insert(
        session, wanted, exam.id, existing=existing.keys(), outbox=outbox
    )
    return report


def _note_past(
    exam: Exam, starts: dict[int, datetime], now: datetime, *, report: PlanReport
) -> None:
    if max([exam.starts_at, *starts.values()]) <= now:
        report.past_exams.append(exam.id)


@dataclass(frozen=True)
class Leads:
    """How long before an exam its student is reminded (the day before; the join link)."""

    day_before: timedelta
    join_early: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Leads:
        return cls(settings.day_before_lead, settings.join_early_lead)


@dataclass(frozen=True)
class DeadlineRules:
    """When a study plan's deadline is reminded of: days before, in the university's zone."""

    lead_days: tuple[int, ...]
    tz: ZoneInfo

    @classmethod
    def of(cls, settings: Settings) -> DeadlineRules:
        return cls(settings.plan_reminder_days, settings.tz)


def _exam_plan(
    exam: Exam, facts: _ExamFacts, now: datetime, *, leads: Leads, report: PlanReport
) -> tuple[list[tuple[Planned, _Recipient]], list[int]]:
    """The notices one exam owes (not cancelled), and its pending ones no longer owed."""
    _note_past(exam, facts.starts, now, report=report)
    existing = facts.existing
    wanted: list[tuple[Planned, _Recipient]] = []
    for student_id, user_id, is_active in facts.students:
        if user_id is None or not is_active:
            if user_id is None:
                report.unlinked.add(student_id)
            continue
        start = facts.starts.get(student_id, exam.starts_at)
        recipient = _Recipient(user_id, user_id, student_id)
        told = _told_start(existing.values(), student_id)
        changed = told is not None and told != start and start > now
        if told is not None and changed:
            change = change_notice(
                NoticeKind.TIME_CHANGED,
                exam.id,
                student_id,
                what=_change_what(existing, exam.id, student_id, start=start),
                now=now,
                until=start,
                payload={"start": start.isoformat(), "old_start": told.isoformat()},
            )
            wanted.append((change, recipient))
        announced_at = now if changed else _change_announced(existing.values(), student_id, start)
        for planned in student_notices(
            exam.id,
            student_id,
            exam.kind,
            start=start,
            now=now,
            day_lead=leads.day_before,
            join_lead=leads.join_early,
        ):
            # A change announced shortly before the new time already is the card.
            if (
                planned.kind is NoticeKind.DAY_BEFORE
                and announced_at is not None
                and start - announced_at <= 2 * leads.day_before
            ):
                continue
            wanted.append((planned, recipient))

    if not exam.link:
        if facts.teacher_user is not None:
            teacher = _Recipient(facts.teacher_user, facts.teacher_user)
            wanted += [(p, teacher) for p in link_nags(exam.id, exam.starts_at, now)]
        for recipient in facts.deanery:
            planned_dean = link_missing_for_deans(
                exam.id, recipient.chat_id, exam.starts_at, now=now
            )
            if planned_dean is not None:
                wanted.append((planned_dean, recipient))

    wanted_keys = {p.key for p, _ in wanted}
    stale = [
        n.id
        for n in existing.values()
        if n.status == NoticeStatus.PENDING
        and (
            (n.kind in (*STUDENT_KINDS, *LINK_KINDS) and n.key not in wanted_keys)
            or (n.kind == NoticeKind.TIME_CHANGED and _no_longer_true(n, exam, facts.starts))
        )
    ]
    return wanted, stale


def _no_longer_true(change: _Existing, exam: Exam, starts: dict[int, datetime]) -> bool:
    """A time change not yet sent whose time no longer holds (moved again, or back)."""
    if change.student_id is None or "start" not in change.payload:
        return False
    start = starts.get(change.student_id, exam.starts_at)
    return bool(datetime.fromisoformat(change.payload["start"]) != start)


async def _revive(
    session: AsyncSession,
    wanted: Iterable[tuple[Planned, _Recipient]],
    existing: dict[str, _Existing],
    *,
    outbox: Outbox,
) -> int:
    """Notices withdrawn earlier and owed again (an exam moved back to its old time, a
    student who unblocked the bot): keys are unique, so the old row comes back. A pending
    one owed to someone else now (the exam's new teacher, for a link reminder) is
    readdressed."""
    revived = 0
    for planned, recipient in wanted:
        row = existing.get(planned.key)
        if row is None:
            continue
        if row.status == NoticeStatus.PENDING and row.chat_id != recipient.chat_id:
            await session.execute(
                update(Notice)
                .where(Notice.id == row.id, Notice.status == NoticeStatus.PENDING)
                .values(chat_id=recipient.chat_id, user_id=recipient.user_id)
            )
            continue
        if row.status != NoticeStatus.CANCELLED:
            continue
        done = await session.execute(
            update(Notice)
            .where(Notice.id == row.id, Notice.status == NoticeStatus.CANCELLED)
            .values(
                status=NoticeStatus.PENDING.value,
                chat_id=recipient.chat_id,
                user_id=recipient.user_id,
                payload=planned.payload,
                due_at=planned.due_at,
                expires_at=planned.expires_at,
                attempts=0,
                last_error=None,
            )
        )
        revived += done.rowcount  # type: ignore[attr-defined]
    outbox.planned(revived)
    return revived


async def _plan_cancellation(
    session: AsyncSession,
    exam: Exam,
    existing: dict[str, _Existing],
    *,
    starts: dict[int, datetime],
    now: datetime,
    report: PlanReport,
    outbox: Outbox,
) -> PlanReport:
    """Withdraw what is pending; tell each student who had already been told of the exam
    and whose own sitting (their subgroup's, or the group's) is not over yet."""
    # Only the exam's own reminders: statement cards and decisions still have to go out.
    report.cancelled = await _cancel(
        session,
        [
            n.id
            for n in existing.values()
            if n.status == NoticeStatus.PENDING and n.kind in EXAM_PLAN_KINDS
        ],
    )
    told = {
        n.student_id: (n.chat_id, n.user_id)
        for n in existing.values()
        if n.student_id is not None
        and n.status in TOLD
        and n.kind in (*STUDENT_KINDS, NoticeKind.TIME_CHANGED, NoticeKind.LINK_CHANGED)
    }
    duration = timedelta(minutes=exam.duration_min)
    wanted = [
        (
            change_notice(
                NoticeKind.CANCELLED,
                exam.id,
                student_id,
                what=stamp(exam.starts_at),
                now=now,
                until=start + duration,
                payload={"start": start.isoformat()},
            ),
            _Recipient(chat_id, user_id, student_id),
        )
        for student_id, (chat_id, user_id) in told.items()
        if (start := starts.get(student_id, exam.starts_at)) + duration > now
    ]
    report.created = await _insert(
        session, wanted, exam.id, existing=existing.keys(), outbox=outbox
    )
    return report


async def cancel_exam(
    session: AsyncSession, exam_id: int, now: datetime, *, settings: Settings, outbox: Outbox
) -> PlanReport | None:
    """Marks the exam cancelled and tells whoever was told of it; None if there is no such exam."""
    exam = await session.get(Exam, exam_id)
    if exam is None:
        return None
    if exam.cancelled_at is None:
        exam.cancelled_at = now
        await session.flush()
    return await plan_exam(session, exam_id, now, settings=settings, outbox=outbox)


# A notice that told its student: sent, or claimed (going out now: it may be on their screen
# before its sent mark is written, and being told of a change one did not need beats a card
# left standing for a cancelled or moved exam).
TOLD = (NoticeStatus.SENT, NoticeStatus.CLAIMED)


def _told_start(notices: Iterable[_Existing], student_id: int) -> datetime | None:
    """The latest start this student was already told (a card or a join call went out, or
    is going out: TOLD)."""
    told = [
        n
        for n in notices
        if n.student_id == student_id
        and n.status in TOLD
        and n.kind in (*STUDENT_KINDS, NoticeKind.TIME_CHANGED)
        and "start" in n.payload
    ]
    if not told:
        return None
    # The one told last (by when it fell due, then planned), not the latest start: an exam
    # moved earlier and back has told the earlier start last.
    latest = max(told, key=lambda n: (n.due_at, n.id))
    return datetime.fromisoformat(latest.payload["start"])


def _change_what(
    existing: dict[str, _Existing], exam_id: int, student_id: int, *, start: datetime
) -> str:
    """What names a move to `start` in its notice's key: the start, and when the student
    was already told of a move to it once (moved there, away and back again), how many
    moves they have been told of, so the move back is announced too."""
    what = stamp(start)
    earlier = existing.get(notice_key(NoticeKind.TIME_CHANGED, exam_id, student_id, what))
    if earlier is None or earlier.status not in TOLD:
        return what
    moves = sum(
        1
        for n in existing.values()
        if n.student_id == student_id and n.kind == NoticeKind.TIME_CHANGED and n.status in TOLD
    )
    return f"{what}~{moves}"


def _change_announced(
    notices: Iterable[_Existing], student_id: int, start: datetime
) -> datetime | None:
    """When this student was (or is about to be) told that the exam moved to `start`."""
    times = [
        n.due_at
        for n in notices
        if n.student_id == student_id
        and n.kind == NoticeKind.TIME_CHANGED
        and n.status in (NoticeStatus.PENDING, NoticeStatus.CLAIMED, NoticeStatus.SENT)
        and n.payload.get("start") == start.isoformat()
    ]
    return min(times) if times else None


async def _student_starts(session: AsyncSession, exam: Exam) -> dict[int, datetime]:
    rows = await session.execute(
        select(SubgroupMember.student_id, Subgroup.starts_at)
        .join(Subgroup, Subgroup.id == SubgroupMember.subgroup_id)
        .where(SubgroupMember.exam_id == exam.id)
    )
    return {student_id: starts_at for student_id, starts_at in rows}


async def _deanery(session: AsyncSession, faculty_id: int) -> list[_Recipient]:
    """The faculty's dean's-office chat, or each dean privately when no chat is bound."""
    chat = await session.scalar(select(DeaneryChat).where(DeaneryChat.faculty_id == faculty_id))
    if chat is not None:
        return [_Recipient(chat.chat_id, None)]
    deans = await session.scalars(
        select(DeanMember.user_id).where(DeanMember.faculty_id == faculty_id)
    )
    return [_Recipient(user_id, user_id) for user_id in deans]


async def _cancel(session: AsyncSession, ids: list[int]) -> int:
    # In slices: a bulk plan may withdraw more notices than SQLite takes parameters.
    for first in range(0, len(ids), 10_000):
        await session.execute(
            update(Notice)
            .where(
                Notice.id.in_(ids[first : first + 10_000]), Notice.status == NoticeStatus.PENDING
            )
            .values(status=NoticeStatus.CANCELLED.value)
        )
    return len(ids)


async def _insert(
    session: AsyncSession,
    wanted: list[tuple[Planned, _Recipient]],
    exam_id: int | None,
    *,
    existing: Iterable[str],
    outbox: Outbox,
) -> int:
    rows = _notice_rows([(p, r, exam_id) for p, r in wanted], set(existing))
    return await _insert_rows(session, rows, outbox=outbox)


def _notice_rows(
    wanted: Iterable[tuple[Planned, _Recipient, int | None]], known: set[str]
) -> list[dict[str, Any]]:
    """Rows for the notices whose key is not `known` yet (nor earlier in `wanted`)."""
    rows = []
    for planned, recipient, exam_id in wanted:
        if planned.key in known:
            continue
        known.add(planned.key)
        rows.append(
            {
                "key": planned.key,
                "kind": planned.kind.value,
                "chat_id": recipient.chat_id,
                "user_id": recipient.user_id,
                "exam_id": exam_id,
                "student_id": recipient.student_id,
                "payload": planned.payload,
                "due_at": planned.due_at,
                "expires_at": planned.expires_at,
                "status": NoticeStatus.PENDING.value,
                "attempts": 0,
            }
        )
    return rows


async def _insert_rows(session: AsyncSession, rows: list[dict[str, Any]], *, outbox: Outbox) -> int:
    if not rows:
        return 0
    # Another process may plan the same notices at the same moment (replicas starting
    # together, two students of a group linking at once on different replicas): the key
    # decides, and the notice is kept once instead of failing the whole transaction. The
    # rows go in key order, so two such inserts wait for each other instead of deadlocking.
    rows.sort(key=lambda row: str(row["key"]))
    statement = dialect_insert(session, Notice).on_conflict_do_nothing(index_elements=[Notice.key])
    created = len((await session.scalars(statement.returning(Notice.id), rows)).all())
    outbox.planned(created)
    return created


async def plan_exams(
    session: AsyncSession,
    exam_ids: Iterable[int],
    now: datetime,
    *,
    settings: Settings,
    outbox: Outbox,
) -> PlanReport:
    report = PlanReport()
    for exam_id in exam_ids:
        report.add(await plan_exam(session, exam_id, now, settings=settings, outbox=outbox))
    return report


async def plan_exams_bulk(
    session: AsyncSession,
    exam_ids: Iterable[int],
    now: datetime,
    *,
    settings: Settings,
    outbox: Outbox,
) -> PlanReport:
    """As plan_exams, in bulk: a few queries and one insert per round of exams with about
    BULK_PAIRS linked students between them. For imports of thousands of exams."""
    report = PlanReport()
    ids = list(dict.fromkeys(exam_ids))
    for first in range(0, len(ids), BULK_EXAMS):
        chunk = ids[first : first + BULK_EXAMS]
        by_id = {e.id: e for e in await session.scalars(select(Exam).where(Exam.id.in_(chunk)))}
        exams = [by_id[i] for i in chunk if i in by_id]
        linked: dict[int, int] = {
            group_id: count
            for group_id, count in await session.execute(
                select(Student.group_id, func.count(Student.user_id))
                .where(Student.group_id.in_({e.group_id for e in exams}))
                .group_by(Student.group_id)
            )
        }
        for round_ in _rounds(exams, linked):
            report.add(await _plan_bulk(session, round_, now, settings=settings, outbox=outbox))
    return report


def _rounds(exams: list[Exam], linked: dict[int, int]) -> Iterator[list[Exam]]:
    round_: list[Exam] = []
    pairs = 0
    for exam in exams:
        if round_ and pairs + linked.get(exam.group_id, 0) > BULK_PAIRS:
            yield round_
            round_, pairs = [], 0
        round_.append(exam)
        pairs += linked.get(exam.group_id, 0)
    if round_:
        yield round_


async def _plan_bulk(
    session: AsyncSession, exams: list[Exam], now: datetime, *, settings: Settings, outbox: Outbox
) -> PlanReport:
    report = PlanReport()
    facts = await _bulk_facts(session, [e for e in exams if e.cancelled_at is None])
    wanted: list[tuple[Planned, _Recipient, int]] = []
    stale: list[int] = []
    known: set[str] = set()
    revive: list[tuple[list[tuple[Planned, _Recipient]], dict[str, _Existing]]] = []
    for exam in exams:
        if exam.cancelled_at is not None:  # rare: the exam-by-exam path
            report.add(await plan_exam(session, exam.id, now, settings=settings, outbox=outbox))
            continue
        owed, old = _exam_plan(exam, facts[exam.id], now, leads=Leads.of(settings), report=report)
        wanted += [(planned, recipient, exam.id) for planned, recipient in owed]
        stale += old
        known.update(facts[exam.id].existing)
        revive.append((owed, facts[exam.id].existing))
    report.cancelled += await _cancel(session, stale)
    for owed, existing in revive:
        report.created += await _revive(session, owed, existing, outbox=outbox)
    report.created += await _insert_rows(session, _notice_rows(wanted, known), outbox=outbox)
    return report


async def _bulk_facts(session: AsyncSession, exams: list[Exam]) -> dict[int, _ExamFacts]:
    """_ExamFacts of many exams, in one query per kind of fact."""
    exam_ids = [e.id for e in exams]
    starts: dict[int, dict[int, datetime]] = {i: {} for i in exam_ids}
    for exam_id, student_id, starts_at in await session.execute(
        select(SubgroupMember.exam_id, SubgroupMember.student_id, Subgroup.starts_at)
        .join(Subgroup, Subgroup.id == SubgroupMember.subgroup_id)
        .where(SubgroupMember.exam_id.in_(exam_ids))
    ):
        starts[exam_id][student_id] = starts_at
    existing: dict[int, dict[str, _Existing]] = {i: {} for i in exam_ids}
    for row in await session.execute(_EXISTING.where(Notice.exam_id.in_(exam_ids))):
        existing[row.exam_id][row.key] = row
    groups: dict[int, list[tuple[int, int | None, bool | None]]] = {e.group_id: [] for e in exams}
    for group_id, student_id, user_id, is_active in await session.execute(
        select(Student.group_id, Student.id, Student.user_id, User.is_active)
        .outerjoin(User, User.id == Student.user_id)
        .where(Student.group_id.in_(groups))
    ):
        groups[group_id].append((student_id, user_id, is_active))
    facts = {e.id: _ExamFacts(starts[e.id], existing[e.id], groups[e.group_id]) for e in exams}
    unlinked = [e for e in exams if not e.link]
    if unlinked:
        teacher_ids = {e.teacher_id for e in unlinked if e.teacher_id is not None}
        teachers: dict[int, int | None] = {
            teacher_id: user_id
            for teacher_id, user_id in await session.execute(
                select(Teacher.id, Teacher.user_id).where(Teacher.id.in_(teacher_ids))
            )
        }
        deaneries = await _deaneries(session, {e.group_id for e in unlinked})
        for exam in unlinked:
            fact = facts[exam.id]
            fact.teacher_user = (
                teachers.get(exam.teacher_id) if exam.teacher_id is not None else None
            )
            fact.deanery = deaneries.get(exam.group_id, [])
    return facts


async def _deaneries(session: AsyncSession, group_ids: set[int]) -> dict[int, list[_Recipient]]:
    """_deanery of each group's faculty, for many groups at once."""
    faculties: dict[int, int] = {
        group_id: faculty_id
        for group_id, faculty_id in await session.execute(
            select(Group.id, Group.faculty_id).where(Group.id.in_(group_ids))
        )
    }
    chats: dict[int, int] = {
        faculty_id: chat_id
        for faculty_id, chat_id in await session.execute(
            select(DeaneryChat.faculty_id, DeaneryChat.chat_id).where(
                DeaneryChat.faculty_id.in_(set(faculties.values()))
            )
        )
    }
    deans: dict[int, list[_Recipient]] = {}
    for faculty_id, user_id in await session.execute(
        select(DeanMember.faculty_id, DeanMember.user_id).where(
            DeanMember.faculty_id.in_(set(faculties.values()) - set(chats))
        )
    ):
        deans.setdefault(faculty_id, []).append(_Recipient(user_id, user_id))
    return {
        group_id: [_Recipient(chats[faculty_id], None)]
        if faculty_id in chats
        else deans.get(faculty_id, [])
        for group_id, faculty_id in faculties.items()
    }


async def plan_upcoming(
    session: AsyncSession, now: datetime, settings: Settings, *, bulk: bool = False, outbox: Outbox
) -> PlanReport:
    """Every exam not yet started (subgroups included): at start-up, to catch up."""
    ids = await session.scalars(
        select(Exam.id)
        .where(Exam.starts_at > now - timedelta(hours=12), Exam.cancelled_at.is_(None))
        .order_by(Exam.id)
    )
    plan = plan_exams_bulk if bulk else plan_exams
    return await plan(session, list(ids), now=now, settings=settings, outbox=outbox)


async def plan_for_student(
    session: AsyncSession, student: Student, now: datetime, *, settings: Settings, outbox: Outbox
) -> PlanReport:
    """A student just linked their account: their exams, and their study plan's
    deadlines, owe them notices now."""
    ids = await session.scalars(
        select(Exam.id).where(Exam.group_id == student.group_id, Exam.starts_at > now)
    )
    report = await plan_exams(session, list(ids), now, settings=settings, outbox=outbox)
    report.add(
        await plan_deadlines(
            session, [student.id], now, rules=DeadlineRules.of(settings), outbox=outbox
        )
    )
    return report


async def plan_deadlines(
    session: AsyncSession,
    student_ids: Collection[int],
    now: datetime,
    *,
    rules: DeadlineRules,
    outbox: Outbox,
) -> PlanReport:
    """Deadline reminders of these students' study plans (PLAN_REMINDER_DAYS before each
    deadline), kept in step with the plans: a moved deadline gets new reminders and its
    pending old ones are withdrawn; a deadline moved back revives its withdrawn ones."""
    report = PlanReport()
    if not student_ids:
        return report
    recipients: dict[int, _Recipient] = {}
    students = await session.execute(
        select(Student.id, Student.user_id, User.is_active)
        .outerjoin(User, User.id == Student.user_id)
        .where(Student.id.in_(student_ids))
    )
    for student_id, user_id, is_active in students:
        if user_id is None:
            report.unlinked.add(student_id)
        elif is_active:
            recipients[student_id] = _Recipient(user_id, user_id, student_id)
    items = await session.execute(
        select(PlanItem.id, PlanItem.student_id, PlanItem.deadline).where(
            PlanItem.student_id.in_(recipients)
        )
    )
    wanted = [
        (planned, recipients[student_id])
        for item_id, student_id, deadline in items
        for planned in deadline_notices(
            student_id,
            item_id,
            deadline,
            now=now,
            lead_days=rules.lead_days,
            tz=rules.tz,
        )
    ]
    existing = {
        n.key: n
        for n in await session.scalars(
            select(Notice).where(
                Notice.kind == NoticeKind.PLAN_DEADLINE.value,
                Notice.student_id.in_(student_ids),
            )
        )
    }
    wanted_keys = {planned.key: planned for planned, _ in wanted}
    report.cancelled = await _cancel(
        session,
        [
            n.id
            for n in existing.values()
            if n.status == NoticeStatus.PENDING and n.key not in wanted_keys
        ],
    )
    for key, planned in wanted_keys.items():
        notice = existing.get(key)
        if notice is not None and notice.status == NoticeStatus.CANCELLED:
            # Keys are unique, so the old row comes back rather than a new one.
            notice.status = NoticeStatus.PENDING.value
            notice.due_at = planned.due_at
            notice.expires_at = planned.expires_at
            notice.attempts = 0
            report.created += 1
            outbox.planned()
    report.created += await _insert(session, wanted, None, existing=existing.keys(), outbox=outbox)
    return report


async def plan_faculty(
    session: AsyncSession, faculty_id: int, now: datetime, *, settings: Settings, outbox: Outbox
) -> PlanReport:
    """The faculty's dean's office changed (a chat bound, a dean joined): who is told moves."""
    ids = await session.scalars(
        select(Exam.id)
        .join(Group, Group.id == Exam.group_id)
        .where(Group.faculty_id == faculty_id, Exam.starts_at > now)
    )
    return await plan_exams(session, list(ids), now, settings=settings, outbox=outbox)


async def announce_link(
    session: AsyncSession,
    exam: Exam,
    now: datetime,
    *,
    settings: Settings,
    outbox: Outbox,
    moodle: bool = False,
) -> PlanReport:
    """The link was posted or changed: students who already got the card (or whose card
    is going out now, rendered perhaps without it: TOLD) get the link now, and reminders
    about the missing link are withdrawn. `moodle`: the Moodle link it is (the card of a
    test promises it as soon as it is posted)."""
    report = await plan_exam(session, exam.id, now, settings=settings, outbox=outbox)
    link = exam.moodle_url if moodle else exam.link
    if not link:
        return report
    # Each student's own sitting: an individual one may come after the group's is over.
    starts = await _student_starts(session, exam)
    duration = timedelta(minutes=exam.duration_min)
    digest = hashlib.sha256(link.encode()).hexdigest()[:16]
    told = await session.execute(
        select(Notice.student_id, Notice.chat_id, Notice.user_id)
        .where(
            Notice.exam_id == exam.id,
            Notice.kind.in_(STUDENT_KINDS),
            Notice.status.in_(TOLD),
        )
        .distinct()
    )
    field_ = "moodle" if moodle else "link"
    changes = list(
        await session.execute(
            _EXISTING.where(Notice.exam_id == exam.id, Notice.kind == NoticeKind.LINK_CHANGED)
        )
    )
    wanted = [
        (
            change_notice(
                NoticeKind.LINK_CHANGED,
                exam.id,
                student_id,
                what=_link_what(changes, student_id, field_=field_, link=link, digest=digest),
                now=now,
                until=until,
                payload={"moodle": link} if moodle else {"link": link},
            ),
            _Recipient(chat_id, user_id, student_id),
        )
        for student_id, chat_id, user_id in told
        if student_id is not None
        and (until := starts.get(student_id, exam.starts_at) + duration) > now
    ]
    keys = set(await session.scalars(select(Notice.key).where(Notice.exam_id == exam.id)))
    report.created += await _insert(session, wanted, exam.id, existing=keys, outbox=outbox)
    return report


def _link_what(
    changes: list[_Existing], student_id: int, *, field_: str, link: str, digest: str
) -> str:
    """What names a link in its notice's key: its digest, and when the student was told of
    this link once and of another since (changed back), how many they have been told of."""
    what = f"moodle-{digest}" if field_ == "moodle" else digest
    told = [
        n
        for n in changes
        if n.student_id == student_id and n.status in TOLD and field_ in n.payload
    ]
    if not told:
        return what
    latest = max(told, key=lambda n: (n.due_at, n.id))
    if latest.payload[field_] == link or not any(n.payload[field_] == link for n in told):
        return what  # told of it last (nothing new), or never (its key is free)
    return f"{what}~{len(told)}"


@dataclass(frozen=True)
class OutboxSummary:
    counts: dict[str, int]
    next_due: list[tuple[datetime, str, int]]  # (due, kind, chat)
    # The e-mail copies among them (also counted above), and why the latest one that
    # did not go out failed: a wrong SMTP_URL or address shows here.
    mail: dict[str, int] = field(default_factory=dict)
    mail_error: str | None = None


async def outbox_summary(session: AsyncSession, limit: int = 10) -> OutboxSummary:
    counts: dict[str, int] = {}
    mail: dict[str, int] = {}
    for status, kind, count in await session.execute(
        select(Notice.status, Notice.kind, func.count()).group_by(Notice.status, Notice.kind)
    ):
        counts[status] = counts.get(status, 0) + count
        if kind == NoticeKind.STATEMENT_EMAIL:
            mail[status] = mail.get(status, 0) + count
    upcoming = await session.execute(
        select(Notice.due_at, Notice.kind, Notice.chat_id)
        .where(Notice.status == NoticeStatus.PENDING)
        .order_by(Notice.due_at)
        .limit(limit)
    )
    mail_error = await session.scalar(
        select(Notice.last_error)
        .where(
            Notice.kind == NoticeKind.STATEMENT_EMAIL,
            Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.FAILED]),
            Notice.last_error.is_not(None),
        )
        .order_by(Notice.id.desc())
        .limit(1)
    )
    return OutboxSummary(
        counts, [(due, kind, chat) for due, kind, chat in upcoming], mail, mail_error
    )


async def plan_after_import(
    session: AsyncSession,
    kind: str,
    changed_exam_ids: list[int],
    *,
    now: datetime,
    settings: Settings,
    changed_student_ids: Collection[int] = (),
    outbox: Outbox,
) -> PlanReport:
    """A schedule import re-plans the exams it touched; a plan import, the deadlines of
    the students whose plans it changed; a roster import (students moved between groups)
    re-plans everything upcoming."""
    if kind == "plan":
        return await plan_deadlines(
            session, changed_student_ids, now, rules=DeadlineRules.of(settings), outbox=outbox
        )
    if kind == "schedule":
        return await plan_exams_bulk(
            session, changed_exam_ids, now, settings=settings, outbox=outbox
        )
    return await plan_upcoming(session, now, settings, bulk=True, outbox=outbox)


async def deanery_recipients(
    session: AsyncSession, faculty_id: int
) -> list[tuple[int, int | None]]:
    """(chat id, user id) pairs: the deanery chat, or each dean privately."""
    return [(r.chat_id, r.user_id) for r in await _deanery(session, faculty_id)]


async def queue(
    session: AsyncSession,
    items: Sequence[tuple[Planned, int, int | None, int | None]],
    exam_id: int | None,
    *,
    outbox: Outbox,
) -> int:
    """Queues notices not tied to an exam's plan: (planned, chat, user, student)."""
    keys = [p.key for p, *_ in items]
    known = set(await session.scalars(select(Notice.key).where(Notice.key.in_(keys))))
    return await _insert(
        session,
        [(p, _Recipient(chat, user, student)) for p, chat, user, student in items],
        exam_id,
        existing=known,
        outbox=outbox,
    )
