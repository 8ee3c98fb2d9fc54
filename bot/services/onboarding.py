"""Getting in: linking a Telegram account to a roster entry, and redeeming invites."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.db.models import (
    Admin,
    DeaneryChat,
    DeanMember,
    Faculty,
    Group,
    Invite,
    InviteRole,
    LoginAttempt,
    Student,
    Teacher,
    User,
)
from bot.domain.attempts import AttemptBudget, attempt_budget
from bot.domain.imports import clean_text, name_key, normalize_record_book, normalize_surname
from bot.services.imports import ensure_named, named_ids


class LinkOutcome(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    TAKEN = "taken"  # linked to another Telegram account
    LIMITED = "limited"  # too many failed attempts
    ALREADY = "already"  # this account is linked to someone else
    LINKED = "linked"


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    student: Student | None = None
    budget: AttemptBudget | None = None


async def login_budget(
    session: AsyncSession, user_id: int, now: datetime, *, limit: int, window: timedelta
) -> AttemptBudget:
    failures = await session.scalars(
        select(LoginAttempt.at).where(
            LoginAttempt.user_id == user_id, LoginAttempt.at > now - window
        )
    )
    return attempt_budget(failures, now, limit, window=window)


async def find_roster_entry(
    session: AsyncSession,
    user: User,
    record_book: str,
    *,
    surname: str,
    now: datetime,
    limit: int,
    window: timedelta,
) -> LinkResult:
    budget = await login_budget(session, user.id, now, limit=limit, window=window)
    if budget.left == 0:
        return LinkResult(LinkOutcome.LIMITED, budget=budget)
    student = await session.scalar(
        select(Student)
        .where(Student.record_book == normalize_record_book(record_book))
        .options(joinedload(Student.group).joinedload(Group.faculty))
    )
    if student is None or student.surname_key != normalize_surname(surname):
        session.add(LoginAttempt(user_id=user.id, at=now))
        await session.flush()
        return LinkResult(
            LinkOutcome.NOT_FOUND,
            budget=await login_budget(session, user.id, now, limit=limit, window=window),
        )
    if student.user_id is not None and student.user_id != user.id:
        return LinkResult(LinkOutcome.TAKEN, student=student)
    return LinkResult(LinkOutcome.FOUND, student=student, budget=budget)


async def confirm_link(
    session: AsyncSession, user: User, student_id: int, *, now: datetime
) -> LinkResult:
    """Links the account; re-checked here because time passed since the match was shown."""
    # Locked: two accounts confirming one entry at once must not both win (PostgreSQL).
    student = await session.get(
        Student,
        student_id,
        options=[joinedload(Student.group).joinedload(Group.faculty)],
        with_for_update={"of": Student},
    )
    if student is None:
        return LinkResult(LinkOutcome.NOT_FOUND)
    if student.user_id == user.id:
        return LinkResult(LinkOutcome.LINKED, student=student)
    if student.user_id is not None:
        return LinkResult(LinkOutcome.TAKEN, student=student)
    current = await session.scalar(select(Student).where(Student.user_id == user.id))
    if current is not None:
        return LinkResult(LinkOutcome.ALREADY, student=current)
    student.user_id = user.id
    student.linked_at = now
    await session.execute(delete(LoginAttempt).where(LoginAttempt.user_id == user.id))
    await session.flush()
    return LinkResult(LinkOutcome.LINKED, student=student)


class InviteError(Exception):
    """An invite cannot be made; `code` says why (unknown_faculty, empty_name)."""

    def __init__(self, code: str, known: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.known = known or []


async def create_invite(
    session: AsyncSession, role: InviteRole, *, name: str | None = None
) -> Invite:
    """A one-time invite; `name` is the teacher's ФИО or the faculty for a dean."""
    invite = Invite(token=secrets.token_urlsafe(16), role=role.value)
    if role is InviteRole.TEACHER:
        full_name = clean_text(name or "")
        if not full_name:
            raise InviteError("empty_name")
        # Matched like imports match (case, ё/е), so the invite finds the schedule's teacher.
        teachers = await ensure_named(session, Teacher, Teacher.full_name, names=[full_name])
        invite.teacher_id = teachers[name_key(full_name)]
    elif role is InviteRole.DEAN:
        faculty_id = (await named_ids(session, Faculty, Faculty.name)).get(name_key(name or ""))
        if faculty_id is None:
            known = list(await session.scalars(select(Faculty.name).order_by(Faculty.name)))
            raise InviteError("unknown_faculty", known)
        invite.faculty_id = faculty_id
    session.add(invite)
    await session.flush()
    return invite


