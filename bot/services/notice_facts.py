"""What a notice is about, read when it is sent: the data as it is then, in plain objects
for `bot.views.notices` to render in the recipient's language. None means the notice is no
longer true (the deadline moved, the discipline is gone); finer "moot" cases (the link was
posted, the grade changed again) are the view's to see in the facts.

The reading lives here, the wording in the views: services import no gettext and no aiogram.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.config import Settings
from bot.db.models import (
    Announcement,
    Exam,
    ExamWork,
    Group,
    Notice,
    PlanItem,
    RollEntry,
    Statement,
    Student,
    User,
)
from bot.domain.reminders import NoticeKind
from bot.domain.roll import Mark, effective_mark
from bot.domain.statements import StatementKind, StatementStatus
from bot.domain.timezones import resolve_timezone

# Notices about no exam: the dean's desk (announcements, the retention reminder) and the
# study plan's deadline reminder.
DESK_KINDS = frozenset({NoticeKind.ANNOUNCEMENT, NoticeKind.RETENTION})
PLAN_KINDS = frozenset({NoticeKind.PLAN_DEADLINE})
# The exam-day console's notices, told from the roll as it is when sent.
ROLL_KINDS = frozenset(
    {
        NoticeKind.OUTAGE_EXPIRED,
        NoticeKind.OUTAGE_REPORT,
        NoticeKind.GRADE_POSTED,
        NoticeKind.TICKET,
        NoticeKind.SUBGROUP,
        NoticeKind.WRITTEN_START,
        NoticeKind.WRITTEN_LEFT,
        NoticeKind.WRITTEN_MISSING,
        NoticeKind.WORK_RECEIVED,
        NoticeKind.NO_SHOWS,
    }
)
STATEMENT_KINDS = frozenset(
    {
        NoticeKind.STATEMENT,
        NoticeKind.STATEMENT_DECIDED,
        NoticeKind.RESCHEDULE,
        NoticeKind.STATEMENT_DOCS,
        NoticeKind.RESCHEDULE_DECLINED,
    }
)

# Other sittings of the same discipline offered after a technical failure.
OTHER_SITTINGS_AHEAD = timedelta(days=14)


@dataclass(frozen=True)
class DeskFacts:
    notice: Notice
    locale: str
    announcement: Announcement | None  # None for the retention reminder (or a deleted one)


@dataclass(frozen=True)
class PlanFacts:
    notice: Notice
    locale: str
    item: PlanItem


@dataclass(frozen=True)
class RollFacts:
    """What the console's notices read of the roll; each kind reads only its own."""

    student: Student | None = None
    entry: RollEntry | None = None
    # OUTAGE_*: the outage the notice is about is still unresolved and past its minutes.
    outage_failed: bool = False
    others: tuple[Exam, ...] = ()  # OUTAGE_EXPIRED: other sittings of the discipline
    works: tuple[ExamWork, ...] = ()  # WORK_RECEIVED
    missing: tuple[str, ...] = ()  # WRITTEN_MISSING: present students with no written work
    absent: tuple[tuple[str, str], ...] = ()  # NO_SHOWS: (full name, record book)
    # NO_SHOWS: absent, with an absence statement not decided yet (full name, record book)
    undecided: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExamNoticeFacts:
    notice: Notice
    exam: Exam
    user: User | None
    locale: str
    user_tz: tzinfo | None
    statement: Statement | None = None
    sheets: tuple[tuple[str, str], ...] = ()  # an appeal's preparation sheets (kind, file_id)
    grade: str | None = None  # an appeal's grade
    roll: RollFacts | None = None


NoticeFacts = DeskFacts | PlanFacts | ExamNoticeFacts


def _exam_options() -> list[Any]:
    return [
        joinedload(Exam.discipline),
        joinedload(Exam.teacher),
        joinedload(Exam.group).joinedload(Group.faculty),
        selectinload(Exam.subgroups),
    ]


