"""The dean's office e-mail ("на электронную почту деканата"): the faculty's address, the
copy of each statement queued for it, and what that letter is made of (the wording is
`bot.views.mail`'s).

The letter is an outbox notice like any other (NoticeKind.STATEMENT_EMAIL, chat 0):
planned with the statement, rendered when it is sent from the data as it is then, and
handed by the sender to the SMTP mailer (bot.notify.mail) instead of Telegram. It is
written in Russian, the dean's office language, whatever language the student uses.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.db.models import (
    DeaneryChat,
    Exam,
    ExamWork,
    Faculty,
    Group,
    Notice,
    RollEntry,
    Statement,
    StatementFile,
    Student,
)
from bot.domain.reminders import NoticeKind, Planned, notice_key
from bot.domain.statements import StatementKind, StatementStatus
from bot.services.outbox import Outbox
from bot.services.reminders import queue

# The letter's own wording is plain Russian (it is a document for the dean's office, not a
# reply in the user's language); shared labels (kinds, reasons, grades, dates) come from
# the catalogs in this locale.
LETTER_LOCALE = "ru"
LETTER_KEPT = timedelta(days=60)  # like the statement's card: a copy late is still a copy


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime_type: str
    file_id: str  # Telegram's, when the bytes are not kept on disk
    stored_path: str | None  # relative to FILES_DIR


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    # Stable across retries (the notice's key and birth), so a letter sent twice after a
    # crash carries the same Message-ID and mail clients show it once.
    reference: str = ""


# --- the faculty's address ---------------------------------------------------------------


async def manageable_faculties(
    session: AsyncSession, is_admin: bool, dean_faculty_ids: frozenset[int]
) -> list[Faculty]:
    """Faculties whose address this person may see and set: all for an admin, else their own."""
    query = select(Faculty).order_by(Faculty.name)
    if not is_admin:
        if not dean_faculty_ids:
            return []
        query = query.where(Faculty.id.in_(dean_faculty_ids))
    return list(await session.scalars(query))


def faculty_named(faculties: Sequence[Faculty], name: str) -> Faculty | None:
    """The faculty called `name`, ignoring case and extra spaces."""
    wanted = " ".join(name.split()).casefold()
    return next((f for f in faculties if " ".join(f.name.split()).casefold() == wanted), None)


async def chat_faculty(session: AsyncSession, chat_id: int) -> int | None:
    """The faculty whose dean's office chat this is, if it is one."""
    return await session.scalar(
        select(DeaneryChat.faculty_id).where(DeaneryChat.chat_id == chat_id)
    )


async def set_faculty_email(
    session: AsyncSession,
    is_admin: bool,
    dean_faculty_ids: frozenset[int],
    *,
    faculty_id: int,
    address: str | None,
) -> Faculty | None:
    """Sets (or, with None, clears) the address; None if this person may not."""
    if not is_admin and faculty_id not in dean_faculty_ids:
        return None
    faculty = await session.get(Faculty, faculty_id)
    if faculty is None:
        return None
    faculty.email = address
    await session.flush()
    return faculty


# --- queueing ----------------------------------------------------------------------------


async def queue_statement_mail(
    session: AsyncSession,
    statement: Statement,
    now: datetime,
    *,
    mail_on: bool,
    added: Sequence[StatementFile] | None = None,
    outbox: Outbox,
) -> int:
    """Queues the e-mail copy of a new statement, or with `added` of documents that
    followed it; nothing when mail is off (`mail_on`: SMTP_URL is set) or the faculty has
    no address."""
    if not mail_on:
        return 0
    address = await session.scalar(
        select(Faculty.email)
        .join(Group, Group.faculty_id == Faculty.id)
        .join(Student, Student.group_id == Group.id)
        .where(Student.id == statement.student_id)
    )
    if not address:
        return 0
    kind = NoticeKind.STATEMENT_EMAIL
    # Each letter names its own documents: a copy that goes out late must not also carry
    # the documents added since, which have a letter of their own.
    if added is None:
        key = notice_key(kind, statement.id)
        file_ids = list(
            await session.scalars(
                select(StatementFile.id)
                .where(StatementFile.statement_id == statement.id)
                .order_by(StatementFile.id)
            )
        )
    elif added:
        key = notice_key(kind, statement.id, "docs", added[0].id)
        file_ids = [f.id for f in added]
    else:
        return 0
    payload = {"statement_id": statement.id, "file_ids": file_ids, "follow_up": added is not None}
    planned = Planned(kind, key, now, now + LETTER_KEPT, payload)
    return await queue(session, [(planned, 0, None, None)], statement.exam_id, outbox=outbox)


# --- the letter's facts --------------------------------------------------------------------


@dataclass(frozen=True)
class LetterFacts:
    statement: Statement  # with the student's group and faculty, the exam and its discipline
    address: str
    attachments: tuple[Attachment, ...]
    grade: str | None  # an appeal's
    follow_up: int | None  # documents added later (a letter about them); None: the statement
    reference: str


async def letter_facts(session: AsyncSession, notice: Notice) -> LetterFacts | None:
    """What the letter is made of as it goes now; None if it is no longer owed (the
    statement was withdrawn, or the faculty's address was removed)."""
    statement = await session.get(
        Statement,
        int(notice.payload.get("statement_id", 0)),
        options=[
            joinedload(Statement.student).joinedload(Student.group).joinedload(Group.faculty),
            joinedload(Statement.exam).joinedload(Exam.discipline),
            selectinload(Statement.files),
        ],
    )
    if statement is None or statement.status == StatementStatus.WITHDRAWN:
        return None
    address = statement.student.group.faculty.email
    if not address:
        return None
    wanted = set(notice.payload.get("file_ids", []))
    follow_up = bool(notice.payload.get("follow_up"))
    files = [f for f in statement.files if f.id in wanted]
    attachments = [_attachment(f, f"statement-{statement.id}-{n}") for n, f in enumerate(files, 1)]
    grade = None
    if statement.kind == StatementKind.APPEAL:
        grade = await session.scalar(
            select(RollEntry.grade).where(
                RollEntry.exam_id == statement.exam_id,
                RollEntry.student_id == statement.student_id,
            )
        )
        if not follow_up:
            # The preparation sheets go with the appeal, as on the Telegram card.
            works = await session.scalars(
                select(ExamWork)
                .where(
                    ExamWork.exam_id == statement.exam_id,
                    ExamWork.student_id == statement.student_id,
                    ExamWork.purpose == "preparation",
                )
                .order_by(ExamWork.id)
            )
            attachments += [
                _attachment(w, f"preparation-{statement.id}-{n}") for n, w in enumerate(works, 1)
            ]
    stamp = notice.created_at.strftime("%Y%m%d%H%M%S")
    return LetterFacts(
        statement=statement,
        address=address,
        attachments=tuple(attachments),
        grade=grade,
        follow_up=len(files) if follow_up else None,
        reference=f"{notice.key}.{stamp}",
    )


def _attachment(row: StatementFile | ExamWork, fallback: str) -> Attachment:
    mime = (row.mime_type or "application/octet-stream").lower()
    # The name the student's phone gave a document (photos have none), without a path.
    name = row.file_name if isinstance(row, StatementFile) else None
    clean = (name or "").replace("/", "_").replace("\\", "_").strip()
    if not clean:
        extension = ".jpg" if mime == "image/jpeg" else mimetypes.guess_extension(mime)
        clean = fallback + (extension or ".bin")
    return Attachment(clean, mime, row.file_id, row.stored_path or None)
