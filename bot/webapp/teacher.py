"""The teacher's roll on one screen: today's exams, the roll with marks, grades, tickets,
subgroups, the outage clocks and the written work, the texts to say aloud, confirming.

Every change goes through the same roll service as the chat console's buttons (the same
checks: only the exam's own teacher, not once confirmed); after the commit the console
message in chat is redrawn through the edit coalescer, as a tap in chat redraws it."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

from aiogram.methods import EditMessageText
from aiohttp import web

from bot.db.models import Exam, Teacher
from bot.domain.roll import (
    Grade,
    Mark,
    grades_for,
    outage_deadline,
    written_window,
)
from bot.i18n import gettext as _
from bot.services import roll as service
from bot.services.desk import teacher_exams_between
from bot.services.roll import MarkAction, Outcome, RollRules, RollView
from bot.services.roll_messages import where_shown
from bot.services.sheets import sheet_xlsx
from bot.views.html import plain
from bot.views.roll import RollPages, outcome_text
from bot.views.roll_sheet import build_sheet
from bot.views.texts import exam_title, grade_name, mark_name
from bot.webapp.server import API, ApiError, Call, api, speaking


def own_teacher(call: Call) -> Teacher:
    if call.actor is None or call.actor.teacher is None:
        raise ApiError(403, _("This is not one of your exams."))
    return call.actor.teacher


def _student_id(body: dict[str, Any]) -> int:
    value = body.get("student_id")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
        raise ApiError(400, _("That does not fit this exam."))
    return value


async def _exam(call: Call) -> Exam:
    teacher = own_teacher(call)
    try:
        exam_id = int(call.request.match_info["exam_id"])
    except ValueError:
        raise ApiError(400, _("That does not fit this exam.")) from None
    exam = await service.own_exam(call.session, teacher, exam_id) if 0 < exam_id < 2**31 else None
    if exam is None:
        raise ApiError(403, _("This is not one of your exams."))
    return exam


def _status(exam: Exam, now: datetime) -> str:
    if exam.roll_confirmed_at is not None:
        return "confirmed"
    if now < exam.starts_at:
        return "upcoming"
    if now < exam.starts_at + timedelta(minutes=exam.duration_min):
        return "running"
    return "over"


async def exams_today(call: Call) -> dict[str, Any]:
    teacher = own_teacher(call)
    now = call.app.clock.now()
    uni = call.settings.tz
    start = datetime.combine(now.astimezone(uni).date(), time(), uni)
    exams = await teacher_exams_between(call.session, teacher, start, end=start + timedelta(days=1))
    return {
        "items": [
            {
                "id": exam.id,
                "discipline": exam.discipline.name,
                "title": plain(exam_title(exam)),
                "group": exam.group.name,
                "starts_at": exam.starts_at.isoformat(),
                "status": _status(exam, now),
            }
            for exam in exams
        ]
    }


def _clock(since: datetime, call: Call, now: datetime) -> dict[str, Any]:
    deadline = outage_deadline(since, call.settings.outage_wait)
    return {
        "started_at": since.isoformat(),
        "deadline": deadline.isoformat(),
        "seconds_left": max(0, int((deadline - now).total_seconds())),
    }


def _aloud(view: RollView, call: Call) -> list[str]:
    """The regulation's wording (Russian, as it is said on the recording)."""
    aloud = service.texts_aloud(view, call.settings.tz)
    closing = [aloud.closing] if aloud.closing is not None else []
    return [*aloud.openings, *closing, *aloud.file_names]


async def _roll(call: Call, exam: Exam, view: RollView | None = None) -> dict[str, Any]:
    now = call.app.clock.now()
    if view is None:
        view = await service.load_roll(call.session, exam, now, rules=RollRules.of(call.settings))
    handed = await service.handed_in(call.session, exam.id)
    running = [
        x.entry.outage_since
        for x in view.lines
        if x.mark is Mark.OUTAGE and x.entry.outage_since is not None
    ]
    written = None
    if exam.written_started_at is not None and exam.written_minutes:
        ends, until = written_window(
            exam.written_started_at,
            timedelta(minutes=exam.written_minutes),
            call.settings.written_grace,
        )
        written = {
            "started_at": exam.written_started_at.isoformat(),
            "minutes": exam.written_minutes,
            "ends_at": ends.isoformat(),
            "accepted_until": until.isoformat(),
            "seconds_left": max(0, int((ends - now).total_seconds())),
        }
    c = view.counts
    locked = exam.roll_confirmed_at is not None
    return {
        "exam": {
            "id": exam.id,
            "discipline": exam.discipline.name,
            "title": plain(exam_title(exam)),
            "group": exam.group.name,
            "starts_at": exam.starts_at.isoformat(),
            "status": _status(exam, now),
            "pass_fail": exam.pass_fail,
            "confirmed_at": exam.roll_confirmed_at.isoformat()
            if exam.roll_confirmed_at is not None
            else None,
            "written": written,
        },
        "students": [
            {
                "id": x.student.id,
                "name": x.student.full_name,
                "record_book": x.student.record_book,
                "mark": x.mark.value,
                "mark_label": mark_name(x.mark.value),
                "grade": x.entry.grade,
                "grade_label": grade_name(x.entry.grade),
                "ticket": x.entry.ticket,
                "subgroup": x.subgroup,
                "handed_in": x.student.id in handed,
                "outage": _clock(x.entry.outage_since, call, now)
                if x.mark is Mark.OUTAGE and x.entry.outage_since is not None
                else None,
            }
            for x in view.lines
        ],
        "counts": {
            "present": c.present,
            "excused": c.excused,
            "absent": c.absent,
            "outage": c.outage,
            "unmarked": c.unmarked,
            "total": c.total,
        },
        "marks": [{"value": m.value, "label": mark_name(m.value)} for m in _MARKS],
        "grades": [
            {"value": g.value, "label": grade_name(g.value)} for g in grades_for(exam.pass_fail)
        ],
        "outage": _clock(min(running), call, now) if running else None,
        "texts_aloud": _aloud(view, call),
        "can_confirm": not locked and not c.unmarked and not c.outage,
    }


