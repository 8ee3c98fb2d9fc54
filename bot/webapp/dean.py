"""The dean's desk: the statements of the dean's own faculties (filtered, searched,
paged), one statement with its documents, decisions (the same service as the card's
buttons: the student is told in chat the same way), the additional session, reports."""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from bot.db.models import Statement, StatementFile
from bot.domain.content import sniff
from bot.domain.roll import Mark, effective_mark
from bot.domain.statements import StatementKind, StatementStatus
from bot.i18n import gettext as _
from bot.services.desk import (
    StatementFilter,
    dean_document,
    dean_statement,
    find_statements,
    roll_entry,
)
from bot.services.reports import ReportKind, report_data
from bot.services.roll import RollRules, additional_session
from bot.services.sheets import table_xlsx
from bot.services.statements import DecideOutcome, decide
from bot.views.reports import render_report
from bot.views.texts import (
    grade_name,
    kind_name,
    mark_name,
    reason_name,
    status_name,
    violation_name,
)
from bot.webapp.server import API, ApiError, Call, api

PAGE_SIZE = 20
ACTIONS = ("approve", "reject", "more")
MAX_REASON = 1000


def dean_scope(call: Call) -> frozenset[int]:
    """The faculties whose statements the caller decides (as /inbox: the dean's office)."""
    if call.actor is None or not call.actor.is_dean:
        raise ApiError(403, _("This command is for the dean's office."))
    return call.actor.dean_faculty_ids


def bad_input() -> ApiError:
    return ApiError(400, _("That does not fit this exam."))


def _int(value: str | None, *, low: int = 1, high: int = 2**31 - 1) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_input() from None
    if not low <= number <= high:
        raise bad_input()
    return number


def _filter(call: Call) -> StatementFilter:
    query = call.request.query
    kind = query.get("kind", "")
    if kind and kind not in {k.value for k in StatementKind}:
        raise bad_input()
    status = query.get("status", "")
    if status and status not in {s.value for s in StatementStatus}:
        raise bad_input()
    filed_from = filed_until = None
    day = query.get("date", "").strip()
    if day:
        try:
            filed_from = datetime.combine(date.fromisoformat(day), time(), call.settings.tz)
        except ValueError:
            raise bad_input() from None
        filed_until = filed_from + timedelta(days=1)
    return StatementFilter(
        kind=kind or None,
        status=status or None,
        exam_id=_int(query.get("exam")),
        group=query.get("group", "").strip()[:100] or None,
        filed_from=filed_from,
        filed_until=filed_until,
        text=query.get("q", "").strip()[:100] or None,
    )


def _item(statement: Statement) -> dict[str, Any]:
    exam = statement.exam
    student = statement.student
    return {
        "id": statement.id,
        "kind": statement.kind,
        "kind_label": kind_name(statement.kind),
        "status": statement.status,
        "status_label": status_name(statement.status),
        "student": {
            "name": student.full_name,
            "record_book": student.record_book,
            "group": student.group.name,
        },
        "exam": {
            "id": exam.id,
            "discipline": exam.discipline.name,
            "starts_at": exam.starts_at.isoformat(),
        },
        "filed_at": statement.submitted_at.isoformat(),
    }