async def preload(session: AsyncSession, notices: Iterable[Notice]) -> list[object]:
    """Reads the recipients and exams of many notices at once into `session`: their
    `notice_facts` then find them there (`Session.get` asks the database only for what it
    does not hold), a few statements for a batch instead of a few for each notice. Hold
    on to what it returns while they are rendered: the session keeps weak references."""
    notices = list(notices)
    users = {n.user_id for n in notices if n.user_id is not None}
    exams = {n.exam_id for n in notices if n.exam_id is not None and n.kind not in DESK_KINDS}
    loaded: list[object] = []
    if users:
        loaded += await session.scalars(select(User).where(User.id.in_(users)))
    if exams:
        query = select(Exam).where(Exam.id.in_(exams)).options(*_exam_options())
        loaded += (await session.scalars(query)).unique()
    return loaded


async def _recipient(session: AsyncSession, notice: Notice) -> User | None:
    return await session.get(User, notice.user_id) if notice.user_id is not None else None


def _locale(user: User | None, default: str) -> str:
    return user.locale if user is not None else default


async def notice_facts(
    session: AsyncSession, notice: Notice, settings: Settings
) -> NoticeFacts | None:
    if notice.kind in DESK_KINDS:
        return await _desk_facts(session, notice, settings.default_locale)
    if notice.kind in PLAN_KINDS:
        return await _plan_facts(session, notice, settings.default_locale)
    exam = (
        await session.get(Exam, notice.exam_id, options=_exam_options())
        if notice.exam_id is not None
        else None
    )
    if exam is None:
        return None
    user = await _recipient(session, notice)
    locale = _locale(user, settings.default_locale)
    user_tz = resolve_timezone(user.tz) if user is not None and user.tz else None
    statement = None
    if notice.kind in STATEMENT_KINDS:
        statement = await session.get(
            Statement,
            int(notice.payload.get("statement_id", 0)),
            options=[
                joinedload(Statement.student).joinedload(Student.group),
                selectinload(Statement.files),
            ],
        )
        if statement is None:
            return None
    sheets: tuple[tuple[str, str], ...] = ()
    grade = None
    if statement is not None and statement.kind == StatementKind.APPEAL:
        # The preparation sheets go to the appeal commission with the appeal (the table).
        works = await session.scalars(
            select(ExamWork)
            .where(
                ExamWork.exam_id == statement.exam_id,
                ExamWork.student_id == statement.student_id,
                ExamWork.purpose == "preparation",
            )
            .order_by(ExamWork.id)
        )
        sheets = tuple((w.kind, w.file_id) for w in works)
        grade = await session.scalar(
            select(RollEntry.grade).where(
                RollEntry.exam_id == statement.exam_id,
                RollEntry.student_id == statement.student_id,
            )
        )
    roll = None
    if notice.kind in ROLL_KINDS and exam.cancelled_at is None:
        roll = await _roll_facts(session, notice, exam, outage_wait=settings.outage_wait)
    return ExamNoticeFacts(
        notice=notice,
        exam=exam,
        user=user,
        locale=locale,
        user_tz=user_tz,
        statement=statement,
        sheets=sheets,
        grade=grade,
        roll=roll,
    )


async def _desk_facts(session: AsyncSession, notice: Notice, default_locale: str) -> DeskFacts:
    user = await _recipient(session, notice)
    announcement = None
    if notice.kind == NoticeKind.ANNOUNCEMENT:
        announcement = await session.get(Announcement, int(notice.payload.get("announcement", 0)))
    return DeskFacts(notice, _locale(user, default_locale), announcement)


async def _plan_facts(
    session: AsyncSession, notice: Notice, default_locale: str
) -> PlanFacts | None:
    """None if the deadline has moved since (the new deadline has reminders of its own),
    the discipline is gone, or the roster entry is no longer this account's (someone else's
    plan is not theirs to read)."""
    item = await session.get(PlanItem, int(notice.payload.get("item_id", 0)))
    if item is None or item.deadline.isoformat() != notice.payload.get("deadline"):
        return None
    owner = await session.scalar(select(Student.user_id).where(Student.id == item.student_id))
    if owner is None or owner != notice.user_id:
        return None
    user = await _recipient(session, notice)
    return PlanFacts(notice, _locale(user, default_locale), item)