_MARKS = (Mark.PRESENT, Mark.ABSENT, Mark.EXCUSED, Mark.OUTAGE)


async def roll(call: Call) -> dict[str, Any]:
    return await _roll(call, await _exam(call))


def _refused(call: Call, outcome: Outcome) -> ApiError:
    status = 403 if outcome is Outcome.NOT_YOURS else 409
    return ApiError(status, str(outcome_text(outcome, call.settings)))


async def _changed(call: Call, exam: Exam, outcome: Outcome) -> dict[str, Any]:
    """The roll as it is now, and its chat message redrawn after the commit."""
    if outcome not in (Outcome.OK, Outcome.ALREADY):
        raise _refused(call, outcome)
    exam = await _exam(call)  # again: the service changed it (confirmed, tickets…)
    view = await service.load_roll(
        call.session, exam, call.app.clock.now(), rules=RollRules.of(call.settings)
    )
    if outcome is Outcome.OK:
        await _redraw_in_chat(call, view)
    return await _roll(call, exam, view)


async def _redraw_in_chat(call: Call, view: RollView) -> None:
    shown = await where_shown(call.session, view.exam.id)
    if shown is None:
        return
    # In the language the console was drawn in: the teacher's chat, not this request.
    with speaking(call.app.i18n, shown.locale):
        pages = RollPages(view, call.settings, shown.locale)
        text, markup = pages.text(shown.page), pages.markup(shown.page, shown.chat_id)
    call.after_commit_edit(
        EditMessageText(
            chat_id=shown.chat_id, message_id=shown.message_id, text=text, reply_markup=markup
        )
    )


async def mark(call: Call) -> dict[str, Any]:
    body = await call.json()
    student_id = _student_id(body)
    try:
        action = MarkAction(str(body.get("mark")))
    except ValueError:
        raise ApiError(400, _("That does not fit this exam.")) from None
    return await _set_mark(call, student_id, action)


async def _set_mark(call: Call, student_id: int, action: MarkAction | Grade) -> dict[str, Any]:
    """A mark or a grade, through the same service calls as the console's buttons."""
    exam = await _exam(call)
    assert call.actor is not None
    if isinstance(action, Grade) and action not in grades_for(exam.pass_fail):
        raise ApiError(400, _("That does not fit this exam."))
    who = (call.session, call.actor.teacher, call.user.id)
    now, rules = call.app.clock.now(), RollRules.of(call.settings)
    if isinstance(action, Grade):
        outcome = await service.set_grade(
            *who,
            exam_id=exam.id,
            student_id=student_id,
            grade=action,
            now=now,
            rules=rules,
            outbox=call.outbox,
        )
    else:
        outcome = await service.set_mark(
            *who,
            exam_id=exam.id,
            student_id=student_id,
            action=action,
            now=now,
            rules=rules,
            outbox=call.outbox,
        )
    return await _changed(call, exam, outcome)


async def grade(call: Call) -> dict[str, Any]:
    body = await call.json()
    student_id = _student_id(body)
    try:
        value = Grade(str(body.get("grade")))
    except ValueError:
        raise ApiError(400, _("That does not fit this exam.")) from None
    return await _set_mark(call, student_id, value)


async def outage(call: Call) -> dict[str, Any]:
    """A student's technical outage: start its clock, or end it (resolved)."""
    body = await call.json()
    student_id = _student_id(body)
    actions = {"start": MarkAction.OUTAGE, "end": MarkAction.RESOLVED}
    action = actions.get(str(body.get("action")))
    if action is None:
        raise ApiError(400, _("That does not fit this exam."))
    return await _set_mark(call, student_id, action)


async def confirm(call: Call) -> dict[str, Any]:
    exam = await _exam(call)
    assert call.actor is not None
    outcome, _view = await service.confirm_roll(
        call.session,
        call.actor.teacher,
        call.user.id,
        exam_id=exam.id,
        now=call.app.clock.now(),
        rules=RollRules.of(call.settings),
        outbox=call.outbox,
    )
    if outcome is Outcome.LOCKED:
        outcome = Outcome.ALREADY  # confirming twice: done
    return await _changed(call, exam, outcome)


async def sheet(call: Call) -> web.StreamResponse:
    """The attendance sheet (XLSX), as the chat sends it after confirming."""
    exam = await _exam(call)
    view = await service.load_roll(
        call.session, exam, call.app.clock.now(), rules=RollRules.of(call.settings)
    )
    built, name = build_sheet(view, call.settings, call.locale)
    data = await asyncio.to_thread(sheet_xlsx, built)
    return web.Response(
        body=data,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_ascii(name)}.xlsx"'},
    )


def _ascii(name: str) -> str:
    """A header's file name: the sheet's own name where it is plain ASCII."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return safe.strip("_") or "roll"


def register(router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/exams/today", api(exams_today))
    router.add_get(f"{API}/roll/{{exam_id}}", api(roll))
    router.add_get(f"{API}/roll/{{exam_id}}/sheet", api(sheet))
    router.add_post(f"{API}/roll/{{exam_id}}/mark", api(mark))
    router.add_post(f"{API}/roll/{{exam_id}}/grade", api(grade))
    router.add_post(f"{API}/roll/{{exam_id}}/outage", api(outage))
    router.add_post(f"{API}/roll/{{exam_id}}/confirm", api(confirm))
