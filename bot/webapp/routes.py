"""The API's routes: who is this (/me); the dean's, the teacher's and the admin's pages
are in their own modules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.webapp import admin, announcements, dean, teacher
from bot.webapp.server import API, Call, api
from bot.webapp.texts import ui_texts


def roles(call: Call) -> list[str]:
    actor = call.actor
    if actor is None:
        return []
    found = []
    if actor.is_dean:
        found.append("dean")
    if actor.teacher is not None:
        found.append("teacher")
    if actor.is_admin:
        found.append("admin")
    if actor.student is not None:
        found.append("student")
    return found


async def me(call: Call) -> dict[str, Any]:
    actor = call.actor
    name = call.user.first_name
    if actor is not None and actor.teacher is not None:
        name = actor.teacher.full_name
    return {
        "user_id": call.user.id,
        "lang": call.locale,
        "name": name,
        "roles": roles(call),
        "i18n": ui_texts(),
    }


def register(router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/me", api(me))
    dean.register(router)
    teacher.register(router)
    admin.register(router)
    announcements.register(router)
