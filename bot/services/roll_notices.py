"""What the exam-day console's notices say, rendered when sent from the roll as it is
then: an outage resolved in the meantime, or a grade changed since, makes a notice moot
(None)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.config import Settings
from bot.db.models import Exam, ExamWork, Group, Notice, RollEntry, Student
from bot.domain.reminders import NoticeKind
from bot.domain.roll import Mark, effective_mark
from bot.domain.statements import appeal_deadline
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.services.rendered import Rendered
from bot.services.texts import exam_title, grade_name, when_line
from bot.views import dates
from bot.views.html import fmt, join, join_lines

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

# Other sittings of the same discipline offered after a technical failure.
OTHER_SITTINGS_AHEAD = timedelta(days=14)


async def render_roll_notice(
    session: AsyncSession,
    notice: Notice,
    exam: Exam,
    settings: Settings,
    locale: str,
    user_tz: tzinfo | None,
) -> Rendered | None:
    if exam.cancelled_at is not None:
        return None
    kind = NoticeKind(notice.kind)
    uni = settings.tz
    title = exam_title(exam)
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
        if (
            entry is None
            or student is None
            or entry.outage_since != since
            or effective_mark(
                Mark(entry.mark), entry.outage_since, notice.due_at, settings.outage_wait
            )
            is not Mark.FAILURE
        ):
            return None  # resolved, or marked otherwise, in time
        ended = since + settings.outage_wait
        if kind is NoticeKind.OUTAGE_REPORT:
            return Rendered(
                fmt(
                    _(
                        "⚠️ <b>Technical failure</b>: {name} (group {group}, record book {book}), "
                        "{title} on {when}. The outage began at {since} and was not fixed by "
                        "{ended}. Recorded as absent for a valid reason (technical failure); "
                        "the student may sit the exam with another group on another day."
                    ),
                    name=student.full_name,
                    group=student.group.name,
                    book=student.record_book,
                    title=title,
                    when=dates.when(exam.starts_at, uni, locale, user_tz),
                    since=dates.clock(since, uni, locale),
                    ended=dates.clock(ended, uni, locale),
                )
            )
        text = fmt(
            ngettext(
                "⚠️ The technical problem during {title} was not fixed within {minutes} minute. "
                "Under the regulation you are recorded as absent for a valid reason (technical "
                "failure), and you may sit the exam with another group on another day. The "
                "dean's office will confirm the date.",
                "⚠️ The technical problem during {title} was not fixed within {minutes} minutes. "
                "Under the regulation you are recorded as absent for a valid reason (technical "
                "failure), and you may sit the exam with another group on another day. The "
                "dean's office will confirm the date.",
                int(settings.outage_wait.total_seconds() // 60),
            ),
            title=title,
            minutes=int(settings.outage_wait.total_seconds() // 60),
        )
        others = await _other_sittings(session, exam, notice.due_at)
        if others:
            text += "\n\n" + _("Other sittings of this discipline:")
            for other in others:
                text += "\n• " + fmt(
                    _("group {group}: {when}"),
                    group=other.group.name,
                    when=when_line(other.starts_at, uni, user_tz, locale),
                )
        return Rendered(text)
    if kind is NoticeKind.GRADE_POSTED:
        if entry is None or entry.grade != notice.payload.get("grade"):
            return None  # changed again since: the newer notice tells the newer grade
        posted = datetime.fromisoformat(str(notice.payload.get("posted")))
        deadline = appeal_deadline(posted, uni)
        old = notice.payload.get("changed")
        head = (
            fmt(
                _("📝 Your grade for {title} was changed: {old} → {grade}."),
                title=title,
                old=grade_name(str(old)),
                grade=grade_name(entry.grade),
            )
            if old
            else fmt(
                _("📝 Your grade for {title}: <b>{grade}</b>."),
                title=title,
                grade=grade_name(entry.grade),
            )
        )
        return Rendered(
            head
            + "\n\n"
            + fmt(
                _(
                    "If the exam procedure was violated, you may file an appeal until {deadline}, "
                    "naming the violation: /statement"
                ),
                deadline=dates.when(deadline, uni, locale, user_tz),
            )
        )
    if kind is NoticeKind.TICKET:
        if entry is None or entry.ticket != notice.payload.get("ticket"):
            return None
        return Rendered(
            fmt(_("🎫 {title}: your ticket is <b>№{number}</b>."), title=title, number=entry.ticket)
        )
    if kind is NoticeKind.SUBGROUP:
        start = datetime.fromisoformat(str(notice.payload.get("start")))
        return Rendered(
            fmt(
                _("👥 {title}: you are in subgroup {number}. Your start: {when}."),
                title=title,
                number=notice.payload.get("number"),
                when=when_line(start, uni, user_tz, locale),
            )
        )
    if kind is NoticeKind.WRITTEN_START:
        if student is None:
            return None
        ends = datetime.fromisoformat(str(notice.payload.get("ends")))
        until = datetime.fromisoformat(str(notice.payload.get("until")))
        assert exam.written_started_at is not None
        heading = join_lines(
            [
                exam.discipline.name,
                student.full_name,
                student.group.name,
                dates.when(exam.written_started_at, uni, locale, year=True),
                fmt(_("ticket №{number}"), number=entry.ticket)
                if entry is not None and entry.ticket
                else _("ticket №…"),
            ]
        )
        return Rendered(
            fmt(
                _(
                    "✍️ <b>The written work for {title} has begun.</b> Head every sheet with the "
                    "discipline, your full name, group, the date and start time, and the ticket "
                    "number:\n\n{heading}\n\nTime is up at {ends}. Then sign every sheet and send "
                    "photos or PDFs of them here, no later than {until}."
                ),
                title=title,
                heading=heading,
                ends=dates.clock(ends, uni, locale),
                until=dates.clock(until, uni, locale),
            )
        )
    if kind is NoticeKind.WRITTEN_LEFT:
        ends = datetime.fromisoformat(str(notice.payload.get("ends")))
        return Rendered(
            fmt(
                ngettext(
                    "⏳ {title}: {left} minute left (time is up at {ends}).",
                    "⏳ {title}: {left} minutes left (time is up at {ends}).",
                    int(notice.payload.get("left") or 0),
                ),
                title=title,
                left=notice.payload.get("left"),
                ends=dates.clock(ends, uni, locale),
            )
        )
    if kind is NoticeKind.WORK_RECEIVED:
        ids = [int(i) for i in notice.payload.get("works", [])]
        works = list(
            await session.scalars(
                select(ExamWork).where(ExamWork.id.in_(ids)).order_by(ExamWork.id)
            )
        )
        if not works or student is None:
            return None
        label = (
            _("written work")
            if notice.payload.get("purpose") == "written"
            else _("preparation sheets")
        )
        return Rendered(
            fmt(
                ngettext(
                    "📄 {name} (group {group}), {label}, {title}: {count} file.",
                    "📄 {name} (group {group}), {label}, {title}: {count} files.",
                    len(works),
                ),
                name=student.full_name,
                group=student.group.name,
                label=label,
                title=title,
                count=len(works),
            ),
            files=tuple((w.kind, w.file_id) for w in works),
        )
    if kind is NoticeKind.WRITTEN_MISSING:
        missing = await _missing_works(session, exam, notice.due_at, settings)
        if not missing:
            return Rendered(fmt(_("✅ {title}: every present student handed in."), title=title))
        return Rendered(
            fmt(_("📋 {title}: no written work from {count}:"), title=title, count=len(missing))
            + join("", (fmt("\n• {}", name) for name in missing))
        )
    # NO_SHOWS
    rows = await session.execute(
        select(Student.full_name, Student.record_book, RollEntry.mark)
        .join(RollEntry, RollEntry.student_id == Student.id)
        .where(RollEntry.exam_id == exam.id, Student.group_id == exam.group_id)
        .order_by(Student.full_name)
    )
    rows_list = list(rows)
    absent = [(n, b) for n, b, m in rows_list if m == Mark.ABSENT]
    text = fmt(
        _("📋 Roll confirmed: {title}, group {group}, {when}."),
        title=title,
        group=exam.group.name,
        when=dates.when(exam.starts_at, uni, locale, user_tz),
    )
    if absent:
        text += "\n" + fmt(_("Absent without a valid reason ({count}):"), count=len(absent))
        text += join("", (fmt("\n• {} ({})", n, b) for n, b in absent))
    else:
        text += "\n" + _("Nobody was absent without a valid reason.")
    return Rendered(text)


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
    session: AsyncSession, exam: Exam, now: datetime, settings: Settings
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
        if effective_mark(Mark(mark), since, now, settings.outage_wait) is Mark.PRESENT
        and sid not in handed
    ]
