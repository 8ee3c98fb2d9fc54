"""The e-mail copy of statements: SMTP_URL, addresses, the letter's text and its MIME form."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from bot.app import create_i18n
from bot.config import ConfigError, Settings, SmtpTarget, load_settings, parse_smtp_url
from bot.db.models import Discipline, Exam, Faculty, Group, Statement, Student
from bot.domain.mail import normalize_address
from bot.notify import mail
from bot.notify.mail import build_message, refused_for_good
from bot.services.deanery_mail import LETTER_LOCALE, Attachment, Letter
from bot.views.mail import letter_text

WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the developer's environment or .env leaks into these tests."""
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# --- SMTP_URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://mail.example.org", SmtpTarget("mail.example.org", 25)),
        ("smtp://mail.example.org:2525", SmtpTarget("mail.example.org", 2525)),
        (
            "smtp://bot%40uni.ru:p%40ss:w@Mail.Example.org?starttls=1",
            SmtpTarget("mail.example.org", 587, "bot@uni.ru", "p@ss:w", start_tls=True),
        ),
        (
            "smtp://relay:2525?starttls=0&timeout=5",
            SmtpTarget("relay", 2525, start_tls=False, timeout=5.0),
        ),
        (
            "smtps://user:secret@smtp.yandex.ru",
            SmtpTarget("smtp.yandex.ru", 465, "user", "secret", use_tls=True, start_tls=False),
        ),
        (
            "SMTPS://smtp.mail.ru:2465",
            SmtpTarget("smtp.mail.ru", 2465, use_tls=True, start_tls=False),
        ),
    ],
)
def test_smtp_url_is_read(url: str, target: SmtpTarget) -> None:
    assert parse_smtp_url(url) == target


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://mail.example.org", "must look like smtp://"),
        ("mail.example.org:25", "must look like smtp://"),
        ("smtp://", "must look like smtp://"),
        ("smtp://host:99999", "bad port"),
        ("smtp://host:port", "bad port"),
        ("smtps://host?starttls=1", "smtps:// is encrypted already"),
        ("smtp://host?starttls=maybe", "starttls must be 1 or 0"),
        ("smtp://host?tls=1", "unknown option 'tls'"),
        ("smtp://host?timeout=0", "timeout"),
        ("smtp://host?timeout=soon", "timeout"),
        ("smtp://:secret@host", "password but no user name"),
    ],
)
def test_bad_smtp_url_is_one_line_naming_the_setting(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(smtp_url=url)
    message = str(caught.value)
    assert message.startswith("Configuration error: SMTP_URL ")
    assert reason in message and "\n" not in message
    assert "secret" not in message


def test_smtp_is_off_without_a_url_and_the_password_stays_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(_env_file=None).smtp is None
    assert Settings(_env_file=None, smtp_url="  ").smtp is None
    monkeypatch.setenv("SMTP_URL", "smtp://bot:hunter2@mail.example.org?starttls=1")
    settings = load_settings()
    assert settings.smtp == SmtpTarget("mail.example.org", 587, "bot", "hunter2", start_tls=True)
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(settings.smtp)


def test_mail_from() -> None:
    assert Settings(_env_file=None).mail_from == "examinator@localhost"
    named = load_settings(mail_from="Экзаменатор <exam@university.ru>")
    assert named.mail_from == "Экзаменатор <exam@university.ru>"
    with pytest.raises(ConfigError, match="MAIL_FROM must be an e-mail address"):
        load_settings(mail_from="examinator")


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("dean@university.ru", "dean@university.ru"),
        ("  Dekanat.Lech@KSMU.Kazan.RU ", "Dekanat.Lech@ksmu.kazan.ru"),
        ("mailto:dean+statements@uni-1.ru", "dean+statements@uni-1.ru"),
        ("dean@university", None),  # no top-level domain
        ("dean@@university.ru", None),
        ("dean university.ru", None),
        ("dean@university..ru", None),
        (".dean@university.ru", None),
        ("dean@-uni.ru", None),
        ("dean@127.0.0.1", None),
        ("декан@вуз.рф", None),  # a mail server would need SMTPUTF8: refused early
        ("off", None),
        ("", None),
        ("a" * 65 + "@university.ru", None),
    ],
)
def test_address_shape(text: str, address: str | None) -> None:
    assert normalize_address(text) == address


# --- the letter ----------------------------------------------------------------------------


def _statement(**fields: object) -> Statement:
    faculty = Faculty(name="Лечебный факультет", email="dean@example.org")
    group = Group(name="1102", faculty=faculty)
    student = Student(
        full_name="Каримов Булат Айратович", surname_key="каримов", record_book="2611022"
    )
    student.group = group
    exam = Exam(kind="exam", form="oral", duration_min=90)
    exam.discipline = Discipline(name="Латинский язык")
    exam.starts_at = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)
    statement = Statement(id=7, text="", submitted_at=datetime(2026, 12, 20, 9, 15, tzinfo=UTC))
    statement.student = student
    statement.exam = exam
    for name, value in fields.items():
        setattr(statement, name, value)
    return statement


def _text(
    statement: Statement, grade: str | None = None, follow_up: int | None = None
) -> tuple[str, str]:
    settings = Settings(_env_file=None, institution_name="КГМУ")
    i18n = create_i18n(settings)
    with i18n.context(), i18n.use_locale(LETTER_LOCALE):
        return letter_text(statement, settings, grade, follow_up=follow_up)


