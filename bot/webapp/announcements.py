"""The announcement composer: what the author may address, sending (the same service as
/announce: checked on the server, through the outbox), and the live progress."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.db.models import Announcement
from bot.i18n import gettext as _
from bot.services.announcements import AnnounceOutcome, Target, announce, progress, targets
from bot.views.announcements import outcome_text
from bot.webapp.server import API, ApiError, Call, api


def _scope(call: Call) -> frozenset[int] | None:
    """None: every faculty (an admin); a dean's own faculties otherwise."""
    actor = call.actor
    if actor is None or not (actor.is_dean or actor.is_admin):
        raise ApiError(403, _("Announcements are for the dean's office and administrators."))
    return None if actor.is_admin else actor.dean_faculty_ids


async def audiences(call: Call) -> dict[str, Any]:
    faculties, groups, exams = await targets(call.session, _scope(call), call.app.clock.now())
    return {
        "faculties": [{"id": f.id, "name": f.name} for f in faculties],
        "groups": [{"id": g.id, "name": g.name, "faculty": g.faculty.name} for g in groups],
        "exams": [
            {
                "id": e.id,
                "discipline": e.discipline.name,
                "group": e.group.name,
                "starts_at": e.starts_at.isoformat(),
            }
            for e in exams
        ],
    }


async def send(call: Call) -> dict[str, Any]:
    """{"text", "audience": "group"|"faculty"|"exam", "target_id"} -> its progress."""
    scope = _scope(call)
    body = await call.json()
    try:
        target = Target(str(body.get("audience")))
        target_id = int(str(body.get("target_id")))
    except (ValueError, TypeError):
        raise ApiError(400, outcome_text(AnnounceOutcome.FORBIDDEN)) from None
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, outcome_text(AnnounceOutcome.EMPTY))
    assert call.actor is not None
    outcome, made = await announce(
        call.session,
        call.actor.user.id,
        scope,
        target=target,
        target_id=target_id if 0 < target_id < 2**31 else 0,
        text=text,
        file_kind=None,
        file_id=None,
        now=call.app.clock.now(),
        outbox=call.outbox,
    )
    if outcome is AnnounceOutcome.FORBIDDEN:
        raise ApiError(403, outcome_text(outcome))
    if outcome is not AnnounceOutcome.OK or made is None:
        raise ApiError(400, outcome_text(outcome))
    return await _progress(call, made)


async def _progress(call: Call, announcement: Announcement) -> dict[str, Any]:
    counted = await progress(call.session, announcement)
    return {
        "id": announcement.id,
        "total": counted.total,
        "sent": counted.sent,
        "pending": counted.pending,
        "failed": counted.blocked,
        "dropped": counted.dropped,
        "done": counted.done,
    }


async def status(call: Call) -> dict[str, Any]:
    """Only its author (or an admin) follows an announcement."""
    scope_all = _scope(call) is None
    try:
        announcement_id = int(call.request.match_info["id"])
    except ValueError:
        raise ApiError(400, _("Bad request.")) from None
    assert call.actor is not None
    found = (
        await call.session.get(Announcement, announcement_id)
        if 0 < announcement_id < 2**31
        else None
    )
    if found is None or not (scope_all or found.author_id == call.actor.user.id):
        raise ApiError(403, outcome_text(AnnounceOutcome.FORBIDDEN))
    return await _progress(call, found)


def register(router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/announcements/targets", api(audiences))
    router.add_post(f"{API}/announcements", api(send))
    router.add_get(f"{API}/announcements/{{id}}", api(status))
