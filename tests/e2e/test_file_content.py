"""A statement's documents are judged by their bytes, not by their name or declared type: a
program or an archive sent as "справка.pdf" (application/pdf) is refused by the keeper
(deleted from FILES_DIR, recorded as not kept, logged by ids only) and never attached to
the dean's office letter, while the real photo beside it is kept and attached."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db.models import InviteRole, StatementFile
from bot.domain.reminders import backoff
from tests.e2e import test_statement_mail as mail_tests
from tests.e2e.conftest import BotRunner, join_by_invite, link_student, press, say
from tests.e2e.fakeapi import FakeBotAPI, button
from tests.e2e.fakesmtp import FakeSMTP, attachments, body
from tests.e2e.test_statements import start_absence, stored

# Its fixtures: SMTP on, its port closed until the test opens it (the letter waits).
settings = mail_tests.settings
smtp_port = mail_tests.smtp_port

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 a photo of the certificate"
PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00 a Windows program"
ARCHIVE = b"PK\x03\x04\x14\x00\x06\x00 a zip archive"


async def kept(runner: BotRunner) -> list[StatementFile]:
    """The statement's files once the keeper (a background chore) has been at all of them."""
    async with asyncio.timeout(10):
        while True:
            async with runner.sessionmaker() as session:
                files = list(
                    await session.scalars(select(StatementFile).order_by(StatementFile.id))
                )
            if files and all(f.stored_path is not None for f in files):
                return files
            await asyncio.sleep(0.02)


async def test_a_program_sent_as_a_pdf_is_refused_by_its_content(
    api: FakeBotAPI, seeded: BotRunner, smtp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.notify.keeper")
    dean = api.user(15001, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    await say(api, dean, "/email dean@example.org")
    student = api.user(15002, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    await start_absence(api, student, "Латинский язык", "Illness", "ОРВИ")
    after = api.mark()
    api.send_photo(student, PHOTO)
    ack = await api.next_message(student.id, after=after)
    for name, content in (("справка.pdf", PROGRAM), ("выписка.pdf", ARCHIVE)):
        after = api.mark()
        api.send_document(student, name, content=content, mime_type="application/pdf")
        assert "Attached" in (await api.next_message(student.id, after=after))["text"]
    preview = await press(api, student, ack, button(ack, "Done")["callback_data"])
    assert "Documents: 3" in preview["text"]
    await press(api, student, preview, button(preview, "Send")["callback_data"])

    # The mail server is down, so the letter waits while the keeper judges the files.
    await mail_tests.mail_notice(seeded, lambda n: n.attempts >= 1)
    files = {f.file_name or f.kind: f for f in await kept(seeded)}
    assert files["справка.pdf"].stored_path == "" and files["выписка.pdf"].stored_path == ""
    photo = files["photo"].stored_path
    assert photo is not None and photo.endswith(".jpg")
    [statement] = await stored(seeded)
    folder = seeded.settings.files_dir / "statements" / str(statement.id)
    # Only the photo is on disk, under a name made of ids (nothing of the sender's).
    assert [p.name for p in folder.iterdir()] == [Path(photo).name]
    assert (folder / Path(photo).name).read_bytes() == PHOTO
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2, refused
    assert not any("справка" in line or "выписка" in line for line in refused)

    # The server is back: the letter carries the photo and names the two it refused.
    async with FakeSMTP(port=smtp_port) as smtp:
        seeded.tick(backoff(1))
        [letter] = await smtp.wait_for(1)
    assert [(kind, content) for _name, kind, content in attachments(letter)] == [
        ("image/jpeg", PHOTO)
    ]
    text = body(letter)
    assert "Не вложены (по содержимому это не фото и не PDF): справка.pdf, выписка.pdf" in text
