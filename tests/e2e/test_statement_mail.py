"""The e-mail copy of statements, end to end: the dean's office sets its address with /email,
a student files a statement with two photos through the fake Bot API, and the letter
reaches a real SMTP server on 127.0.0.1 once, both photos attached. A mail server that is
down delays the letter (retried with back-off), never the Telegram card."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import Settings
from bot.db.models import Faculty, InviteRole, Notice, NoticeStatus
from bot.domain.reminders import NoticeKind, backoff
from tests.e2e.conftest import (
    ADMIN_ID,
    BotRunner,
    deanery_chat,
    join_by_invite,
    link_student,
    press,
    say,
)
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, button
from tests.e2e.fakesmtp import FakeSMTP, attachments, body, free_port
from tests.e2e.test_statements import start_absence, stored


@pytest.fixture
def smtp_port() -> int:
    """Closed until a test starts FakeSMTP on it: the bot's mail server, up or down."""
    return free_port()


@pytest.fixture
def settings(settings: Settings, smtp_port: int) -> Settings:
    return settings.model_copy(
        update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{smtp_port}?timeout=5")}
    )


async def file_absence(api: FakeBotAPI, student: FakeUser, photos: list[bytes]) -> None:
    """Karimov's absence statement about Latin, with these photos as one album."""
    await link_student(api, student, "2611022", "Каримов")
    await start_absence(api, student, "Латинский язык", "Family", "Похороны")
    after = api.mark()
    for content in photos:
        api.send_photo(student, content, media_group_id="album")
    ack = await api.next_message(student.id, after=after)
    preview = await press(api, student, ack, button(ack, "Done")["callback_data"])
    await press(api, student, preview, button(preview, "Send")["callback_data"])


async def mail_notice(runner: BotRunner, until: Callable[[Notice], bool]) -> Notice:
    """The statement's e-mail notice, once `until` holds for it (the sender is a task)."""
    async with asyncio.timeout(10):
        while True:
            async with runner.sessionmaker() as session:
                notice = await session.scalar(
                    select(Notice).where(Notice.kind == NoticeKind.STATEMENT_EMAIL)
                )
            if notice is not None and until(notice):
                return notice
            await asyncio.sleep(0.02)


async def test_statement_with_two_photos_is_emailed_once(
    api: FakeBotAPI, seeded: BotRunner, smtp_port: int
) -> None:
    async with FakeSMTP(port=smtp_port) as smtp:
        dean = api.user(12010, first_name="Декан", language_code="en")
        group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100910)
        after = api.mark()
        dean.send("/email Dekanat.Lech@Example.ORG", chat=group)  # the chat's faculty is meant
        reply = await api.next_message(group["id"], after=after)
        assert "will also be e-mailed to Dekanat.Lech@example.org" in reply["text"]
        assert "SMTP_URL" not in reply["text"]

        student = api.user(12012, language_code="en")
        after = api.mark()
        await file_absence(api, student, [b"\xff\xd8\xff photo 0", b"\xff\xd8\xff photo 1"])
        card = await api.next_message(group["id"], after=after)
        assert "Каримов Булат Айратович" in card["text"]

        [letter] = await smtp.wait_for(1)
        [statement] = await stored(seeded)
        assert smtp.received[0][1] == ["Dekanat.Lech@example.org"]
        assert letter["Subject"] == (
            f"Заявление №{statement.id}: отсутствие — Каримов Булат Айратович, 1102"
        )
        text = body(letter)
        for line in (
            "Студент: Каримов Булат Айратович",
            "Группа: 1102 (Лечебный факультет)",
            "Номер зачётной книжки: 2611022",
            "Вид заявления: отсутствие",
            "Причина: семейные обстоятельства",
            "Текст заявления:",
            "Похороны",
        ):
            assert line in text.split("\n"), line
        assert "Экзамен: Латинский язык — экзамен, ср, 23 декабря 2026, 08:30 МСК" in text
        sent = attachments(letter)
        assert sorted(content for _name, _type, content in sent) == [
            b"\xff\xd8\xff photo 0",
            b"\xff\xd8\xff photo 1",
        ]
        assert {(name, kind) for name, kind, _content in sent} == {
            (f"statement-{statement.id}-1.jpg", "image/jpeg"),
            (f"statement-{statement.id}-2.jpg", "image/jpeg"),
        }

        # Exactly once: time goes on, the sender wakes, nothing more arrives.
        seeded.tick(timedelta(hours=1))
        await seeded.outbox_settled()
        await api.idle(quiet=0.3)
        assert len(smtp.received) == 1
        notice = await mail_notice(seeded, lambda n: True)
        assert notice.status == NoticeStatus.SENT and notice.attempts == 0