def test_absence_letter_in_russian() -> None:
    statement = _statement(kind="absence", reason="family", text="Похороны\nбабушки")
    subject, body = _text(statement)
    assert subject == "Заявление №7: отсутствие — Каримов Булат Айратович, 1102"
    lines = body.split("\n")
    assert "Студент: Каримов Булат Айратович" in lines
    assert "Группа: 1102 (Лечебный факультет)" in lines
    assert "Номер зачётной книжки: 2611022" in lines
    assert "Экзамен: Латинский язык — экзамен, ср, 23 декабря 2026, 08:30 МСК" in lines
    assert "Вид заявления: отсутствие" in lines
    assert "Причина: семейные обстоятельства" in lines
    assert body.endswith("Текст заявления:\nПохороны\nбабушки")
    assert "КГМУ" in lines[0] and "вс, 20 декабря 2026, 12:15 МСК" in lines[0]
    assert "Часовой пояс" not in body and "Оценка" not in body


def test_time_zone_and_appeal_letters() -> None:
    subject, body = _text(
        _statement(kind="timezone", time_zone="Asia/Vladivostok", window="14:00–18:00")
    )
    assert subject.startswith("Заявление №7: часовой пояс — ")
    assert "Часовой пояс студента: Asia/Vladivostok" in body
    assert "Удобное время: 14:00–18:00" in body
    assert "Причина" not in body

    subject, body = _text(_statement(kind="appeal", text="Не дали ответить"), grade="fail")
    assert subject.startswith("Заявление №7: апелляция — ")
    assert "Оценка: неудовлетворительно" in body.split("\n")


def test_documents_added_later_get_a_letter_of_their_own() -> None:
    statement = _statement(kind="absence", reason="illness", text="Больна")
    subject, body = _text(statement, follow_up=2)
    assert subject == "Заявление №7: дополнительные документы — Каримов Булат Айратович, 1102"
    assert body.startswith("К заявлению №7 студент добавил документы: 2.")
    assert "Текст заявления" not in body


def test_a_line_break_in_a_name_never_reaches_the_subject() -> None:
    statement = _statement(kind="absence", reason="other", text="")
    statement.student.full_name = "Каримов\r\nBcc: someone@example.org"
    subject, _body = _text(statement)
    assert "\n" not in subject and "\r" not in subject


def _letter(*names: tuple[str, str]) -> Letter:
    return Letter(
        to="dean@example.org",
        subject="Заявление №7: отсутствие — Каримов Булат Айратович, 1102",
        body="Студент: Каримов Булат Айратович",
        attachments=tuple(Attachment(name, mime, f"FILE-{name}", None) for name, mime in names),
        reference="statement_email:7.20261201090000",
    )


def _round_trip(message: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_message_carries_the_text_and_every_document() -> None:
    letter = _letter(("statement-7-1.jpg", "image/jpeg"), ("справка.pdf", "application/pdf"))
    message = _round_trip(
        build_message(
            letter, "Экзаменатор <exam@university.ru>", [b"\xff\xd8\xffp0", b"%PDF-1"], when=WHEN
        )
    )
    assert message["Subject"] == letter.subject
    assert message["To"] == "dean@example.org"
    assert message["From"].addresses[0].addr_spec == "exam@university.ru"
    assert message["Message-ID"] == "<statement_email.7.20261201090000@university.ru>"
    assert message["Date"].datetime == WHEN
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert content.startswith("Студент: Каримов Булат Айратович")
    assert "Вложения (2): statement-7-1.jpg, справка.pdf" in content
    parts = list(message.iter_attachments())
    assert [(p.get_filename(), p.get_content_type(), p.get_content()) for p in parts] == [
        ("statement-7-1.jpg", "image/jpeg", b"\xff\xd8\xffp0"),
        ("справка.pdf", "application/pdf", b"%PDF-1"),
    ]


def test_documents_that_cannot_be_had_or_do_not_fit_are_named_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mail, "MAX_ATTACHED_BYTES", 10)
    letter = _letter(("a.jpg", "image/jpeg"), ("b.jpg", "image/jpeg"), ("c.pdf", "application/pdf"))
    message = _round_trip(
        build_message(letter, "exam@university.ru", [b"\xff\xd8\xff45", None, b"%PDF-x"], when=WHEN)
    )
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert "Вложения (1): a.jpg" in content
    assert "Не вложены (Telegram больше не хранит эти файлы): b.jpg" in content
    assert "Не вложены (слишком большие для письма, см. в боте): c.pdf" in content
    assert [p.get_filename() for p in message.iter_attachments()] == ["a.jpg"]


@pytest.mark.parametrize(
    ("error", "for_good"),
    [
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "no such user", "dean@example.org")]
            ),
            True,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "dean@example.org")]
            ),
            False,
        ),
        (aiosmtplib.SMTPDataError(554, "rejected as spam"), True),
        (aiosmtplib.SMTPDataError(451, "try again later"), False),
        (aiosmtplib.SMTPSenderRefused(553, "sender not allowed", "exam@university.ru"), True),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), False),
        (aiosmtplib.SMTPConnectResponseError(554, "go away"), False),
        (aiosmtplib.SMTPConnectError("connection refused"), False),
        (aiosmtplib.SMTPServerDisconnected("gone"), False),
        (aiosmtplib.SMTPReadTimeoutError("slow"), False),
    ],
)
def test_only_a_5xx_about_the_letter_is_for_good(error: Exception, for_good: bool) -> None:
    assert refused_for_good(error) is for_good
