"""The router tree: common handlers first, then one parent router per role carrying the
role filter (and the chat type its commands live in), then the per-role refusals and the
general fallback.

    root
    ├── errors, cancel (first: /cancel works inside any dialogue), help (/help, /lang), /tz
    ├── private chats
    │   ├── membership (blocked/unblocked), /start and linking
    │   ├── student: schedule, plan, statements, mydata, exam works
    │   └── teacher: exams and links, the roll console, /calendar, the new time's answer
    ├── dean's office (any chat): /bind in a group, the inbox and decisions
    ├── dean's office or admin (any chat): /email, /reports, /announce
    ├── anyone: a bound chat's faculty button, /bind in private, someone else's prompt
    ├── private chats
    │   ├── dean's office or admin: /invite, roster and schedule files (after /announce,
    │   │   whose dialogue takes a file too)
    │   ├── admin: /status, /unlock, /semester
    │   └── refusals of the private roles' commands
    ├── refusals: the other roles' commands, and every role's buttons
    └── fallback: whatever nobody took

A handler below a role's router takes the role as given. Each module's `setup()` makes a
fresh Router, so an application can be built more than once in a process (tests restart
the bot).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiogram import F, Router
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.enums import ChatType
from aiogram.filters import Filter

from bot.handlers import refusals, roles
from bot.handlers.admin import invites, semester, status
from bot.handlers.common import cancel, errors, help, membership, start
from bot.handlers.dean import announce, chat, email, imports, inbox, reports
from bot.handlers.student import mydata, plan, schedule, statements, timezone, works
from bot.handlers.teacher import exams, roll


def private(name: str, *children: Router) -> Router:
    """Messages (and the bot's own membership) in private chats only; presses pass."""
    router = Router(name=name)
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.my_chat_member.filter(F.chat.type == ChatType.PRIVATE)
    router.include_routers(*children)
    return router


def for_role(name: str, role: Filter, *children: Router) -> Router:
    """Messages and presses of those who hold the role; the others pass it by."""
    router = Router(name=name)
    router.message.filter(role)
    router.callback_query.filter(role)
    router.include_routers(*children)
    return router


def setup_routers() -> Router:
    root = Router(name="root")
    root.include_routers(
        errors.setup(),
        cancel.setup(),
        help.setup(),
        timezone.setup(),
        private(
            "private",
            membership.setup(),
            start.setup(),
            for_role(
                "student",
                roles.STUDENT,
                schedule.setup(),
                plan.setup(),
                statements.setup(),
                mydata.setup(),
                works.setup(),
            ),
            for_role(
                "teacher",
                roles.TEACHER,
                exams.setup(),
                roll.setup(),
                schedule.setup_teachers(),
                inbox.setup_teachers(),
            ),
        ),
        for_role("dean", roles.DEAN, chat.setup_dean(), inbox.setup()),
        for_role("staff", roles.STAFF, email.setup(), reports.setup(), announce.setup()),
        chat.setup(),
        inbox.setup_open(),
        private(
            "private-staff",
            for_role("staff-private", roles.STAFF, invites.setup(), imports.setup()),
            for_role("admin", roles.ADMIN, status.setup(), semester.setup()),
            refusals.setup_private(),
        ),
        refusals.setup(),
        help.setup_fallback(),
    )
    run_sync_filters_inline(root)
    return root


def run_sync_filters_inline(root: Router) -> None:
    """aiogram runs a filter that is a plain function (a dialogue State, an `F.…` magic
    filter) in a thread of the default executor, as if it could block: a thread hand-off
    for every such filter on an update's way down the tree (four for a /schedule), each
    costing more than the comparison it runs. Ours compare values in memory, so they run
    in the event loop, as the async filters do; the handlers are left as they are."""
    for router in root.chain_tail:
        for observer in router.observers.values():
            filters: list[FilterObject] = list(observer._handler.filters or ())  # the router's
            for handler in observer.handlers:
                filters.extend(handler.filters or ())
            for item in filters:
                if not item.awaitable:
                    item.callback = _awaitable(item.callback)
                    item.awaitable = True


def _awaitable(check: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def inline(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return inline
