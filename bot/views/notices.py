"""What a notice says, rendered when it is sent from the facts read then
(`bot.services.notice_facts`), in the recipient's language. None means the notice is no
longer true (the link was posted)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.db.models import Exam, Notice, Statement
from bot.domain.app_links import app_page
from bot.domain.exams import EventKind, ExamForm
from bot.domain.links import normalize_link
from bot.domain.reminders import NoticeKind
from bot.domain.statements import StatementKind, StatementStatus
from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.keyboards.callbacks import (
    DecideAction,
    DecideCB,
    RescheduleCB,
    StmtAddDocsCB,
    StmtExamCB,
    StmtZoneCB,
)
from bot.services.notice_facts import ROLL_KINDS, DeskFacts, NoticeFacts, PlanFacts
from bot.services.schedule import ScheduleItem
from bot.views import dates
from bot.views.desk_notices import render_desk_notice
from bot.views.html import Html, fmt, join, join_lines
from bot.views.plan_notices import render_plan_notice
from bot.views.rendered import Rendered
from bot.views.roll_notices import render_roll_notice
from bot.views.texts import (
    exam_title,
    grade_name,
    kind_name,
    schedule_card,
    statement_details,
    violation_name,
    when_line,
)

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n


def with_app_button(
    rendered: Rendered, notice: Notice, settings: Settings, **page: int
) -> Rendered:
    """With WEBAPP_URL, a button that opens the page in the Mini App: a web_app button in
    a private chat, a link in a group (Telegram allows web_app buttons in private only)."""
    if not settings.webapp_url:
        return rendered
    button = (_("📱 Open in the desk"), app_page(settings.webapp_url, **page))
    if notice.chat_id > 0:
        return replace(rendered, web_apps=(*rendered.web_apps, button))
    return replace(rendered, links=(*rendered.links, button))


def render_facts(
    facts: NoticeFacts, settings: Settings, i18n: I18n, *, now: datetime | None = None
) -> Rendered | None:
    """The notice as it goes out `now` (a join call counts the minutes to the start from
    it; by default from when it was due)."""
    with i18n.context(), i18n.use_locale(facts.locale):
        if isinstance(facts, DeskFacts):
            return render_desk_notice(facts)
        if isinstance(facts, PlanFacts):
            return render_plan_notice(facts)
        notice, exam, locale = facts.notice, facts.exam, facts.locale
        if facts.notice.kind in ROLL_KINDS:
            return render_roll_notice(facts, settings)
        if facts.statement is not None:
            own_zone = facts.user.tz if facts.user is not None else None
            rendered = _render_statement(
                notice,
                facts.statement,
                exam,
                uni_tz=settings.tz,
                locale=locale,
                sheets=facts.sheets,
                grade=facts.grade,
                own_zone=own_zone,
            )
            if rendered is not None and notice.kind == NoticeKind.STATEMENT and rendered.buttons:
                # The dean's card (not the teacher's word of an appeal): also on the desk.
                return with_app_button(rendered, notice, settings, statement=facts.statement.id)
            return rendered
        return _render(
            notice,
            exam,
            settings.tz,
            user_tz=facts.user_tz,
            locale=locale,
            now=now or notice.due_at,
        )


def _render_statement(
    notice: Notice,
    statement: Statement,
    exam: Exam,
    *,
    uni_tz: tzinfo,
    locale: str,
    sheets: tuple[tuple[str, str], ...] = (),
    grade: str | None = None,
    own_zone: str | None = None,
) -> Rendered | None:
    if notice.kind == NoticeKind.STATEMENT_DOCS:
        return _more_documents(notice, statement)
    if notice.kind == NoticeKind.RESCHEDULE_DECLINED:
        return _reschedule_declined(notice, statement, exam, uni_tz=uni_tz, locale=locale)
    if notice.kind == NoticeKind.RESCHEDULE:
        return _reschedule(statement, exam, uni_tz=uni_tz, locale=locale)
    if notice.kind == NoticeKind.STATEMENT and notice.payload.get("for") == "teacher":
        return _appeal_for_teacher(statement, exam)
    if notice.kind == NoticeKind.STATEMENT:
        return _statement_card(
            statement, exam, uni_tz=uni_tz, locale=locale, sheets=sheets, grade=grade
        )
    return _decided(notice, statement, exam, own_zone=own_zone)


def _more_documents(notice: Notice, statement: Statement) -> Rendered:
    files = tuple((str(kind_), str(file_id)) for kind_, file_id in notice.payload.get("files", []))
    text = fmt(
        _("📎 Statement №{number} ({name}): more documents.")
        if files
        else _("💬 Statement №{number} ({name}): the student answers."),
        number=statement.id,
        name=statement.student.full_name,
    )
    answer = str(notice.payload.get("answer") or "")
    if answer:
        text = join_lines([text, answer])
    return Rendered(
        text,
        files=files,
        buttons=(
            (
                _("✅ Approve"),
                DecideCB(action=DecideAction.APPROVE, statement_id=statement.id).pack(),
            ),
            (
                _("❌ Reject"),
                DecideCB(action=DecideAction.REJECT, statement_id=statement.id).pack(),
            ),
        )
        if statement.status == StatementStatus.SUBMITTED
        else (),
    )


def _reschedule_declined(
    notice: Notice, statement: Statement, exam: Exam, *, uni_tz: tzinfo, locale: str
) -> Rendered | None:
    if statement.teacher_confirmed_at is not None or statement.new_start is not None:
        return None  # another time was set since
    declined = datetime.fromisoformat(str(notice.payload.get("declined")))
    return Rendered(
        fmt(
            _(
                "❌ The teacher declined {when} for statement №{number} ({name}, {title}). "
                "Set another time:"
            ),
            when=dates.when(declined, uni_tz, locale),
            number=statement.id,
            name=statement.student.full_name,
            title=exam_title(exam),
        ),
        buttons=(
            (
                _("🕒 Set another time"),
                DecideCB(action=DecideAction.RETIME, statement_id=statement.id).pack(),
            ),
        ),
    )


def _reschedule(
    statement: Statement, exam: Exam, *, uni_tz: tzinfo, locale: str
) -> Rendered | None:
    if statement.new_start is None or statement.teacher_confirmed_at is not None:
        return None
    student = statement.student
    return Rendered(
        fmt(
            _(
                "🕒 The dean's office approved statement №{number}: {name} (group {group}) "
                "lives in {zone} and will sit {title} on {when} instead. Do you confirm?"
            ),
            number=statement.id,
            name=student.full_name,
            group=student.group.name,
            zone=statement.time_zone or "",
            title=exam_title(exam),
            when=dates.when(statement.new_start, uni_tz, locale),
        ),
        buttons=(
            (_("✅ Confirm"), RescheduleCB(statement_id=statement.id, confirm=True).pack()),
            (_("❌ Decline"), RescheduleCB(statement_id=statement.id, confirm=False).pack()),
        ),
    )


def _appeal_for_teacher(statement: Statement, exam: Exam) -> Rendered | None:
    if statement.status == StatementStatus.WITHDRAWN:
        return None
    return Rendered(
        fmt(
            _(
                "⚖️ {name} (group {group}) filed appeal №{number} about {title}; the dean's "
                "office will decide. Violation of the procedure: {violation}. The appeal "
                "says:\n{text}"
            ),
            name=statement.student.full_name,
            group=statement.student.group.name,
            number=statement.id,
            title=exam_title(exam),
            violation=violation_name(statement.violation),
            text=statement.text,
        )
    )


def _statement_card(
    statement: Statement,
    exam: Exam,
    *,
    uni_tz: tzinfo,
    locale: str,
    sheets: tuple[tuple[str, str], ...],
    grade: str | None,
) -> Rendered | None:
    kind = kind_name(statement.kind)
    appeal = statement.kind == StatementKind.APPEAL
    if statement.status != StatementStatus.SUBMITTED:
        return None  # withdrawn (or decided elsewhere) before the card went out
    student = statement.student
    parts: list[object] = [
        fmt(_("📨 <b>Statement №{number}</b>: {kind}"), number=statement.id, kind=kind),
        fmt(
            _("Student: {name}, group {group}, record book {book}"),
            name=student.full_name,
            group=student.group.name,
            book=student.record_book,
        ),
        fmt(
            _("Exam: {title}, {when}"),
            title=exam_title(exam),
            when=dates.when(exam.starts_at, uni_tz, locale),
        ),
    ]
    parts += statement_details(
        time_zone=statement.time_zone,
        window=statement.window or "",
        reason=statement.reason,
        violation=statement.violation,
        text=statement.text,
    )
    if grade:
        parts.append(fmt(_("Grade: {grade}"), grade=grade_name(grade)))
    if statement.files:
        parts.append(fmt(_("Documents: {count}"), count=len(statement.files)))
    if sheets:
        parts.append(fmt(_("Preparation sheets: {count}"), count=len(sheets)))
    buttons = (
        (
            _("✅ Uphold") if appeal else _("✅ Approve"),
            DecideCB(action=DecideAction.APPROVE, statement_id=statement.id).pack(),
        ),
        (_("❌ Reject"), DecideCB(action=DecideAction.REJECT, statement_id=statement.id).pack()),
        (
            _("❓ Ask for more"),
            DecideCB(action=DecideAction.MORE, statement_id=statement.id).pack(),
        ),
    )
    return Rendered(
        join_lines(parts),
        buttons=buttons,
        files=tuple((f.kind, f.file_id) for f in statement.files) + sheets,
    )


def _decided(notice: Notice, statement: Statement, exam: Exam, *, own_zone: str | None) -> Rendered:
    kind = kind_name(statement.kind)
    appeal = statement.kind == StatementKind.APPEAL
    action = str(notice.payload.get("action"))
    comment = str(notice.payload.get("comment") or "")
    if notice.payload.get("for") == "teacher":
        if appeal:
            verdict = _("upheld") if action == "approve" else _("rejected")
        else:
            verdict = _("approved") if action == "approve" else _("rejected")
        return Rendered(
            fmt(
                _("📋 Statement №{number} of {name} ({kind}, {title}) is {verdict}."),
                number=statement.id,
                name=statement.student.full_name,
                kind=kind,
                title=exam_title(exam),
                verdict=verdict,
            )
        )
    texts = {
        "approve": _("✅ Your statement №{number} ({kind}, {title}) is approved."),
        "reject": _("❌ Your statement №{number} ({kind}, {title}) is rejected."),
        "more": _(
            "❓ The dean's office asks for more about statement №{number} ({kind}, {title}). "
            "Answer with the button below: write the answer and/or send the documents."
        ),
    }
    if appeal:
        texts["approve"] = _(
            "✅ Your appeal №{number} ({kind}, {title}) is upheld by the dean's office."
        )
    text = fmt(
        texts.get(action, texts["approve"]), number=statement.id, kind=kind, title=exam_title(exam)
    )
    if comment:
        text += "\n" + fmt(_("Comment: {comment}"), comment=comment)
    if action == "more" and statement.status == StatementStatus.SUBMITTED:
        return Rendered(
            text,
            buttons=((_("💬 Answer"), StmtAddDocsCB(statement_id=statement.id).pack()),),
        )
    if action == "approve" and statement.time_zone and statement.time_zone != own_zone:
        # The approved zone is where the student lives: offer it as theirs (as /tz would).
        return Rendered(
            text,
            buttons=(
                (
                    _("🌍 Show times in {zone}").format(zone=statement.time_zone),
                    StmtZoneCB(statement_id=statement.id).pack(),
                ),
            ),
        )
    return Rendered(text)


def exam_links(exam: Exam) -> tuple[tuple[str, str], ...]:
    """URL buttons to the conference and Moodle. Links are checked when entered; one that
    is not http(s) all the same gets no button (Telegram would refuse the whole message)."""
    links = []
    if exam.link and normalize_link(exam.link):
        links.append((_("🎥 Open the conference"), exam.link))
    if exam.moodle_url and normalize_link(exam.moodle_url):
        links.append((_("📚 Open Moodle"), exam.moodle_url))
    return tuple(links)


def _start(notice: Notice, exam: Exam) -> datetime:
    raw = notice.payload.get("start")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else exam.starts_at


def _render(
    notice: Notice,
    exam: Exam,
    uni_tz: tzinfo,
    *,
    user_tz: tzinfo | None,
    locale: str,
    now: datetime,
) -> Rendered | None:
    kind = NoticeKind(notice.kind)
    start = _start(notice, exam)
    if exam.cancelled_at is not None and kind is not NoticeKind.CANCELLED:
        return None  # anything else about a cancelled exam is moot
    if kind is NoticeKind.DAY_BEFORE:
        return _day_before(exam, start, uni_tz=uni_tz, user_tz=user_tz, locale=locale)
    if kind is NoticeKind.JOIN_CALL:
        return _join_call(exam, start, now, uni_tz=uni_tz, user_tz=user_tz, locale=locale)
    if kind is NoticeKind.LINK_NAG:
        if exam.link:
            return None
        return Rendered(
            fmt(
                _(
                    "🔗 The conference link for {title} (group {group}, {when}) is not posted "
                    "yet. Students must get it no later than a day before the exam: post it "
                    "with /exams."
                ),
                title=exam_title(exam),
                group=exam.group.name,
                when=dates.when(exam.starts_at, uni_tz, locale, own=user_tz),
            )
        )
    if kind is NoticeKind.LINK_MISSING:
        if exam.link:
            return None
        teacher = exam.teacher.full_name if exam.teacher else _("not assigned")
        return Rendered(
            fmt(
                _(
                    "⚠️ A day before {title} (group {group}, {when}) the conference link is "
                    "still missing. Teacher: {teacher}."
                ),
                title=exam_title(exam),
                group=exam.group.name,
                when=dates.when(exam.starts_at, uni_tz, locale, own=user_tz),
                teacher=teacher,
            )
        )
    if kind is NoticeKind.TIME_CHANGED:
        return Rendered(
            fmt(
                _("🕒 <b>The time has changed</b>: {title} is now on {when}."),
                title=exam_title(exam),
                when=when_line(start, uni_tz, user_tz, locale=locale),
            )
        )
    if kind is NoticeKind.CANCELLED:
        return Rendered(
            fmt(
                _(
                    "❌ <b>Cancelled</b>: {title} on {when} will not take place. The dean's office "
                    "will announce a new date."
                ),
                title=exam_title(exam),
                when=dates.when(start, uni_tz, locale, own=user_tz),
            )
        )
    moodle = notice.payload.get("moodle")
    if isinstance(moodle, str):
        if exam.moodle_url != moodle:
            return None  # changed again since: a newer notice carries the newer link
        return Rendered(
            fmt(_("📚 Moodle link for {title}: {url}"), title=exam_title(exam), url=moodle),
            links=tuple(button for button in exam_links(exam) if button[1] == moodle),
        )
    link = notice.payload.get("link")
    if not isinstance(link, str) or exam.link != link:
        return None  # changed again since: a newer notice carries the newer link
    return Rendered(
        fmt(_("🔗 Conference link for {title}: {url}"), title=exam_title(exam), url=link),
        links=tuple(button for button in exam_links(exam) if button[1] == link),
    )


def prepare_text(form: str | None, *, join_early: bool = True) -> str:
    """The seed's checklist for the student (table, "Проведение промежуточной аттестации");
    the join call itself says how long is left instead of "join 15 minutes before". For a
    computer test the table asks only for the camera and the microphone: no record book,
    no sheets (the test is taken in Moodle)."""
    if form == ExamForm.TEST:
        if not join_early:
            return _("Be ready: camera and microphone on.")
        return _("Be ready: camera and microphone on. Join 15 minutes before the start.")
    if not join_early:
        return _(
            "Be ready: camera and microphone on; your record book or passport; blank sheets "
            "and a pen or pencil (a ruler, calculator and eraser if needed)."
        )
    return _(
        "Be ready: camera and microphone on; your record book or passport; blank sheets "
        "and a pen or pencil (a ruler, calculator and eraser if needed). Join 15 minutes "
        "before the start."
    )


def _day_before(
    exam: Exam, start: datetime, *, uni_tz: tzinfo, user_tz: tzinfo | None, locale: str
) -> Rendered:
    item = ScheduleItem(exam=exam, starts_at=start, subgroup=None)
    parts: list[str] = [
        fmt(_("📅 <b>Exam reminder</b>")),
        schedule_card(item, uni_tz, user_tz, locale=locale),
    ]
    if exam.form == ExamForm.TEST and not exam.moodle_url:
        parts.append(_("The Moodle link will be sent as soon as the teacher posts it."))
    if not exam.link:
        parts.append(_("The conference link will be sent as soon as the teacher posts it."))
    parts.append(prepare_text(exam.form))
    parts.append(
        _(
            "Live in another time zone, or cannot attend for a valid reason (illness "
            "etc.)? File a statement to the dean's office: /statement"
        )
    )
    return Rendered(
        join("\n\n", parts),
        buttons=((_("📝 File a statement"), StmtExamCB(exam_id=exam.id).pack()),),
        links=exam_links(exam),
    )


def _join_call(
    exam: Exam,
    start: datetime,
    now: datetime,
    *,
    uni_tz: tzinfo,
    user_tz: tzinfo | None,
    locale: str,
) -> Rendered:
    title = exam_title(exam)
    if exam.kind == EventKind.CONSULTATION:
        text = countdown(
            title, start, now, uni_tz=uni_tz, user_tz=user_tz, locale=locale, consultation=True
        )
        if exam.link:
            text += "\n" + fmt(_("Conference: {url}"), url=exam.link)
        return Rendered(text, links=exam_links(exam))
    lines: list[str] = [countdown(title, start, now, uni_tz=uni_tz, user_tz=user_tz, locale=locale)]
    if exam.link:
        lines.append(fmt(_("Conference: {url}"), url=exam.link))
    else:
        lines.append(_("The conference link has not been posted yet: watch this chat."))
    if exam.moodle_url:
        lines.append(fmt(_("Moodle: {url}"), url=exam.moodle_url))
    lines.append(prepare_text(exam.form, join_early=False))
    return Rendered(join("\n\n", lines), links=exam_links(exam))


def countdown(
    title: Html,
    start: datetime,
    now: datetime,
    *,
    uni_tz: tzinfo,
    user_tz: tzinfo | None,
    locale: str,
    consultation: bool = False,
) -> Html:
    """«⏰ Подключайтесь: … начнётся в 10:00 МСК, через 15 минут.» — the join call's line,
    with the minutes left counted when it goes out (whole minutes, rounded up)."""
    at = dates.when(start, uni_tz, locale, own=user_tz, with_day=False)
    minutes = -(-int((start - now).total_seconds()) // 60)
    if minutes <= 0:
        template = (
            _("⏰ {title} has started ({when}).")
            if consultation
            else _("⏰ <b>Join now</b>: {title} has started ({when}).")
        )
        return fmt(template, title=title, when=at)
    if consultation:
        template = ngettext(
            "⏰ {title} starts at {when}, in {minutes} minute.",
            "⏰ {title} starts at {when}, in {minutes} minutes.",
            minutes,
        )
    else:
        template = ngettext(
            "⏰ <b>Join now</b>: {title} starts at {when}, in {minutes} minute.",
            "⏰ <b>Join now</b>: {title} starts at {when}, in {minutes} minutes.",
            minutes,
        )
    return fmt(template, title=title, when=at, minutes=minutes)
