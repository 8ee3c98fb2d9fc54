"""Personal data (§2.1): what the bot holds about a student, and unlinking. The roster entry
and the exam records belong to the university and stay; the Telegram account goes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.db.models import (
    Admin,
    DeanMember,
    Discipline,
    Exam,
    ExamWork,
    FsmRecord,
    Group,
    LoginAttempt,
    Notice,
    NoticeStatus,
    RollEntry,
    Statement,
    Student,
    Teacher,
    User,
)


@dataclass
class MyData:
    profile: dict[str, Any]
    statements: list[dict[str, Any]] = field(default_factory=list)
    exams: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0

    def as_json(self) -> bytes:
        return json.dumps(
            {
                "profile": self.profile,
                "statements": self.statements,
                "exams": self.exams,
                "files_kept": self.files,
            },
            ensure_ascii=False,
            indent=2,
            default=str,
        ).encode("utf-8")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def collect(session: AsyncSession, student: Student, user: User) -> MyData:
    group = await session.get(Group, student.group_id, options=[joinedload(Group.faculty)])
    assert group is not None
    data = MyData(
        profile={
            "full_name": student.full_name,
            "record_book": student.record_book,
            "group": group.name,
            "faculty": group.faculty.name,
            "telegram_id": user.id,
            "telegram_name": user.first_name,
            "telegram_username": user.username,
            "language": user.locale,
            "time_zone": user.tz,
            "linked_at": _iso(student.linked_at),
        }
    )
    statements = await session.scalars(
        select(Statement)
        .where(Statement.student_id == student.id)
        .options(
            joinedload(Statement.exam).joinedload(Exam.discipline),
            selectinload(Statement.files),
        )
        .order_by(Statement.id)
    )
    for s in statements.unique():
        data.statements.append(
            {
                "number": s.id,
                "exam": s.exam.discipline.name,
                "kind": s.kind,
                "status": s.status,
                "reason": s.reason,
                "violation": s.violation,
                "text": s.text,
                "time_zone": s.time_zone,
                "preferred_time": s.window,
                "submitted_at": _iso(s.submitted_at),
                "decided_at": _iso(s.decided_at),
                "decision_comment": s.decision_comment,
                "documents": len(s.files),
            }
        )
        data.files += len(s.files)
    rows = await session.execute(
        select(Discipline.name, Exam.starts_at, RollEntry)
        .join(Exam, Exam.id == RollEntry.exam_id)
        .join(Discipline, Discipline.id == Exam.discipline_id)
        .where(RollEntry.student_id == student.id)
        .order_by(Exam.starts_at)
    )
    for discipline, starts_at, entry in rows:
        data.exams.append(
            {
                "exam": discipline,
                "starts_at": _iso(starts_at),
                "attendance": entry.mark,
                "grade": entry.grade,
                "grade_posted_at": _iso(entry.grade_posted_at),
                "ticket": entry.ticket,
            }
        )
    works = await session.scalars(select(ExamWork.id).where(ExamWork.student_id == student.id))
    data.files += len(list(works))
    return data


async def unlink(session: AsyncSession, student: Student, user: User) -> None:
    """Removes the Telegram account from the student's records: the link, the notices' chat
    ids, the dialogue state, login attempts, and the account itself unless it also serves
    as a teacher's, dean's or admin's."""
    student.user_id = None
    student.linked_at = None
    await session.execute(
        update(Notice)
        .where(
            Notice.chat_id == user.id,
            Notice.status.in_((NoticeStatus.PENDING, NoticeStatus.CLAIMED)),
        )
        .values(status=NoticeStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Notice)
        .where((Notice.chat_id == user.id) | (Notice.user_id == user.id))
        .values(chat_id=0, user_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(LoginAttempt).where(LoginAttempt.user_id == user.id))
    await session.execute(delete(FsmRecord).where(FsmRecord.key.contains(f":{user.id}:")))
    other_role = (
        await session.scalar(select(Teacher.id).where(Teacher.user_id == user.id))
        or await session.scalar(select(DeanMember.id).where(DeanMember.user_id == user.id))
        or await session.scalar(select(Admin.user_id).where(Admin.user_id == user.id))
    )
    await session.flush()
    if other_role is None:
        await session.delete(user)
        await session.flush()
