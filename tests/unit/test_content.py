"""What a file is, by its first bytes; and a letter never carries a file that is not what
a statement's document may be, whatever its name and declared type say."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.content import EXTENSIONS, HEAD_BYTES, sniff
from bot.domain.statements import ACCEPTED_DOCUMENT_TYPES
from bot.notify.mail import build_message
from tests.unit.test_mail import WHEN, _letter


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "application/pdf"),
        (b"%PDF-2.0\n", "application/pdf"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypheix\x00\x00\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00", "image/heif"),
        (b"\x00\x00\x00\x1cftypmsf1\x00\x00\x00\x00", "image/heif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_accepted_formats_are_recognised(head: bytes, kind: str) -> None:
    assert sniff(head) == kind
    assert sniff(head + b"\x00" * 1000) == kind  # the rest of the file does not matter


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", id="windows-executable"),
        pytest.param(b"\x7fELF\x02\x01\x01\x00", id="linux-executable"),
        pytest.param(b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", id="mac-executable"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00", id="zip-docx-xlsx"),
        pytest.param(b"Rar!\x1a\x07\x01\x00", id="rar"),
        pytest.param(b"#!/bin/sh\nrm -rf /", id="script"),
        pytest.param(b"<html><script>", id="html"),
        pytest.param(b"{\\rtf1\\ansi", id="rtf"),
        pytest.param(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", id="mp4-video"),
        pytest.param(b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00", id="iso-media"),
        pytest.param(b"RIFF\x24\x00\x00\x00WAVEfmt ", id="wave-audio"),
        pytest.param(b"%PDF", id="pdf-cut-short"),
        pytest.param(b" %PDF-1.7", id="pdf-not-at-the-start"),
        pytest.param(b"\xff\xd8", id="jpeg-cut-short"),
        pytest.param(b"\x00\xff\xd8\xff\xe0", id="jpeg-shifted"),
        pytest.param(b"GIF89a\x01\x00", id="gif"),
        pytest.param(b"", id="empty"),
    ],
)
def test_anything_else_is_refused(head: bytes) -> None:
    assert sniff(head) is None


@settings(max_examples=300, database=None)
@given(st.binary(max_size=64))
def test_sniffing_any_bytes_is_safe(content: bytes) -> None:
    kind = sniff(content)
    assert kind is None or kind in EXTENSIONS
    assert sniff(content[:HEAD_BYTES]) == kind  # the head decides alone


def test_every_declared_type_accepted_has_a_signature() -> None:
    assert set(EXTENSIONS) == set(ACCEPTED_DOCUMENT_TYPES)


def test_a_letter_carries_files_by_what_they_are() -> None:
    letter = _letter(
        ("справка.pdf", "application/pdf"),  # a program under a PDF's name and type
        ("скан.pdf", "application/pdf"),  # really a JPEG: attached, typed as one
        ("архив.pdf", "application/pdf"),  # a zip
        ("справка-2.pdf", "application/pdf"),
    )
    contents = [b"MZ\x90\x00program", b"\xff\xd8\xff\xe0photo", b"PK\x03\x04zip", b"%PDF-1.4 ok"]
    built = build_message(letter, "exam@university.ru", contents, when=WHEN)
    message = message_from_bytes(built.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(message, EmailMessage)
    parts = [
        (p.get_filename(), p.get_content_type(), p.get_content())
        for p in message.iter_attachments()
    ]
    assert parts == [
        ("скан.pdf", "image/jpeg", b"\xff\xd8\xff\xe0photo"),
        ("справка-2.pdf", "application/pdf", b"%PDF-1.4 ok"),
    ]
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert "Вложения (2): скан.pdf, справка-2.pdf" in content
    assert "Не вложены (по содержимому это не фото и не PDF): справка.pdf, архив.pdf" in content
