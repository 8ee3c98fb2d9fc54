"""The mailer: hands a statement's letter to the SMTP server, its documents attached.

The outbox sender calls it for e-mail notices, beside (never inside) Telegram's rate
limiter. Documents are read from FILES_DIR when the keeper has them, else downloaded
from Telegram; one Telegram no longer has is named in the letter instead of attached, and
so is one whose bytes are no photo, scan or PDF (bot.domain.content), whatever the sender
declared: a refused file never travels by e-mail.
A refusal for good (a 5xx answer to the letter) raises MailRefused; anything else
(the server unreachable or slow, a 4xx, Telegram unreachable) propagates, and the
outbox retries it with back-off like any notice.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

import aiosmtplib
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bot.clock import Clock
from bot.config import SmtpTarget
from bot.domain.content import sniff
from bot.services.deanery_mail import Attachment, Letter

log = logging.getLogger(__name__)

# Mailboxes commonly take 20–25 MB a letter, and base64 adds a third: documents past
# this are named in the letter rather than attached, so the letter itself still goes.
MAX_ATTACHED_BYTES = 15 * 1024 * 1024


class MailRefused(Exception):
    """The server refused this letter for good (5xx): sending it again cannot help."""


class MailDeferred(Exception):
    """The letter did not go this time (unreachable, timed out, 4xx): worth retrying."""


def build_message(
    letter: Letter, mail_from: str, contents: Sequence[bytes | None], *, when: datetime
) -> EmailMessage:
    """The MIME message: the text, then each document whose bytes are at hand (None: could
    not be had) and really are a photo, scan or PDF (whatever the sender declared; typed
    by what they are), as long as they fit MAX_ATTACHED_BYTES together."""
    attached: list[tuple[Attachment, bytes]] = []
    missing: list[str] = []
    refused: list[str] = []
    too_big: list[str] = []
    total = 0
    for attachment, content in zip(letter.attachments, contents, strict=True):
        if content is None:
            missing.append(attachment.filename)
        elif (kind := sniff(content)) is None:
            refused.append(attachment.filename)
        elif total + len(content) > MAX_ATTACHED_BYTES:
            too_big.append(attachment.filename)
        else:
            total += len(content)
            attached.append((replace(attachment, mime_type=kind), content))
    body = [letter.body]
    if attached:
        names = ", ".join(a.filename for a, _content in attached)
        body.append(f"Вложения ({len(attached)}): {names}")
    if missing:
        body.append(f"Не вложены (Telegram больше не хранит эти файлы): {', '.join(missing)}")
    if refused:
        body.append(f"Не вложены (по содержимому это не фото и не PDF): {', '.join(refused)}")
    if too_big:
        body.append(f"Не вложены (слишком большие для письма, см. в боте): {', '.join(too_big)}")

    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(when)
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    if letter.reference:
        reference = re.sub(r"[^A-Za-z0-9._-]", ".", letter.reference)
        message["Message-ID"] = f"<{reference}@{domain}>"
    message.set_content("\n\n".join(body))
    for attachment, content in attached:
        maintype, _slash, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


def refused_for_good(error: BaseException) -> bool:
    """A 5xx answer about this letter (recipient, sender, content). Not a failed login or
    a server turning the connection away: those are ours to fix, and worth retrying."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(r.code >= 500 for r in error.recipients)
    if isinstance(error, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPConnectResponseError):
        return False
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500


def _reason(error: BaseException) -> str:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{error.code} {error.message}"
    return str(error)


class Mailer:
    def __init__(
        self, target: SmtpTarget, mail_from: str, *, bot: Bot, files_dir: Path, clock: Clock
    ) -> None:
        self._target = target
        self._from = mail_from
        self._envelope_from = parseaddr(mail_from)[1]
        self._bot = bot
        self._dir = files_dir
        self._clock = clock

    async def close(self) -> None:
        await self._bot.session.close()

    async def send(self, letter: Letter) -> None:
        contents = [await self._fetch(attachment) for attachment in letter.attachments]
        message = build_message(letter, self._from, contents, when=self._clock.now())
        target = self._target
        try:
            await aiosmtplib.send(
                message,
                sender=self._envelope_from,
                recipients=[letter.to],
                hostname=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.use_tls,
                start_tls=target.start_tls,
                timeout=target.timeout,
            )
        except aiosmtplib.SMTPException as exc:
            # The server's own words (code and text), as the outbox records and shows them.
            if refused_for_good(exc):
                raise MailRefused(_reason(exc)) from exc
            raise MailDeferred(_reason(exc)) from exc

    async def _fetch(self, attachment: Attachment) -> bytes | None:
        """The document's bytes: kept on disk, or from Telegram; None if Telegram no
        longer has it. Telegram being unreachable raises (the letter waits for it)."""
        if attachment.stored_path:
            try:
                return await asyncio.to_thread((self._dir / attachment.stored_path).read_bytes)
            except OSError as exc:  # moved or deleted since: Telegram may still have it
                log.warning("kept file %s unreadable: %s", attachment.stored_path, exc)
        try:
            data = await self._bot.download(attachment.file_id)
        except TelegramBadRequest as exc:
            log.warning("file %s cannot be attached: %s", attachment.file_id, exc)
            return None
        return data.read() if data is not None else None
