"""Who a router serves: the role filters the parent routers carry (bot.handlers).

A handler below a role's router may take the role as given (`actor.student` is set under
the students' router, and so on); anyone without it passes the router by, on to the
role's polite refusal (bot.handlers.refusals) or the general fallback."""

from __future__ import annotations

from enum import Enum
from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from bot.services.actors import Actor


class Role(Enum):
    STUDENT = "student"
    TEACHER = "teacher"
    DEAN = "dean"
    ADMIN = "admin"


class HasRole(Filter):
    """Whether the actor holds any of the roles (the middleware loaded them this update).
    The students' and the teachers' routers hand their handlers the row itself, typed:
    `student: Student`, `teacher: Teacher`."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self, event: TelegramObject, actor: Actor | None = None
    ) -> bool | dict[str, Any]:
        if actor is None:
            return False
        held = {
            Role.STUDENT: actor.student is not None,
            Role.TEACHER: actor.teacher is not None,
            Role.DEAN: actor.is_dean,
            Role.ADMIN: actor.is_admin,
        }
        if not any(held[role] for role in self.roles):
            return False
        if self.roles == {Role.STUDENT}:
            return {"student": actor.student}
        if self.roles == {Role.TEACHER}:
            return {"teacher": actor.teacher}
        return True


STUDENT = HasRole(Role.STUDENT)
TEACHER = HasRole(Role.TEACHER)
DEAN = HasRole(Role.DEAN)
ADMIN = HasRole(Role.ADMIN)
STAFF = HasRole(Role.DEAN, Role.ADMIN)  # the dean's office or an administrator
