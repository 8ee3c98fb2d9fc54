"""What the exam-day console's notices say, rendered when sent from the roll as it is
then: an outage resolved in the meantime, or a grade changed since, makes a notice moot
(None)."""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.domain.reminders import NoticeKind
from bot.domain.roll import Mark, effective_mark
from bot.domain.statements import appeal_deadline
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.services.notice_facts import ExamNoticeFacts, RollFacts
from bot.views import dates
from bot.views.html import fmt, join, join_lines
from bot.views.rendered import Rendered
from bot.views.texts import exam_title, grade_name, when_line


def render_roll_notice(facts: ExamNoticeFacts, settings: Settings) -> Rendered | None:
    notice, exam, locale, user_tz = facts.notice, facts.exam, facts.locale, facts.user_tz
    if exam.cancelled_at is not None or facts.roll is None:
        return None
    roll: RollFacts = facts.roll
    kind = NoticeKind(notice.kind)
    uni = settings.tz
    title = exam_title(exam)
    entry = roll.entry
    student = roll.student
    if kind in (NoticeKind.OUTAGE_EXPIRED, NoticeKind.OUTAGE_REPORT):
        return _outage(facts, settings)
    if kind is NoticeKind.GRADE_POSTED:
        return _grade_posted(facts, settings)
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
                when=when_line(start, uni, user_tz, locale=locale),
            )
        )
    if kind in (NoticeKind.WRITTEN_START, NoticeKind.WRITTEN_LEFT) and not _still_writing(
        facts, settings
    ):
        return None
    if kind is NoticeKind.WRITTEN_START:
        return _written_start(facts, settings)
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
        works = roll.works
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
        missing = roll.missing
        if not missing:
            return Rendered(fmt(_("✅ {title}: every present student handed in."), title=title))
        return Rendered(
            fmt(_("📋 {title}: no written work from {count}:"), title=title, count=len(missing))
            + join("", (fmt("\n• {}", name) for name in missing))
        )
    return _no_shows(facts, settings)


def _no_shows(facts: ExamNoticeFacts, settings: Settings) -> Rendered:
    exam, locale, user_tz = facts.exam, facts.locale, facts.user_tz
    assert facts.roll is not None
    roll = facts.roll
    uni = settings.tz
    title = exam_title(exam)
    absent = roll.absent
    text = fmt(
        _("📋 Roll confirmed: {title}, group {group}, {when}."),
        title=title,
        group=exam.group.name,
        when=dates.when(exam.starts_at, uni, locale, own=user_tz),
    )
    if absent:
        text += "\n" + fmt(_("Absent without a valid reason ({count}):"), count=len(absent))
        text += join("", (fmt("\n• {} ({})", n, b) for n, b in absent))
    else:
        text += "\n" + _("Nobody was absent without a valid reason.")
    if roll.undecided:
        text += "\n" + fmt(
            _("Absent, with an absence statement not decided yet ({count}):"),
            count=len(roll.undecided),
        )
        text += join("", (fmt("\n• {} ({})", n, b) for n, b in roll.undecided))
    return Rendered(text)


def _still_writing(facts: ExamNoticeFacts, settings: Settings) -> bool:
    """The written work's notices are for a student still at it when they are due: present,
    or in an outage whose minutes still run; not one recorded absent since (an outage that
    ran out, who was just told so, or marked absent)."""
    entry = facts.roll.entry if facts.roll is not None else None
    if entry is None:
        return False
    mark = effective_mark(
        Mark(entry.mark), entry.outage_since, facts.notice.due_at, wait=settings.outage_wait
    )
    return mark in (Mark.PRESENT, Mark.OUTAGE)


def _outage(facts: ExamNoticeFacts, settings: Settings) -> Rendered | None:
    notice, exam, locale = facts.notice, facts.exam, facts.locale
    assert facts.roll is not None
    roll = facts.roll
    uni = settings.tz
    title = exam_title(exam)
    kind = NoticeKind(notice.kind)
    user_tz = facts.user_tz
    student = roll.student
    since = datetime.fromisoformat(str(notice.payload.get("since")))
    if not roll.outage_failed or student is None:
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
                when=dates.when(exam.starts_at, uni, locale, own=user_tz),
                since=dates.clock(since, uni, locale),
                ended=dates.clock(ended, uni, locale),
            )
        )
    minutes = int(settings.outage_wait.total_seconds() // 60)
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
            minutes,
        ),
        title=title,
        minutes=minutes,
    )
    if roll.others:
        text += "\n\n" + _("Other sittings of this discipline:")
        for other in roll.others:
            text += "\n• " + fmt(
                _("group {group}: {when}"),
                group=other.group.name,
                when=when_line(other.starts_at, uni, user_tz, locale=locale),
            )
    return Rendered(text)


def _grade_posted(facts: ExamNoticeFacts, settings: Settings) -> Rendered | None:
    notice, exam, locale = facts.notice, facts.exam, facts.locale
    assert facts.roll is not None
    roll = facts.roll
    uni = settings.tz
    title = exam_title(exam)
    entry = roll.entry
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
            deadline=dates.when(deadline, uni, locale, own=facts.user_tz),
        )
    )


def _written_start(facts: ExamNoticeFacts, settings: Settings) -> Rendered | None:
    notice, exam, locale = facts.notice, facts.exam, facts.locale
    assert facts.roll is not None
    roll = facts.roll
    uni = settings.tz
    title = exam_title(exam)
    entry = roll.entry
    student = roll.student
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