async def statements(call: Call) -> dict[str, Any]:
    faculties = dean_scope(call)
    page = _int(call.request.query.get("page")) or 1
    found = _filter(call)
    items, total = await find_statements(
        call.session, faculties, found, page=page, page_size=PAGE_SIZE
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:  # past the last page: the last one
        page = pages
        items, total = await find_statements(
            call.session, faculties, found, page=page, page_size=PAGE_SIZE
        )
    return {
        "items": [_item(s) for s in items],
        "page": page,
        "pages": pages,
        "total": total,
    }


async def _own_statement(call: Call, faculties: frozenset[int]) -> Statement:
    statement_id = _int(call.request.match_info["id"])
    statement = (
        await dean_statement(call.session, faculties, statement_id)
        if statement_id is not None
        else None
    )
    if statement is None:
        raise ApiError(403, _("Only the dean's office of the student's faculty can decide this."))
    return statement


async def _detail(call: Call, statement: Statement) -> dict[str, Any]:
    entry = await roll_entry(call.session, statement)
    mark = (
        effective_mark(
            Mark(entry.mark),
            entry.outage_since,
            call.app.clock.now(),
            wait=call.settings.outage_wait,
        )
        if entry is not None
        else None
    )
    return {
        **_item(statement),
        "text": statement.text,
        "reason": statement.reason,
        "reason_label": reason_name(statement.reason),
        "violation_label": violation_name(statement.violation) if statement.violation else "",
        "time_zone": statement.time_zone,
        "decision_comment": statement.decision_comment,
        "decided_at": statement.decided_at.isoformat() if statement.decided_at else None,
        "documents": [
            {
                "id": f.id,
                "kind": "photo" if f.kind == "photo" else "document",
                "name": f.file_name or f"{f.kind}-{f.id}",
                "url": f"{API}/files/{f.id}",
            }
            for f in statement.files
        ],
        "roll_mark": mark.value if mark is not None else None,
        "roll_mark_label": mark_name(mark.value) if mark is not None else "",
        "grade": entry.grade if entry is not None else None,
        "grade_label": grade_name(entry.grade) if entry is not None else "",
        "actions": list(ACTIONS) if statement.status == StatementStatus.SUBMITTED else [],
    }


async def statement(call: Call) -> dict[str, Any]:
    return await _detail(call, await _own_statement(call, dean_scope(call)))


async def decision(call: Call) -> dict[str, Any]:
    faculties = dean_scope(call)
    body = await call.json()
    action = body.get("action")
    reason = body.get("reason")
    reason = reason.strip()[:MAX_REASON] if isinstance(reason, str) else ""
    if action not in ACTIONS:
        raise bad_input()
    if action != "approve" and not reason:
        raise ApiError(400, _("Write the reason first."))
    found = await _own_statement(call, faculties)
    assert call.actor is not None
    outcome, _decided = await decide(
        call.session,
        faculties,
        call.actor.user.id,
        statement_id=found.id,
        action=action,
        comment=reason or None,
        now=call.app.clock.now(),
        outbox=call.outbox,
    )
    if outcome is DecideOutcome.FORBIDDEN:
        raise ApiError(403, _("Only the dean's office of the student's faculty can decide this."))
    if outcome is DecideOutcome.ALREADY:
        raise ApiError(409, _("This statement is already decided or withdrawn."))
    return await _detail(call, await _own_statement(call, faculties))


async def document(call: Call) -> web.StreamResponse:
    faculties = dean_scope(call)
    file_id = _int(call.request.match_info["id"])
    row = await dean_document(call.session, faculties, file_id) if file_id is not None else None
    if row is None:
        raise ApiError(403, _("Only the dean's office of the student's faculty can decide this."))
    gone = ApiError(404, _("This document is no longer available."))
    if row.stored_path:
        path = (call.settings.files_dir / row.stored_path).resolve()
        if call.settings.files_dir.resolve() in path.parents and path.is_file():
            data = await asyncio.to_thread(path.read_bytes)
            return _file_response(data, _download_name(row))
    if row.stored_path == "":  # Telegram refused it, or its content was no document
        raise gone
    # Not kept yet: asked of Telegram (the keeper stores it on its next round), with no
    # transaction open while Telegram answers (this request writes nothing).
    fetch = call.app.fetch_file
    if fetch is None:
        raise gone
    name = _download_name(row)
    telegram_id = row.file_id
    await call.session.rollback()
    try:
        data = await fetch(telegram_id)
    except Exception as exc:
        raise gone from exc
    return _file_response(data, name)


def _download_name(row: StatementFile) -> str:
    """Named from ids only, never from the name the sender gave the file."""
    return f"statement-{row.statement_id}-{row.id}"


def _file_response(data: bytes, name: str) -> web.Response:
    kind = sniff(data[:16])
    if kind is None:
        raise ApiError(404, _("This document is no longer available."))
    extension = kind.rsplit("/", 1)[-1].replace("jpeg", "jpg")
    disposition = "inline" if kind.startswith("image/") else "attachment"
    return web.Response(
        body=data,
        content_type=kind,
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}.{extension}"',
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def additional(call: Call) -> dict[str, Any]:
    faculties = dean_scope(call)
    items = await additional_session(
        call.session, faculties, call.app.clock.now(), rules=RollRules.of(call.settings)
    )
    return {
        "items": [
            {
                "student": item.student,
                "record_book": item.record_book,
                "group": item.group,
                "discipline": item.discipline,
                "starts_at": item.starts_at.isoformat(),
                "mark": item.mark.value,
                "mark_label": mark_name(item.mark.value),
            }
            for item in items
        ]
    }


async def report(call: Call) -> web.StreamResponse:
    actor = call.actor
    if actor is None or not (actor.is_dean or actor.is_admin):
        raise ApiError(403, _("Reports are for the dean's office and administrators."))
    try:
        kind = ReportKind(call.request.match_info["name"])
    except ValueError:
        raise bad_input() from None
    scope = None if actor.is_admin else actor.dean_faculty_ids
    data = await report_data(
        call.session, kind, scope, now=call.app.clock.now(), rules=RollRules.of(call.settings)
    )
    built = render_report(data, call.settings)
    xlsx = await asyncio.to_thread(table_xlsx, built.table)
    return web.Response(
        body=xlsx,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="{built.file_name}.xlsx"',
        },
    )


def register(router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/statements", api(statements))
    router.add_get(f"{API}/statements/{{id}}", api(statement))
    router.add_post(f"{API}/statements/{{id}}/decision", api(decision))
    router.add_get(f"{API}/files/{{id}}", api(document))
    router.add_get(f"{API}/additional", api(additional))
    router.add_get(f"{API}/reports/{{name}}", api(report))
