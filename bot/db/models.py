"""SQLAlchemy models: who is who, and what is scheduled when.

Times are stored in UTC; the university's time zone is a setting, applied on display.
Enumerations are plain strings so that PostgreSQL needs no ENUM migrations.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.exams import EventKind, ExamForm
from bot.domain.statements import StatementStatus

__all__ = ["EventKind", "ExamForm"]  # re-exported: the columns hold their values


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite forgets the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite stores text: drop the offset so values compare as strings correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The largest id an Integer primary key holds (PostgreSQL's integer): an id from outside
# (a button's data, a command's argument) past it names no row, and would break the query.
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class InviteRole(StrEnum):
    TEACHER = "teacher"
    DEAN = "dean"
    ADMIN = "admin"


class User(Base):
    """A Telegram account that has talked to the bot."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(255), default="")
    username: Mapped[str | None] = mapped_column(String(64))
    language_code: Mapped[str | None] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    tz: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Faculty(Base):
    __tablename__ = "faculties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # The dean's office e-mail ("на электронную почту деканата"): every statement is also
    # e-mailed here when SMTP_URL is set; None sends none.
    email: Mapped[str | None] = mapped_column(String(254))

    groups: Mapped[list[Group]] = relationship(back_populates="faculty")


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("faculty_id", "name", name="uq_groups_faculty_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    faculty_id: Mapped[int] = mapped_column(ForeignKey("faculties.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))

    faculty: Mapped[Faculty] = relationship(back_populates="groups")


class Student(Base):
    """A roster entry; linked to at most one Telegram account."""

    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="RESTRICT"), index=True)
    full_name: Mapped[str] = mapped_column(String(255))
    surname_key: Mapped[str] = mapped_column(String(255))
    record_book: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group: Mapped[Group] = relationship()


class Teacher(Base):
    __tablename__ = "teachers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(255), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )


