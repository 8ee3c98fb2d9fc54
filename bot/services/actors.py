"""Who is writing: the Telegram user and every role the database gives them."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiogram.types import User as TgUser
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.db.models import Admin, DeanMember, Group, Student, Teacher, User
from bot.domain.language import locale_for


@dataclass
class Actor:
    user: User
    # A plain copy: the error path reads it after the update's session is gone.
    locale: str
    student: Student | None = None
    teacher: Teacher | None = None
    dean_faculty_ids: frozenset[int] = field(default_factory=frozenset)
    is_admin: bool = False

    @property
    def is_dean(self) -> bool:
        return bool(self.dean_faculty_ids)

    @property
    def can_import(self) -> bool:
        return self.is_admin or self.is_dean


async def load_actor(session: AsyncSession, tg_user: TgUser, admin_ids: frozenset[int]) -> Actor:
    """The actor for this update; a first-time user gets a row (locale from their client)."""
    user = await session.get(User, tg_user.id)
    if user is None:
        user = User(
            id=tg_user.id,
            first_name=tg_user.first_name or "",
            username=tg_user.username,
            language_code=tg_user.language_code,
            locale=locale_for(tg_user.language_code),
            is_active=True,
        )
        session.add(user)
        await session.flush()
    else:
        # Writing to the bot unblocks it (Telegram does so too).
        if not user.is_active:
            user.is_active = True
        if user.username != tg_user.username:
            user.username = tg_user.username
    return await actor_for(session, user, admin_ids)


async def actor_for(session: AsyncSession, user: User, admin_ids: frozenset[int]) -> Actor:
    student = await session.scalar(
        select(Student)
        .where(Student.user_id == user.id)
        .options(joinedload(Student.group).joinedload(Group.faculty))
    )
    teacher = await session.scalar(select(Teacher).where(Teacher.user_id == user.id))
    faculties = await session.scalars(
        select(DeanMember.faculty_id).where(DeanMember.user_id == user.id)
    )
    is_admin = user.id in admin_ids or await session.get(Admin, user.id) is not None
    return Actor(
        user=user,
        locale=user.locale,
        student=student,
        teacher=teacher,
        dean_faculty_ids=frozenset(faculties),
        is_admin=is_admin,
    )