class RedeemOutcome(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    TEACHER_TAKEN = "teacher_taken"
    OK = "ok"


@dataclass(frozen=True)
class RedeemResult:
    outcome: RedeemOutcome
    role: InviteRole | None = None
    name: str = ""


async def redeem_invite(
    session: AsyncSession, user: User, token: str, *, now: datetime
) -> RedeemResult:
    # FOR UPDATE: two accounts redeeming one token at once on PostgreSQL must not both win.
    invite = await session.scalar(select(Invite).where(Invite.token == token).with_for_update())
    if invite is None:
        return RedeemResult(RedeemOutcome.UNKNOWN)
    if invite.used_at is not None:
        return RedeemResult(RedeemOutcome.USED)
    role = InviteRole(invite.role)
    name = ""
    if role is InviteRole.TEACHER:
        teacher = await session.get(Teacher, invite.teacher_id)
        if teacher is None:
            return RedeemResult(RedeemOutcome.UNKNOWN)
        if teacher.user_id is not None and teacher.user_id != user.id:
            return RedeemResult(RedeemOutcome.TEACHER_TAKEN, role, teacher.full_name)
        other = await session.scalar(select(Teacher).where(Teacher.user_id == user.id))
        if other is not None and other.id != teacher.id:
            other.user_id = None
            await session.flush()
        teacher.user_id = user.id
        name = teacher.full_name
    elif role is InviteRole.DEAN:
        faculty = await session.get(Faculty, invite.faculty_id)
        if faculty is None:
            return RedeemResult(RedeemOutcome.UNKNOWN)
        exists = await session.scalar(
            select(DeanMember).where(
                DeanMember.user_id == user.id, DeanMember.faculty_id == faculty.id
            )
        )
        if exists is None:
            session.add(DeanMember(user_id=user.id, faculty_id=faculty.id))
        name = faculty.name
    elif await session.get(Admin, user.id) is None:
        session.add(Admin(user_id=user.id))
    invite.used_by = user.id
    invite.used_at = now
    await session.flush()
    return RedeemResult(RedeemOutcome.OK, role, name)


async def dean_faculties(session: AsyncSession, faculty_ids: frozenset[int]) -> list[Faculty]:
    if not faculty_ids:
        return []
    return list(
        await session.scalars(
            select(Faculty).where(Faculty.id.in_(faculty_ids)).order_by(Faculty.name)
        )
    )


async def deanery_chat_id(session: AsyncSession, faculty_id: int) -> int | None:
    """The faculty's dean's office chat, if one is bound."""
    return await session.scalar(
        select(DeaneryChat.chat_id).where(DeaneryChat.faculty_id == faculty_id)
    )


async def bind_deanery_chat(
    session: AsyncSession,
    dean_faculty_ids: frozenset[int],
    faculty_id: int,
    *,
    chat_id: int,
    title: str,
    bound_by: int,
    now: datetime,
) -> Faculty | None:
    """Binds the chat to the faculty if the dean belongs to it; None means not allowed."""
    if faculty_id not in dean_faculty_ids:
        return None
    # A chat that is another faculty's dean's office stays theirs unless one of their own
    # hands it over: a dean of another faculty who is in it could otherwise take it (and
    # that faculty's cards would no longer come there).
    holder = await session.scalar(
        select(DeaneryChat.faculty_id).where(DeaneryChat.chat_id == chat_id)
    )
    if holder is not None and holder not in dean_faculty_ids:
        return None
    faculty = await session.get(Faculty, faculty_id)
    if faculty is None:
        return None
    # One chat per faculty: binding a new one replaces the old binding.
    await session.execute(
        delete(DeaneryChat).where(
            (DeaneryChat.faculty_id == faculty_id) | (DeaneryChat.chat_id == chat_id)
        )
    )
    session.add(
        DeaneryChat(
            chat_id=chat_id, faculty_id=faculty_id, title=title, bound_by=bound_by, bound_at=now
        )
    )
    await session.flush()
    return faculty