class DeanMember(Base):
    """A member of one faculty's dean's office."""

    __tablename__ = "dean_members"
    __table_args__ = (UniqueConstraint("user_id", "faculty_id", name="uq_dean_members_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    faculty_id: Mapped[int] = mapped_column(ForeignKey("faculties.id", ondelete="CASCADE"))

    faculty: Mapped[Faculty] = relationship()


class DeaneryChat(Base):
    """A group chat bound as a faculty's dean's-office chat (one chat per faculty)."""

    __tablename__ = "deanery_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    faculty_id: Mapped[int] = mapped_column(
        ForeignKey("faculties.id", ondelete="CASCADE"), unique=True
    )
    title: Mapped[str] = mapped_column(String(255), default="")
    bound_by: Mapped[int] = mapped_column(BigInteger)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Admin(Base):
    """An admin who came in by invite (ADMIN_IDS admins need no row)."""

    __tablename__ = "admins"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Discipline(Base):
    __tablename__ = "disciplines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class Exam(Base):
    """An exam or a pre-exam consultation of one group in one discipline."""

    __tablename__ = "exams"
    __table_args__ = (
        UniqueConstraint("group_id", "discipline_id", "kind", name="uq_exams_group_discipline"),
        Index("ix_exams_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="RESTRICT"))
    discipline_id: Mapped[int] = mapped_column(ForeignKey("disciplines.id", ondelete="RESTRICT"))
    teacher_id: Mapped[int | None] = mapped_column(
        ForeignKey("teachers.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    form: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_min: Mapped[int] = mapped_column(Integer)
    link: Mapped[str | None] = mapped_column(Text)
    moodle_url: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Graded зачтено / не зачтено instead of the four grades.
    pass_fail: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The roll, once the teacher confirms it: locked until an admin unlocks it.
    roll_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    roll_confirmed_by: Mapped[int | None] = mapped_column(BigInteger)
    # Tickets (§2.6): how they were handed out; the seed makes a random draw reproducible.
    ticket_method: Mapped[str | None] = mapped_column(String(16))
    ticket_count: Mapped[int | None] = mapped_column(Integer)
    ticket_seed: Mapped[int | None] = mapped_column(BigInteger)
    tickets_handed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written work: the clock the teacher started.
    written_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    written_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    group: Mapped[Group] = relationship()
    discipline: Mapped[Discipline] = relationship()
    teacher: Mapped[Teacher | None] = relationship()
    subgroups: Mapped[list[Subgroup]] = relationship(
        back_populates="exam", order_by="Subgroup.number", cascade="all, delete-orphan"
    )


class Subgroup(Base):
    """Part of a group with its own, staggered start time (§2.5)."""

    __tablename__ = "subgroups"
    __table_args__ = (UniqueConstraint("exam_id", "number", name="uq_subgroups_exam_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A sitting of one student (an approved time-zone statement), kept when the teacher
    # splits the group anew.
    individual: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    exam: Mapped[Exam] = relationship(back_populates="subgroups")


class SubgroupMember(Base):
    __tablename__ = "subgroup_members"
    __table_args__ = (
        UniqueConstraint("exam_id", "student_id", name="uq_subgroup_members_exam_student"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    subgroup_id: Mapped[int] = mapped_column(ForeignKey("subgroups.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))


class Invite(Base):
    """A one-time deep-link token that makes its redeemer a teacher, dean or admin."""

    __tablename__ = "invites"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    teacher_id: Mapped[int | None] = mapped_column(ForeignKey("teachers.id", ondelete="CASCADE"))
    faculty_id: Mapped[int | None] = mapped_column(ForeignKey("faculties.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_by: Mapped[int | None] = mapped_column(BigInteger)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """A failed roster match; counted to stop record books being guessed."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class FsmRecord(Base):
    """aiogram FSM state and data for one storage key, kept across restarts."""

    __tablename__ = "fsm_records"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProcessedUpdate(Base):
    """update_ids already handled, so an update Telegram re-sends is not handled twice."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class InboxUpdate(Base):
    """An update long polling fetched and confirmed to Telegram, kept until it has finished
    (bot.polling): a kill in between leaves it here, to be handled at the next start."""

    __tablename__ = "inbox_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The update as Telegram sent it (JSON), parsed again only if it is handled after a restart.
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoticeStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # a sender took it and is sending it now
    SENT = "sent"
    FAILED = "failed"  # gave up: blocked by the user, or errors past the retry limit
    DROPPED = "dropped"  # expired before it could go out, or no longer true
    CANCELLED = "cancelled"  # the plan changed (new time, link posted)


class Notice(Base):
    """One message the bot owes someone: the durable outbox.

    `key` names the notice (exam, recipient, kind, occurrence) and is unique, so planning
    the same thing twice never makes two notices. Texts are rendered when sent, from the
    data as it is then, in the recipient's language.
    """

    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_status_due", "status", "due_at"),
        Index("ix_notices_exam", "exam_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=NoticeStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @staticmethod
    def claim_of(worker: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """In a WHERE: still `worker`'s claim (not settled since, nor replaced by the
        planner, nor taken by another sender after the lease). Every write of a claimed
        notice checks it."""
        return (Notice.claimed_by == worker, Notice.status == NoticeStatus.CLAIMED)

    def is_claim_of(self, worker: str) -> bool:
        """The same, of a row read."""
        return self.status == NoticeStatus.CLAIMED and self.claimed_by == worker


class Statement(Base):
    """A student's statement (time zone, absence, appeal) to their faculty's dean's office."""

    __tablename__ = "statements"
    __table_args__ = (Index("ix_statements_student", "student_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=StatementStatus.SUBMITTED.value)
    reason: Mapped[str | None] = mapped_column(String(16))
    # An appeal: which part of the procedure it says was violated (AppealViolation).
    violation: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    time_zone: Mapped[str | None] = mapped_column(String(64))
    window: Mapped[str | None] = mapped_column(String(255))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_comment: Mapped[str | None] = mapped_column(Text)
    # Time zone statements: the new start the dean set, and when the teacher confirmed it.
    new_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    teacher_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    exam: Mapped[Exam] = relationship()
    student: Mapped[Student] = relationship()
    files: Mapped[list[StatementFile]] = relationship(
        back_populates="statement", order_by="StatementFile.id", cascade="all, delete-orphan"
    )


class StatementFile(Base):
    """A document attached to a statement: Telegram keeps the bytes, we keep the file id."""

    __tablename__ = "statement_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # photo | document
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    media_group_id: Mapped[str | None] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where the bytes are kept on disk (FILES_DIR), once fetched; "" if Telegram could not
    # give them; None while not fetched yet.
    stored_path: Mapped[str | None] = mapped_column(String(500))

    statement: Mapped[Statement] = relationship(back_populates="files")


class RollEntry(Base):
    """One student at one exam: attendance, outage clock, ticket and grade.

    The grade record the appeal window is counted from (`grade_posted_at`). An outage
    that is not resolved in time needs no timer to become "absent, valid reason": the
    mark is derived from `outage_since` whenever it is read (bot.domain.roll).
    """

    __tablename__ = "roll_entries"
    __table_args__ = (UniqueConstraint("exam_id", "student_id", name="uq_roll_entries_exam"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    mark: Mapped[str] = mapped_column(String(16), default="unmarked")
    marked_by: Mapped[int | None] = mapped_column(BigInteger)
    marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outage_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outage_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(16))
    grade_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    graded_by: Mapped[int | None] = mapped_column(BigInteger)

    student: Mapped[Student] = relationship()


class GradeChange(Base):
    """Every grade posted or changed, with who and when (the roll keeps the latest)."""

    __tablename__ = "grade_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("roll_entries.id", ondelete="CASCADE"), index=True
    )
    old_grade: Mapped[str | None] = mapped_column(String(16))
    new_grade: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RollConsole(Base):
    """Where an exam's roll is shown in chat (the teacher's console message), so that a
    mark made in the Mini App redraws it: chat and web are two views of one roll."""

    __tablename__ = "roll_consoles"

    exam_id: Mapped[int] = mapped_column(
        ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    page: Mapped[int] = mapped_column(Integer, default=0)
    locale: Mapped[str] = mapped_column(String(8))


class ExamWork(Base):
    """A student's written work or oral preparation sheet (a photo or a PDF)."""

    __tablename__ = "exam_works"
    __table_args__ = (Index("ix_exam_works_exam_student", "exam_id", "student_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # written | preparation
    kind: Mapped[str] = mapped_column(String(16))  # photo | document
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    media_group_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where the bytes are kept on disk (FILES_DIR), once fetched; "" if Telegram could not
    # give them; None while not fetched yet.
    stored_path: Mapped[str | None] = mapped_column(String(500))


class Announcement(Base):
    """A dean's or admin's message to a group, a faculty or one exam's students, sent
    through the outbox; the author's progress message is edited as it goes."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger)
    target: Mapped[str] = mapped_column(String(16))  # group | faculty | exam
    target_id: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    file_kind: Mapped[str | None] = mapped_column(String(16))  # photo | document
    file_id: Mapped[str | None] = mapped_column(String(255))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_shown: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Semester(Base):
    """A semester's dates: when the next one starts, the past session's recordings and
    written works are to be destroyed (the regulation's table, last rows)."""

    __tablename__ = "semesters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, unique=True)
    ends_on: Mapped[date] = mapped_column(Date)
    set_by: Mapped[int | None] = mapped_column(BigInteger)
    retention_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlanItem(Base):
    """One discipline of a student's individual study plan (ИУП, the second regulation's
    appendix 1), with its deadline; imported from the plan template."""

    __tablename__ = "plan_items"
    __table_args__ = (
        UniqueConstraint("student_id", "discipline", name="uq_plan_items_student_discipline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    discipline: Mapped[str] = mapped_column(String(255))
    department: Mapped[str] = mapped_column(String(255), default="")
    ects: Mapped[float | None] = mapped_column(Float)  # з.е.; None when the plan left it out
    lecture_hours: Mapped[int] = mapped_column(Integer, default=0)
    lab_hours: Mapped[int] = mapped_column(Integer, default=0)
    practice_hours: Mapped[int] = mapped_column(Integer, default=0)
    # Of the hours above, those held with distance technologies (the share rule).
    distance_hours: Mapped[int] = mapped_column(Integer, default=0)
    place_time: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[date] = mapped_column(Date)
    teacher: Mapped[str] = mapped_column(String(255), default="")
    programme_level: Mapped[str] = mapped_column(String(16), default="")  # ProgrammeLevel
    # The distance share allowed (a fraction), when the plan gives its own: 0.5 for a
    # master's programme without a part-time form; None means PLAN_DISTANCE_LIMIT.
    distance_limit: Mapped[float | None] = mapped_column(Float)

    student: Mapped[Student] = relationship()