async def test_mail_server_down_delays_the_letter_not_the_card(
    api: FakeBotAPI, seeded: BotRunner, smtp_port: int
) -> None:
    dean = api.user(12020, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    reply = await say(api, dean, "/email dean@example.org")
    assert "dean@example.org" in reply["text"]

    student = api.user(12021, language_code="en")
    after = api.mark()
    await file_absence(api, student, [b"\xff\xd8\xff scan"])
    card = await api.next_message(dean.id, after=after)  # no chat bound: the dean privately
    assert "Statement №" in card["text"] and "Каримов" in card["text"]

    # The port is closed: the attempt counts, and the letter waits for its back-off.
    failed_once = await mail_notice(seeded, lambda n: n.attempts >= 1)
    assert failed_once.status == NoticeStatus.PENDING and failed_once.attempts == 1
    assert failed_once.last_error is not None and str(smtp_port) in failed_once.last_error
    admin = api.user(ADMIN_ID, language_code="en")
    status = await say(api, admin, "/status")
    assert "E-mail to the dean's offices: 1 pending, 0 sent, 0 failed" in status["text"]
    assert "Last e-mail error:" in status["text"]

    seeded.tick(backoff(1))  # still down: a second attempt, a longer wait
    failed_twice = await mail_notice(seeded, lambda n: n.attempts >= 2)
    assert failed_twice.status == NoticeStatus.PENDING

    async with FakeSMTP(port=smtp_port) as smtp:
        seeded.tick(backoff(2))
        [letter] = await smtp.wait_for(1)
        assert [content for _n, _t, content in attachments(letter)] == [b"\xff\xd8\xff scan"]
        seeded.tick(timedelta(hours=1))
        await seeded.outbox_settled()
        await api.idle(quiet=0.3)
        assert len(smtp.received) == 1
    sent = await mail_notice(seeded, lambda n: n.status == NoticeStatus.SENT)
    assert sent.attempts == 2 and sent.last_error is None
    # The card went once, at once, whatever the mail server did.
    cards = [m for m in api.messages(dean.id) if "Statement №" in m.get("text", "")]
    assert len(cards) == 1


async def test_who_may_set_the_address_and_how(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(12030, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    reply = await say(api, student, "/email me@example.org")
    assert "Only the dean's office or an administrator" in reply["text"]

    dean = api.user(12031, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    reply = await say(api, dean, "/email")
    assert "Лечебный факультет: not set" in reply["text"]
    assert "Педиатрический" not in reply["text"]
    reply = await say(api, dean, "/email dean at example.org")
    assert "is not an e-mail address" in reply["text"]
    reply = await say(api, dean, "/email dean@example.org Педиатрический факультет")
    assert "No faculty of yours is called" in reply["text"]
    reply = await say(api, dean, "/email dean@example.org")
    assert "Every new statement of Лечебный факультет will also be e-mailed" in reply["text"]

    admin = api.user(ADMIN_ID, language_code="en")
    reply = await say(api, admin, "/email peds@example.org")
    assert "Which faculty?" in reply["text"]
    reply = await say(api, admin, "/email peds@example.org педиатрический   факультет")
    assert "Педиатрический факультет" in reply["text"]
    reply = await say(api, admin, "/email")
    assert "Лечебный факультет: dean@example.org" in reply["text"]
    assert "Педиатрический факультет: peds@example.org" in reply["text"]

    reply = await say(api, dean, "/email off")
    assert "no longer e-mailed" in reply["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        emails = dict((await session.execute(select(Faculty.name, Faculty.email))).all())
    assert emails == {"Лечебный факультет": None, "Педиатрический факультет": "peds@example.org"}
