"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd, in a thread of its own) that
keeps every letter it accepts, and can refuse recipients or answer slowly on request.

aiosmtpd's Controller checks that its server is up by connecting to its own port, so it
cannot take port 0: `free_port()` finds a port first, which also lets a test hold a port
closed (the server "down") and start the server on it later.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class _Handler:
    def __init__(self, owner: FakeSMTP) -> None:
        self._owner = owner

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        answer = self._owner.refuse.get(address)
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._owner.data_started += 1
        if self._owner.data_delay:
            await asyncio.sleep(self._owner.data_delay)  # the server's own loop, not the test's
        content = envelope.original_content or b""
        self._owner.received.append(
            (envelope.mail_from or "", list(envelope.rcpt_tos), bytes(content))
        )
        return "250 OK: queued"


class FakeSMTP:
    """`async with FakeSMTP() as smtp:` … `await smtp.wait_for(1)`; `smtp.letters()`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[tuple[str, list[str], bytes]] = []  # (sender, recipients, bytes)
        self.refuse: dict[str, str] = {}  # recipient -> the answer to RCPT, e.g. "550 …"
        self.data_delay = 0.0
        self.data_started = 0  # letters whose DATA began (answered or not yet)
        self.running = False
        self._controller = Controller(_Handler(self), hostname=HOST, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}?timeout=5"

    async def start(self) -> None:
        await asyncio.to_thread(self._controller.start)
        self.running = True

    async def stop(self) -> None:
        """Closes the port (a test may take the server down before its end)."""
        if self.running:
            self.running = False
            await asyncio.to_thread(self._controller.stop)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def letters(self) -> list[EmailMessage]:
        parsed = []
        for _sender, _recipients, content in self.received:
            message = message_from_bytes(content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed

    async def wait_for(self, count: int) -> list[EmailMessage]:
        """Waits (10 s at most) until at least `count` letters arrived."""
        await self._until(lambda: len(self.received) >= count, f"{count} letters")
        return self.letters()

    async def in_data(self) -> None:
        """Waits until a letter's DATA began: it is on its way, not yet answered."""
        await self._until(lambda: self.data_started > 0, "a letter's DATA")

    async def _until(self, done: Callable[[], bool], what: str) -> None:
        # Letters arrive in the server's thread, which signals nothing to this loop.
        try:
            async with asyncio.timeout(10):
                while not done():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise AssertionError(f"waited 10 s for {what}") from None


def attachments(letter: EmailMessage) -> list[tuple[str, str, bytes]]:
    """(file name, content type, bytes) of each attachment, in order."""
    found = []
    for part in letter.iter_attachments():
        assert isinstance(part, EmailMessage)
        content = part.get_content()
        assert isinstance(content, bytes)
        found.append((part.get_filename() or "", part.get_content_type(), content))
    return found


def body(letter: EmailMessage) -> str:
    text = letter.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert isinstance(content, str)
    return content