async def _roll_facts(
    session: AsyncSession, notice: Notice, exam: Exam, *, outage_wait: timedelta
) -> RollFacts:
    kind = NoticeKind(notice.kind)
    student_id = notice.student_id or notice.payload.get("student_id")
    entry = None
    student = None
    if student_id is not None:
        student = await session.get(Student, int(student_id), options=[joinedload(Student.group)])
        entry = await session.scalar(
            select(RollEntry).where(
                RollEntry.exam_id == exam.id, RollEntry.student_id == int(student_id)
            )
        )
    if kind in (NoticeKind.OUTAGE_EXPIRED, NoticeKind.OUTAGE_REPORT):
        since = datetime.fromisoformat(str(notice.payload.get("since")))
        failed = (
            entry is not None
            and student is not None
            and entry.outage_since == since
            and effective_mark(
                Mark(entry.mark), entry.outage_since, notice.due_at, wait=outage_wait
            )
            is Mark.FAILURE
        )
        others: tuple[Exam, ...] = ()
        if failed and kind is NoticeKind.OUTAGE_EXPIRED:
            others = tuple(await _other_sittings(session, exam, notice.due_at))
        return RollFacts(student, entry, outage_failed=failed, others=others)
    if kind is NoticeKind.WORK_RECEIVED:
        ids = [int(i) for i in notice.payload.get("works", [])]
        works = tuple(
            await session.scalars(
                select(ExamWork).where(ExamWork.id.in_(ids)).order_by(ExamWork.id)
            )
        )
        return RollFacts(student, entry, works=works)
    if kind is NoticeKind.WRITTEN_MISSING:
        missing = await _missing_works(session, exam, notice.due_at, outage_wait=outage_wait)
        return RollFacts(student, entry, missing=tuple(missing))
    if kind is NoticeKind.NO_SHOWS:
        rows = await session.execute(
            select(Student.id, Student.full_name, Student.record_book, RollEntry.mark)
            .join(RollEntry, RollEntry.student_id == Student.id)
            .where(RollEntry.exam_id == exam.id, Student.group_id == exam.group_id)
            .order_by(Student.full_name)
        )
        # A student who sent an absence statement with documents, not decided yet, is no
        # "no-show without documents" (§ table): said apart, so the dean's office does not
        # count them as one while their own statement waits in its inbox.
        waiting = set(
            await session.scalars(
                select(Statement.student_id).where(
                    Statement.exam_id == exam.id,
                    Statement.kind == StatementKind.ABSENCE,
                    Statement.status == StatementStatus.SUBMITTED,
                )
            )
        )
        no_shows = [(sid, n, b) for sid, n, b, m in rows if m == Mark.ABSENT]
        absent = tuple((n, b) for sid, n, b in no_shows if sid not in waiting)
        undecided = tuple((n, b) for sid, n, b in no_shows if sid in waiting)
        return RollFacts(student, entry, absent=absent, undecided=undecided)
    return RollFacts(student, entry)


async def _other_sittings(session: AsyncSession, exam: Exam, now: datetime) -> list[Exam]:
    return list(
        await session.scalars(
            select(Exam)
            .where(
                Exam.discipline_id == exam.discipline_id,
                Exam.kind == exam.kind,
                Exam.group_id != exam.group_id,
                Exam.cancelled_at.is_(None),
                Exam.starts_at > now,
                Exam.starts_at <= now + OTHER_SITTINGS_AHEAD,
            )
            .options(joinedload(Exam.group).joinedload(Group.faculty))
            .order_by(Exam.starts_at)
            .limit(5)
        )
    )


async def _missing_works(
    session: AsyncSession, exam: Exam, now: datetime, *, outage_wait: timedelta
) -> list[str]:
    handed = set(
        await session.scalars(
            select(ExamWork.student_id).where(
                ExamWork.exam_id == exam.id, ExamWork.purpose == "written"
            )
        )
    )
    rows = await session.execute(
        select(Student.id, Student.full_name, RollEntry.mark, RollEntry.outage_since)
        .join(RollEntry, RollEntry.student_id == Student.id)
        .where(RollEntry.exam_id == exam.id)
        .order_by(Student.full_name)
    )
    return [
        name
        for sid, name, mark, since in rows
        if effective_mark(Mark(mark), since, now, wait=outage_wait) is Mark.PRESENT
        and sid not in handed
    ]
