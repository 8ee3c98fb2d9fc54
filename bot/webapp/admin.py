"""The administrator's page: exams past and upcoming, cancelling or moving one (the
students are told through the outbox, as after the CLI or an import), and imports
checked first: a dry run lists the file's row errors and what it would change, and
writes nothing (its transaction is rolled back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, web

from bot.db.models import Exam
from bot.domain.imports import TableKind
from bot.i18n import gettext as _
from bot.services.desk import every_exam, exam_with_details, move_exam
from bot.services.imports import (
    ImportFileError,
    ImportReport,
    import_plan,
    import_roster,
    import_schedule,
)
from bot.services.onboarding import dean_faculties
from bot.services.reminders import cancel_exam, plan_after_import
from bot.services.schedule import last_end
from bot.views.html import plain
from bot.views.texts import file_error_text, row_error_text
from bot.webapp.server import API, ApiError, Call, api

PAST_SHOWN = 200


def admin_only(call: Call) -> None:
    if call.actor is None or not call.actor.is_admin:
        raise ApiError(403, _("This command is for administrators."))


def _exam_item(exam: Exam, now: datetime) -> dict[str, Any]:
    return {
        "id": exam.id,
        "discipline": exam.discipline.name,
        "kind": exam.kind,
        "group": exam.group.name,
        "teacher": exam.teacher.full_name if exam.teacher is not None else None,
        "starts_at": exam.starts_at.isoformat(),
        "cancelled": exam.cancelled_at is not None,
        "confirmed": exam.roll_confirmed_at is not None,
        "past": last_end(exam) <= now,
    }


async def exams(call: Call) -> dict[str, Any]:
    admin_only(call)
    when = call.request.query.get("when", "upcoming")
    if when not in ("past", "upcoming"):
        raise ApiError(400, _("That does not fit this exam."))
    now = call.app.clock.now()
    found = await every_exam(call.session)
    items = [e for e in found if (last_end(e) <= now) == (when == "past")]
    if when == "past":
        items = list(reversed(items))[:PAST_SHOWN]  # the latest first
    return {"items": [_exam_item(e, now) for e in items]}


async def _exam(call: Call) -> Exam:
    try:
        exam_id = int(call.request.match_info["id"])
    except ValueError:
        raise ApiError(400, _("That does not fit this exam.")) from None
    found = await exam_with_details(call.session, exam_id) if 0 < exam_id < 2**31 else None
    if found is None:
        raise ApiError(404, _("No such exam."))
    return found


async def cancel(call: Call) -> dict[str, Any]:
    admin_only(call)
    exam = await _exam(call)
    now = call.app.clock.now()
    if exam.cancelled_at is not None:
        raise ApiError(409, _("Already done."))
    report = await cancel_exam(
        call.session, exam.id, now, settings=call.settings, outbox=call.outbox
    )
    exam = await _exam(call)
    return {**_exam_item(exam, now), "told": report.created if report is not None else 0}


async def move(call: Call) -> dict[str, Any]:
    admin_only(call)
    body = await call.json()
    try:
        new_start = datetime.fromisoformat(str(body.get("starts_at")))
    except ValueError:
        raise ApiError(400, _("Please send a date and time such as 24.12.2026 14:00.")) from None
    if new_start.tzinfo is None:  # a wall-clock time is university time
        new_start = new_start.replace(tzinfo=call.settings.tz)
    new_start = new_start.astimezone(UTC)  # stored and compared in UTC, like every start
    now = call.app.clock.now()
    if new_start <= now:
        raise ApiError(400, _("That time has already passed. Send a later one."))
    exam = await _exam(call)
    if exam.cancelled_at is not None or exam.roll_confirmed_at is not None:
        raise ApiError(409, _("This exam can no longer be moved."))
    report = await move_exam(
        call.session, exam, new_start, now=now, settings=call.settings, outbox=call.outbox
    )
    exam = await _exam(call)
    return {**_exam_item(exam, now), "told": report.created}


async def _upload(call: Call) -> tuple[str, bytes]:
    too_large = ApiError(
        400,
        _("The file is too large: the limit is {mb:g} MB.").format(mb=call.settings.max_upload_mb),
    )
    try:
        reader = await call.request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                content = bytearray()
                while chunk := await part.read_chunk():
                    content.extend(chunk)
                    if len(content) > call.settings.max_upload_bytes:
                        raise too_large
                return part.filename or "", bytes(content)
    except (ValueError, AssertionError, KeyError):
        pass
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    raise ApiError(400, file_error_text("unsupported_type"))


async def import_file(call: Call) -> dict[str, Any]:
    """?kind=roster|schedule|plan&dry_run=1 with a multipart "file": the row errors and
    the counts; dry_run=0 writes (and plans the notices) when the file has no errors."""
    actor = call.actor
    if actor is None or not actor.can_import:
        raise ApiError(
            403,
            _(
                "I accept roster and schedule files only from the dean's office or an "
                "administrator."
            ),
        )
    try:
        kind = TableKind(call.request.query.get("kind", ""))
    except ValueError:
        raise ApiError(400, file_error_text("unsupported_type")) from None
    dry_run = call.request.query.get("dry_run", "1") != "0"
    filename, content = await _upload(call)
    allowed = (
        None
        if actor.is_admin
        else frozenset(f.name for f in await dean_faculties(call.session, actor.dean_faculty_ids))
    )
    settings = call.settings
    try:
        if kind is TableKind.ROSTER:
            report = await import_roster(call.session, filename, content, allowed_faculties=allowed)
        elif kind is TableKind.SCHEDULE:
            report = await import_schedule(
                call.session, filename, content, tz=settings.tz, allowed_faculties=allowed
            )
        else:
            report = await import_plan(
                call.session,
                filename,
                content,
                allowed_faculties=allowed,
                distance_limit=settings.plan_distance_limit,
            )
    except ImportFileError as exc:
        call.dry_run = True
        raise ApiError(400, file_error_text(exc.code)) from None
    if dry_run or not report.ok:
        call.dry_run = True  # rolled back: nothing written
    elif report.added or report.updated:
        await plan_after_import(
            call.session,
            kind,
            report.changed_exam_ids,
            now=call.app.clock.now(),
            settings=settings,
            changed_student_ids=report.changed_student_ids,
            outbox=call.outbox,
        )
    return _import_answer(report, written=not call.dry_run)


def _import_answer(report: ImportReport, *, written: bool) -> dict[str, Any]:
    return {
        "errors": [
            {"row": e.row, "column": e.column, "code": e.code, "text": plain(row_error_text(e))}
            for e in report.errors
        ],
        "counts": {
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "total": report.total,
        },
        "written": written,
    }


def register(router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/admin/exams", api(exams))
    router.add_post(f"{API}/admin/exams/{{id}}/cancel", api(cancel))
    router.add_post(f"{API}/admin/exams/{{id}}/move", api(move))
    router.add_post(f"{API}/admin/import", api(import_file))
