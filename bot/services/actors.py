"""Who is writing: the Telegram user and every role the database gives them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.db.models import Admin, DeanMember, Group, Student, Teacher, User
from bot.domain.language import locale_for


class TgUser(Protocol):
    """What is read of Telegram's user (aiogram's `User` fits): services import no aiogram."""

    @property
    def id(self) -> int: ...
    @property
    def first_name(self) -> str: ...
    @property
    def username(self) -> str | None: ...
    @property
    def language_code(self) -> str | None: ...


@dataclass
class Actor:
    user: User
    # A plain copy: the error path reads it after the update's session is gone.
    locale: str
    student: Student | None = None
    teacher: Teacher | None = None
    dean_faculty_ids: frozenset[int] = field(default_factory=frozenset)
    is_admin: bool = False
    # Had blocked the bot (or been marked so by a 403) and is back with this update.
    reactivated: bool = False

    @property
    def is_dean(self) -> bool:
        return bool(self.dean_faculty_ids)

    @property
    def can_import(self) -> bool:
        return self.is_admin or self.is_dean


async def load_actor(
    session: AsyncSession,
    tg_user: TgUser,
    admin_ids: frozenset[int],
    *,
    default_locale: str = "ru",
    read: Roles | None = None,
) -> Actor:
    """The actor for this update; a first-time user gets a row (locale from their client).
    `read`: their roles read already in this session (the unit of work's first statement,
    `roles_query`); without them they are read here."""
    found = read if read is not None else await _roles(session, tg_user.id)
    if found is None:
        user = User(
            id=tg_user.id,
            first_name=tg_user.first_name or "",
            username=tg_user.username,
            language_code=tg_user.language_code,
            locale=locale_for(tg_user.language_code, default_locale),
            is_active=True,
        )
        session.add(user)
        await session.flush()
        return await actor_for(session, user, admin_ids)
    user = found.user
    # Writing to the bot unblocks it (Telegram does so too).
    reactivated = not user.is_active
    if reactivated:
        user.is_active = True
    if user.username != tg_user.username:
        user.username = tg_user.username
    actor = await found.actor(session, admin_ids)
    actor.reactivated = reactivated
    return actor


async def find_actor(
    session: AsyncSession, user_id: int, admin_ids: frozenset[int]
) -> Actor | None:
    """The actor of a known user, or None; unlike load_actor it writes nothing (the Mini
    App: a request proves a Telegram account, not that its owner ever wrote to the bot)."""
    found = await _roles(session, user_id)
    return None if found is None else await found.actor(session, admin_ids)


async def actor_for(session: AsyncSession, user: User, admin_ids: frozenset[int]) -> Actor:
    found = await _roles(session, user.id)
    assert found is not None, "the user's row is in this session"
    return await found.actor(session, admin_ids)


@dataclass
class Roles:
    user: User
    student: Student | None
    teacher: Teacher | None
    in_dean_office: bool
    invited_admin: bool

    async def actor(self, session: AsyncSession, admin_ids: frozenset[int]) -> Actor:
        faculties: Iterable[int] = ()
        if self.in_dean_office:  # rare: only then a second query
            faculties = await session.scalars(
                select(DeanMember.faculty_id).where(DeanMember.user_id == self.user.id)
            )
        return Actor(
            user=self.user,
            locale=self.user.locale,
            student=self.student,
            teacher=self.teacher,
            dean_faculty_ids=frozenset(faculties),
            is_admin=self.user.id in admin_ids or self.invited_admin,
        )


# In an update's data: the user's Roles read with the update's first statement
# (bot.middlewares.unit_of_work), for load_actor; None when not read there.
ROLES_READ = "roles_read"


def roles_query(*also: Any) -> Select[Any]:
    """The user and every role they hold, one row (none for a user not seen yet), with
    the `also` columns after them (the unit of work reads the update's own in the same
    statement). The user's id is the bound parameter `user_id`; `roles_of` reads a row."""
    in_dean_office = select(DeanMember.id).where(DeanMember.user_id == User.id).exists()
    invited_admin = select(Admin.user_id).where(Admin.user_id == User.id).exists()
    return (
        select(User, Student, Teacher, in_dean_office, invited_admin, *also)
        .outerjoin(Student, Student.user_id == User.id)
        .outerjoin(Teacher, Teacher.user_id == User.id)
        .where(User.id == bindparam("user_id"))
        .options(joinedload(Student.group).joinedload(Group.faculty))
    )


def roles_of(row: Sequence[Any]) -> Roles:
    return Roles(row[0], row[1], row[2], bool(row[3]), bool(row[4]))


# Built once: every update asks it, and building the statement and its cache key again
# each time cost as much as running it.
_ROLES = roles_query()


async def _roles(session: AsyncSession, user_id: int) -> Roles | None:
    """One query for the user and all their roles (it was five, a good part of an
    update's database time)."""
    row = (await session.execute(_ROLES, {"user_id": user_id})).first()
    return None if row is None else roles_of(row)
