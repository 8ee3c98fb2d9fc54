"""The e-mail copy of statements through the outbox, against a real SMTP server (aiosmtpd on
127.0.0.1), the fake Bot API for the documents, and a real database (SQLite and, with
TEST_POSTGRES_DSN set, PostgreSQL).

The sender is driven directly: `drain()` claims what is due (letters go off in tasks of
their own), `mail_idle()` waits for the letters being handed over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.utils.i18n import I18n
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_bot, create_i18n
from bot.config import Settings
from bot.db.engine import create_sessionmaker
from bot.db.models import (
    DeanMember,
    ExamWork,
    Faculty,
    Notice,
    NoticeStatus,
    RollEntry,
    Statement,
    StatementFile,
    Student,
    User,
)
from bot.domain.reminders import NoticeKind, backoff
from bot.notify.mail import Mailer
from bot.notify.sender import OutboxSender
from bot.services.outbox import Outbox
from bot.services.reminders import outbox_summary
from bot.services.statements import add_documents, announce_statement, submit, withdraw
from bot.views.texts import summary_text
from tests.e2e.conftest import MovableClock
from tests.e2e.fakeapi import FakeBotAPI
from tests.e2e.fakesmtp import FakeSMTP, attachments, body, free_port
from tests.integration.test_outbox_sender import START, exam_id, seed

TOKEN = "123456:TEST-token"
DEANERY = "dean@example.org"
KARIMOV = "2611022"  # group 1102, Лечебный факультет
DEAN_USER = 20_001


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSMTP]:
    async with FakeSMTP() as server:
        yield server


@pytest.fixture
def settings(api: FakeBotAPI, engine: AsyncEngine, smtp: FakeSMTP, tmp_path: Path) -> Settings:
    return Settings(
        bot_token=TOKEN,
        telegram_api_url=api.base_url,
        database_url=engine.url.render_as_string(hide_password=False),
        smtp_url=smtp.url,
        files_dir=tmp_path / "files",
        institution_name="КГМУ",
        _env_file=None,
    )


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def i18n(settings: Settings) -> I18n:
    return create_i18n(settings)


@dataclass
class World:
    api: FakeBotAPI
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: MovableClock
    i18n: I18n
    senders: list[OutboxSender]

    def sender(
        self, settings: Settings | None = None, *, mail: bool = True, **kwargs: Any
    ) -> OutboxSender:
        chosen = settings or self.settings
        smtp = chosen.smtp
        mailer = (
            Mailer(
                smtp,
                chosen.mail_from,
                bot=create_bot(chosen, retry=False),
                files_dir=chosen.files_dir,
                clock=self.clock,
            )
            if mail and smtp is not None
            else None
        )
        made = OutboxSender(
            create_bot(chosen, retry=False),
            self.sessionmaker,
            clock=self.clock,
            settings=chosen,
            i18n=self.i18n,
            mailer=mailer,
            **kwargs,
        )
        self.senders.append(made)
        return made

    async def file(
        self,
        files: list[tuple[str, bytes]],
        kind: str = "absence",
        settings: Settings | None = None,
    ) -> int:
        """Karimov files a statement about Latin with these (kind, bytes) documents."""
        documents = []
        for n, (file_kind, content) in enumerate(files):
            entry = self.api.register_file(content, f"scan{n}.pdf")
            documents.append(
                {
                    "kind": file_kind,
                    "file_id": entry.file_id,
                    "file_unique_id": entry.unique_id,
                    "file_name": None if file_kind == "photo" else f"справка-{n}.pdf",
                    "mime_type": "image/jpeg" if file_kind == "photo" else "application/pdf",
                    "size": len(content),
                }
            )
        draft = {
            "exam_id": await exam_id(self.sessionmaker, "Латинский язык"),
            "kind": kind,
            "reason": "illness" if kind == "absence" else None,
            "text": "ОРВИ, температура 38,5",
            "time_zone": "Asia/Vladivostok" if kind == "timezone" else None,
            "window": "14:00–18:00" if kind == "timezone" else None,
            "files": documents,
        }
        chosen = settings or self.settings
        async with self.sessionmaker.begin() as session:
            student = await karimov(session)
            result = await submit(session, student, draft, now=self.clock.now(), settings=chosen)
            assert result.statement is not None, result.outcome
            await announce_statement(
                session, result.statement, self.clock.now(), settings=chosen, outbox=Outbox()
            )
            return result.statement.id

    async def mail_notices(self) -> list[Notice]:
        async with self.sessionmaker() as session:
            return list(
                await session.scalars(
                    select(Notice)
                    .where(Notice.kind == NoticeKind.STATEMENT_EMAIL)
                    .order_by(Notice.id)
                )
            )

    async def send(self, sender: OutboxSender) -> None:
        await sender.drain()
        await sender.mail_idle()


async def karimov(session: AsyncSession) -> Student:
    student = await session.scalar(select(Student).where(Student.record_book == KARIMOV))
    assert student is not None
    return student


async def set_address(sessionmaker: async_sessionmaker[AsyncSession], address: str | None) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Faculty).where(Faculty.name == "Лечебный факультет").values(email=address)
        )


@pytest.fixture
async def world(
    api: FakeBotAPI,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: MovableClock,
    i18n: I18n,
) -> AsyncIterator[World]:
    await seed(sessionmaker, settings)
    await set_address(sessionmaker, DEANERY)
    made = World(api, settings, sessionmaker, clock, i18n, [])
    try:
        yield made
    finally:
        await asyncio.gather(*(sender.close() for sender in made.senders))


async def test_letter_goes_once_with_every_document(world: World, smtp: FakeSMTP) -> None:
    statement_id = await world.file([("photo", b"photo 0"), ("document", b"%PDF-1.4 one")])
    # The keeper already has the first on disk: that copy is the one attached (Telegram's
    # bytes differ here only to tell where the attachment came from).
    kept = Path("statements") / str(statement_id) / "1-kept.jpg"
    (world.settings.files_dir / kept).parent.mkdir(parents=True)
    (world.settings.files_dir / kept).write_bytes(b"\xff\xd8\xff photo 0, kept")
    async with world.sessionmaker.begin() as session:
        first = await session.scalar(
            select(StatementFile)
            .where(StatementFile.statement_id == statement_id)
            .order_by(StatementFile.id)
        )
        assert first is not None
        first.stored_path = str(kept)

    sender = world.sender()
    await world.send(sender)
    [letter] = smtp.letters()
    assert smtp.received[0][:2] == ("examinator@localhost", [DEANERY])
    assert letter["To"] == DEANERY
    assert letter["Subject"] == (
        f"Заявление №{statement_id}: отсутствие — Каримов Булат Айратович, 1102"
    )
    text = body(letter)
    assert "Номер зачётной книжки: 2611022" in text
    assert "Латинский язык" in text and "Причина: болезнь" in text
    assert "ОРВИ, температура 38,5" in text
    assert attachments(letter) == [
        (f"statement-{statement_id}-1.jpg", "image/jpeg", b"\xff\xd8\xff photo 0, kept"),
        ("справка-1.pdf", "application/pdf", b"%PDF-1.4 one"),
    ]
    [notice] = await world.mail_notices()
    assert (notice.status, notice.chat_id, notice.attempts) == (NoticeStatus.SENT, 0, 0)

    # Sent is sent: later rounds (another sender too) do not send it again.
    world.clock.move(timedelta(hours=1))
    await world.send(sender)
    await world.send(world.sender())
    assert len(smtp.received) == 1


async def test_recipient_refused_for_good_is_recorded_at_once(world: World, smtp: FakeSMTP) -> None:
    smtp.refuse[DEANERY] = "550 5.1.1 No such mailbox"
    await world.file([("photo", b"p")])
    await world.send(world.sender())
    [notice] = await world.mail_notices()
    assert notice.status == NoticeStatus.FAILED and notice.attempts == 0
    assert notice.last_error is not None
    assert notice.last_error.startswith("refused: ") and "550" in notice.last_error
    assert "No such mailbox" in notice.last_error
    assert smtp.received == []


async def test_busy_or_unreachable_server_backs_off_then_the_letter_goes_once(
    world: World, smtp: FakeSMTP
) -> None:
    smtp.refuse[DEANERY] = "451 4.7.1 Greylisted, try again later"
    await world.file([("photo", b"p")])
    sender = world.sender()
    await world.send(sender)
    [notice] = await world.mail_notices()
    assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)
    assert notice.due_at == START + backoff(1)
    assert notice.last_error is not None and "451" in notice.last_error

    # The server goes down: connection refused counts as an attempt too.
    await smtp.stop()
    world.clock.move(backoff(1))
    await world.send(sender)
    [notice] = await world.mail_notices()
    assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 2)
    assert notice.last_error is not None and str(smtp.port) in notice.last_error
    await world.send(sender)  # not due yet: nothing happens
    assert (await world.mail_notices())[0].attempts == 2

    async with FakeSMTP(port=smtp.port) as again:
        world.clock.move(backoff(2))
        await world.send(sender)
        assert len(again.received) == 1
        world.clock.move(timedelta(minutes=30))
        await world.send(sender)
        assert len(again.received) == 1
    [notice] = await world.mail_notices()
    assert notice.status == NoticeStatus.SENT and notice.last_error is None


async def test_a_letter_that_keeps_failing_ends_as_failed(world: World, smtp: FakeSMTP) -> None:
    closed = free_port()
    settings = world.settings.model_copy(
        update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{closed}"), "send_max_attempts": 2}
    )
    await world.file([("photo", b"p")])
    sender = world.sender(settings)
    await world.send(sender)
    world.clock.move(backoff(1))
    await world.send(sender)
    [notice] = await world.mail_notices()
    assert (notice.status, notice.attempts) == (NoticeStatus.FAILED, 2)
    assert notice.last_error is not None and str(closed) in notice.last_error


async def test_a_slow_mail_server_does_not_hold_telegram(world: World, smtp: FakeSMTP) -> None:
    async with world.sessionmaker.begin() as session:
        session.add(User(id=DEAN_USER, first_name="Декан", locale="en"))
        faculty = await session.scalar(select(Faculty).where(Faculty.name == "Лечебный факультет"))
        assert faculty is not None
        session.add(DeanMember(user_id=DEAN_USER, faculty_id=faculty.id))
    smtp.data_delay = 3.0  # the letter is still being taken while Telegram's card is out
    # No documents: the card is one Telegram message (an album would wait for the per-chat
    # gap, which has nothing to do with e-mail).
    await world.file([], kind="timezone")
    sender = world.sender()
    await sender.drain()  # the card goes to the dean in Telegram; the letter is still going
    # Not a wall-clock bound (the machine is shared): the card is out while the mail server
    # has not yet taken the letter it is slowly receiving.
    assert [c.method for c in world.api.delivered(DEAN_USER)][:1] == ["sendMessage"]
    assert smtp.received == []
    await sender.mail_idle()
    assert len(smtp.received) == 1
    [notice] = await world.mail_notices()
    assert notice.status == NoticeStatus.SENT


async def test_a_sender_does_not_claim_its_own_letter_again(world: World, smtp: FakeSMTP) -> None:
    smtp.data_delay = 1.0
    await world.file([("photo", b"p")])
    sender = world.sender()
    await sender.drain()
    await smtp.in_data()  # the letter is at the server, not yet answered
    # drain() does not wait for letters: one outlasting the lease is still this sender's.
    world.clock.move(timedelta(hours=1))
    await sender.drain()
    await sender.mail_idle()
    assert len(smtp.received) == 1
    [notice] = await world.mail_notices()
    assert notice.status == NoticeStatus.SENT


async def test_the_claim_is_renewed_while_the_letter_is_on_its_way(
    world: World, smtp: FakeSMTP
) -> None:
    smtp.data_delay = 1.0
    await world.file([("photo", b"p")])
    lease = timedelta(seconds=0.2)  # the claim is renewed every 0.05 s of real time
    sender = world.sender(lease=lease)
    await sender.drain()
    await smtp.in_data()
    world.clock.move(timedelta(hours=1))  # longer than the lease while on its way...
    await asyncio.sleep(0.3)  # ...but renewed meanwhile: another sender leaves it alone
    other = world.sender(lease=lease, exclusive=False)
    await other.drain()
    await asyncio.gather(sender.mail_idle(), other.mail_idle())
    assert len(smtp.received) == 1
    [notice] = await world.mail_notices()
    assert notice.status == NoticeStatus.SENT and notice.claimed_by == sender.worker_id


async def test_nothing_is_queued_without_smtp_or_an_address(world: World, smtp: FakeSMTP) -> None:
    no_smtp = world.settings.model_copy(update={"smtp_url": None})
    assert no_smtp.smtp is None
    await world.file([("photo", b"p")], settings=no_smtp)
    assert await world.mail_notices() == []
    await set_address(world.sessionmaker, None)
    await world.file([("photo", b"p")], kind="timezone")
    assert await world.mail_notices() == []


async def test_withdrawn_or_address_removed_before_it_goes_is_dropped(
    world: World, smtp: FakeSMTP
) -> None:
    withdrawn = await world.file([("photo", b"p")])
    async with world.sessionmaker.begin() as session:
        assert await withdraw(session, await karimov(session), withdrawn, now=START) is not None
    await world.file([], kind="timezone")
    await set_address(world.sessionmaker, None)
    await world.send(world.sender())
    assert [(n.status, n.last_error) for n in await world.mail_notices()] == [
        (NoticeStatus.DROPPED, "no longer true"),
        (NoticeStatus.DROPPED, "no longer true"),
    ]
    assert smtp.received == []


async def test_documents_added_later_get_a_letter_of_their_own(
    world: World, smtp: FakeSMTP
) -> None:
    statement_id = await world.file([("photo", b"\xff\xd8\xff first")])
    entry = world.api.register_file(b"%PDF-1.4 later", "later.pdf")
    added = {
        "kind": "document",
        "file_id": entry.file_id,
        "file_unique_id": entry.unique_id,
        "file_name": "справка.pdf",
        "mime_type": "application/pdf",
        "size": 10,
    }
    async with world.sessionmaker.begin() as session:
        student = await karimov(session)
        assert await add_documents(
            session,
            student,
            statement_id,
            files=[added],
            now=START,
            settings=world.settings,
            outbox=Outbox(),
        )
    await world.send(world.sender())
    # Two letters, handed over side by side: told apart by subject, not by arrival.
    later, first = sorted(
        await smtp.wait_for(2), key=lambda m: "дополнительные" not in m["Subject"]
    )
    assert [a[2] for a in attachments(first)] == [b"\xff\xd8\xff first"]
    assert later["Subject"] == (
        f"Заявление №{statement_id}: дополнительные документы — Каримов Булат Айратович, 1102"
    )
    assert attachments(later) == [("справка.pdf", "application/pdf", b"%PDF-1.4 later")]


async def test_appeal_carries_the_grade_and_the_preparation_sheets(
    world: World, smtp: FakeSMTP
) -> None:
    latin = await exam_id(world.sessionmaker, "Латинский язык")
    sheet = world.api.register_file(b"\xff\xd8\xff sheet", "sheet.jpg")
    async with world.sessionmaker.begin() as session:
        student = await karimov(session)
        session.add(RollEntry(exam_id=latin, student_id=student.id, mark="present", grade="fail"))
        session.add(
            ExamWork(
                exam_id=latin,
                student_id=student.id,
                purpose="preparation",
                kind="photo",
                file_id=sheet.file_id,
                file_unique_id=sheet.unique_id,
                mime_type="image/jpeg",
                received_at=START,
            )
        )
        statement = Statement(
            student_id=student.id,
            exam_id=latin,
            kind="appeal",
            text="Экзаменатор не дал закончить ответ на второй вопрос билета.",
            submitted_at=START,
        )
        session.add(statement)
        await session.flush()
        await announce_statement(
            session, statement, START, settings=world.settings, outbox=Outbox()
        )
    await world.send(world.sender())
    [letter] = smtp.letters()
    assert "апелляция" in letter["Subject"]
    assert "Оценка: неудовлетворительно" in body(letter)
    assert attachments(letter) == [
        (f"preparation-{statement.id}-1.jpg", "image/jpeg", b"\xff\xd8\xff sheet")
    ]


async def test_a_sender_without_a_mailer_records_the_letter_as_failed(
    world: World, smtp: FakeSMTP
) -> None:
    await world.file([("photo", b"p")])
    await world.send(world.sender(mail=False))
    [notice] = await world.mail_notices()
    assert notice.status == NoticeStatus.FAILED
    assert notice.last_error == "e-mail is off: SMTP_URL is not set"


async def test_status_shows_the_letters(world: World, smtp: FakeSMTP) -> None:
    smtp.refuse[DEANERY] = "451 4.3.0 Mailbox temporarily unavailable"
    await world.file([("photo", b"p")])
    await world.send(world.sender())
    async with world.sessionmaker() as session:
        summary = await outbox_summary(session)
    assert summary.mail == {NoticeStatus.PENDING: 1}
    assert summary.mail_error is not None and "451" in summary.mail_error
    with world.i18n.context(), world.i18n.use_locale("en"):
        text = summary_text(summary, world.settings, "en")
    assert "E-mail to the dean's offices: 1 pending, 0 sent, 0 failed" in text
    assert "Last e-mail error: " in text and "451 4.3.0" in text
    assert "statement_email → ✉️" in text
