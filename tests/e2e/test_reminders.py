"""Reminders through the outbox, end to end: cards, join calls, link nags, changes, downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db.models import Discipline, Exam, InviteRole, Notice, NoticeStatus, User
from bot.services.outbox import Outbox
from tests.e2e.conftest import (
    ADMIN_ID,
    BotRunner,
    deanery_chat,
    join_by_invite,
    link_student,
    press,
    say,
    upload,
)
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, button, buttons

# Group 1102, from data/samples: Latin (oral, no link) 23 Dec 08:30 Moscow = 05:30 UTC,
# Histology (test, with links) 28 Dec 10:00 Moscow = 07:00 UTC.
LATIN = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)
HISTOLOGY = datetime(2026, 12, 28, 7, 0, tzinfo=UTC)


async def statuses(runner: BotRunner, discipline: str) -> dict[str, str]:
    await runner.settle()
    await runner.outbox_settled()
    async with runner.sessionmaker() as session:
        rows = await session.execute(
            select(Notice.key, Notice.status)
            .join(Exam, Exam.id == Notice.exam_id)
            .join(Discipline)
            .where(Discipline.name == discipline)
        )
        return {key: status for key, status in rows}


async def next_at(
    api: FakeBotAPI, runner: BotRunner, moment: datetime, chat_id: int
) -> dict[str, Any]:
    """The clock moves on to `moment`; the next message the chat gets from then."""
    after = api.mark()
    runner.at(moment)
    return await api.next_message(chat_id, after=after)


async def teacher_posts(
    api: FakeBotAPI, teacher: FakeUser, which: str, link: str, student: FakeUser
) -> dict[str, Any]:
    """The teacher posts a link (the button `which` on their first exam's card, under
    /exams); the message the student gets next."""
    after = api.mark()
    teacher.send("/exams")
    await api.next_message(teacher.id, after=after)
    exam_card = await api.next_message(teacher.id)
    await press(api, teacher, exam_card, button(exam_card, which)["callback_data"])
    after = api.mark()
    await say(api, teacher, link)
    return await api.next_message(student.id, after=after)


async def test_card_a_day_before_and_join_call_15_minutes_before(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    student = api.user(10001, language_code="ru")
    await link_student(api, student, "2611022", "Каримов")
    await seeded.settle()
    await api.idle()
    assert api.messages(student.id)[-1]["text"].startswith("Что я умею")  # nothing early

    card = await next_at(api, seeded, LATIN - timedelta(hours=24), student.id)
    assert "Напоминание об экзамене" in card["text"]
    assert "Латинский язык" in card["text"] and "устное собеседование" in card["text"]
    assert "🗓 ср, 23 декабря, 08:30 МСК" in card["text"]
    assert "как только преподаватель её опубликует" in card["text"]
    assert "зачётная книжка или паспорт" in card["text"]

    call = await next_at(api, seeded, LATIN - timedelta(minutes=15), student.id)
    assert "Подключайтесь" in call["text"] and "Латинский язык" in call["text"]
    # How long until the start, counted when it goes out; no "join 15 minutes before".
    assert "начнётся в 08:30 МСК, через 15 минут." in call["text"]
    assert "Подключитесь за 15 минут" not in call["text"]
    seeded.at(LATIN + timedelta(hours=1))
    await api.idle(quiet=0.5)
    latin = await statuses(seeded, "Латинский язык")
    assert sorted(latin.values()) == ["sent", "sent"]
    assert sum("Латинский язык" in m.get("text", "") for m in api.messages(student.id)) == 2


async def test_teacher_is_nagged_and_students_get_the_link_when_posted(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    teacher = api.user(10002, language_code="en")
    await join_by_invite(api, seeded, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    student = api.user(10003, language_code="en")
    await link_student(api, student, "2611021", "Иванова")

    nag = await next_at(api, seeded, LATIN - timedelta(hours=48), teacher.id)
    assert "not posted yet" in nag["text"] and "/exams" in nag["text"]

    after = api.mark()
    seeded.at(LATIN - timedelta(hours=24))
    card = await api.next_message(student.id, after=after)
    assert "will be sent as soon as the teacher posts it" in card["text"]
    # The T-36h and T-24h nags fall due with the card: they reach the teacher before /exams
    # is asked, or one lands between /exams' answer and the exam card it is waited for.
    early = [await api.next_message(teacher.id, after=after), await api.next_message(teacher.id)]
    assert all("not posted yet" in nag["text"] for nag in early)

    # The teacher posts the link after the card went out: the student gets it at once.
    update = await teacher_posts(
        api, teacher, "Conference", "https://my.mts-link.ru/j/1/latin", student
    )
    assert "https://my.mts-link.ru/j/1/latin" in update["text"]
    # T-48h, T-36h and T-24h went out; the T-12h one is withdrawn now the link is there.
    latin = await statuses(seeded, "Латинский язык")
    nags = [latin[k] for k in sorted(latin) if k.startswith("link_nag")]
    assert nags == ["sent", "sent", "sent", "cancelled"]


async def test_deans_chat_is_told_when_the_link_is_still_missing(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    dean = api.user(10004, language_code="ru")
    group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100777)
    await seeded.settle()

    told = await next_at(api, seeded, LATIN - timedelta(hours=24), group["id"])
    assert "Латинский язык" in told["text"] and "Николаева Ольга Петровна" in told["text"]
    # Гистология has its link: the dean's chat hears nothing about it.
    seeded.at(HISTOLOGY - timedelta(hours=24))
    await api.idle(quiet=0.5)
    assert not any("Гистология" in m.get("text", "") for m in api.messages(group["id"]))


async def test_moved_exam_sends_an_update_and_replans(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(10005, language_code="en")
    await link_student(api, student, "2611023", "Соколова")
    await next_at(api, seeded, HISTOLOGY - timedelta(hours=24), student.id)  # the card

    admin = api.user(ADMIN_ID, language_code="en")
    moved = (
        "faculty,group,discipline,kind,form,date,start,duration_min\n"
        "Лечебный факультет,1102,Гистология,exam,test,2026-12-28,12:00,60\n"
    ).encode()
    after = api.mark()
    reply = await upload(api, admin, "schedule.csv", moved)
    assert "1 updated" in reply["text"]
    change = await api.next_message(student.id, after=after)
    assert "The time has changed" in change["text"] and "12:00" in change["text"]

    # The old join call (09:45 Moscow) never fires; the new one comes at 11:45.
    after = api.mark()
    seeded.at(HISTOLOGY - timedelta(minutes=15))
    seeded.at(HISTOLOGY + timedelta(minutes=1))
    await api.idle(quiet=0.5)
    assert [c for c in api.calls[after:] if c.chat_id == student.id] == []
    seeded.at(HISTOLOGY + timedelta(hours=2) - timedelta(minutes=15))
    call = await api.next_message(student.id, after=after)
    assert "Join now" in call["text"] and "12:00" in call["text"]


async def test_exam_scheduled_at_short_notice_gets_its_card_at_once(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    student = api.user(10006, language_code="en")
    await link_student(api, student, "2611001", "Абдуллина")
    admin = api.user(ADMIN_ID, language_code="en")
    soon = seeded.clock.now() + timedelta(hours=3)
    local = soon.astimezone(seeded.settings.tz)
    row = (
        "faculty,group,discipline,kind,form,date,start,duration_min,teacher,link\n"
        f"Лечебный факультет,1101,Биохимия,exam,oral,{local:%Y-%m-%d},{local:%H:%M},90,,"
        "https://my.mts-link.ru/j/1/bio\n"
    ).encode()
    after = api.mark()
    await upload(api, admin, "schedule.csv", row)
    card = await api.next_message(student.id, after=after)
    assert "Биохимия" in card["text"] and "https://my.mts-link.ru/j/1/bio" in card["text"]


async def test_missed_while_down_late_if_useful_dropped_if_pointless(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    student = api.user(10007, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    await seeded.settle()
    await seeded.stop()
    # Down from before Latin's join call until after its start; Histology's card is
    # due too (its start is still ahead).
    seeded.clock.move(HISTOLOGY - timedelta(hours=20) - seeded.clock.now())
    await seeded.start()
    seeded.tick(timedelta(0))
    card = await api.next_message(student.id)
    assert "Гистология" in card["text"]
    await api.idle(quiet=0.5)
    assert not any("Join now" in m.get("text", "") for m in api.messages(student.id))
    latin = await statuses(seeded, "Латинский язык")
    assert sorted(latin.values()) == ["dropped", "dropped"]


async def test_admin_sees_the_outbox(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(10008, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    admin = api.user(ADMIN_ID, language_code="en")
    reply = await say(api, admin, "/status")
    assert "pending: 4" in reply["text"]
    assert "day_before" in reply["text"]
    reply = await say(api, student, "/status")
    assert "for administrators" in reply["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        assert (
            await session.scalar(select(Notice).where(Notice.status == NoticeStatus.SENT))
        ) is None


async def test_cancelled_exam_tells_those_told_and_withdraws_the_rest(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    from bot.services.reminders import cancel_exam

    student = api.user(10009, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    await next_at(api, seeded, LATIN - timedelta(hours=24), student.id)  # the card
    async with seeded.sessionmaker.begin() as session:
        latin = await session.scalar(
            select(Exam.id).join(Discipline).where(Discipline.name == "Латинский язык")
        )
        assert latin is not None
        report = await cancel_exam(
            session, latin, seeded.clock.now(), settings=seeded.settings, outbox=Outbox()
        )
    assert report is not None and report.created == 1 and report.cancelled == 1
    after = api.mark()
    seeded.tick(timedelta(0))
    told = await api.next_message(student.id, after=after)
    assert "Cancelled" in told["text"] and "Латинский язык" in told["text"]
    seeded.at(LATIN)
    await api.idle(quiet=0.5)
    assert not any("Join now" in m.get("text", "") for m in api.messages(student.id))
    reply = await say(api, student, "/schedule")
    assert "Латинский язык" not in reply["text"] and "Гистология" in reply["text"]


async def test_a_notice_that_breaks_is_retried_not_stranded(
    api: FakeBotAPI, seeded: BotRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.notify.sender as sender_module
    from bot.notify import render as notices

    real = notices.render_notice
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("renderer bug")
        return await real(*args, **kwargs)

    monkeypatch.setattr(sender_module, "render_notice", flaky)
    student = api.user(10010, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    seeded.at(LATIN - timedelta(hours=24))
    await api.idle(quiet=0.5)
    latin = await statuses(seeded, "Латинский язык")
    card = next(k for k in latin if k.startswith("day_before"))
    assert latin[card] == "pending"  # back in the queue, with a back-off
    after = api.mark()
    seeded.tick(timedelta(seconds=6))
    reply = await api.next_message(student.id, after=after)
    assert "Латинский язык" in reply["text"]
    await seeded.outbox_settled()
    async with seeded.sessionmaker() as session:
        notice = await session.scalar(select(Notice).where(Notice.key == card))
        assert notice is not None and notice.status == "sent" and notice.attempts == 1


async def test_the_card_has_a_button_to_file_a_statement(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    student = api.user(10011, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    card = await next_at(api, seeded, LATIN - timedelta(hours=24), student.id)
    question = await press(api, student, card, button(card, "File a statement")["callback_data"])
    assert "Латинский язык: what would you like to ask?" in question["text"]
    assert button(question, "time zone") and button(question, "Absence")
    # The card itself is left as it was.
    stored_card = next(m for m in api.messages(student.id) if m["message_id"] == card["message_id"])
    assert "Exam reminder" in stored_card["text"]


async def test_card_and_join_call_carry_url_buttons_and_no_link_preview(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """A tap opens the conference (and Moodle for a test) instead of a hunt for the link in
    the text; previews are off through the Bot's default, not a per-call parameter."""
    student = api.user(10012, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    conference = "https://my.mts-link.ru/j/71234/1102-histology"
    moodle = "https://moodle.example-med.ru/course/view.php?id=214"

    card = await next_at(api, seeded, HISTOLOGY - timedelta(hours=24), student.id)
    assert "Exam reminder" in card["text"] and "Гистология" in card["text"]
    rows = card["reply_markup"]["inline_keyboard"]
    assert rows[0] == [{"text": "🎥 Open the conference", "url": conference}]
    assert rows[1] == [{"text": "📚 Open Moodle", "url": moodle}]
    assert "callback_data" in rows[2][0]  # the statement button stays, below the links

    call = await next_at(api, seeded, HISTOLOGY - timedelta(minutes=15), student.id)
    assert "Join now" in call["text"] and conference in call["text"]
    assert call["reply_markup"]["inline_keyboard"] == [
        [{"text": "🎥 Open the conference", "url": conference}],
        [{"text": "📚 Open Moodle", "url": moodle}],
    ]
    sent = [c for c in api.calls if c.method == "sendMessage" and c.chat_id == student.id]
    assert sent and all(c.params.get("link_preview_options") == {"is_disabled": True} for c in sent)


async def test_ru_card_buttons_are_russian_and_a_test_asks_for_camera_and_microphone_only(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    student = api.user(10013, language_code="ru")
    await link_student(api, student, "2611022", "Каримов")
    card = await next_at(api, seeded, HISTOLOGY - timedelta(hours=24), student.id)
    labels = [b["text"] for b in buttons(card)]
    assert labels[:2] == ["🎥 Открыть конференцию", "📚 Открыть Moodle"]
    # A computer test (the table): camera and microphone, no record book, no sheets.
    assert "Подготовьтесь: включённые веб-камера и микрофон. Подключитесь за 15" in card["text"]
    assert "зачётная книжка" not in card["text"] and "листы" not in card["text"]
    after = api.mark()
    seeded.at(HISTOLOGY - timedelta(minutes=15))
    call = await api.next_message(student.id, after=after)
    assert "Подготовьтесь: включённые веб-камера и микрофон." in call["text"]
    assert "зачётная книжка" not in call["text"] and "листы" not in call["text"]


async def test_moodle_link_posted_after_the_card_reaches_the_student(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """The card of a computer test promises the Moodle link "as soon as the teacher posts
    it": posting it must send it to the students who already have the card."""
    async with seeded.sessionmaker.begin() as session:
        histology = await session.scalar(
            select(Exam).join(Discipline).where(Discipline.name == "Гистология")
        )
        assert histology is not None
        histology.moodle_url = None
    teacher = api.user(10014, language_code="en")
    await join_by_invite(api, seeded, teacher, InviteRole.TEACHER, "Закиров Ильдар Рустемович")
    student = api.user(10015, language_code="en")
    await link_student(api, student, "2611023", "Соколова")
    card = await next_at(api, seeded, HISTOLOGY - timedelta(hours=24), student.id)
    assert "The Moodle link will be sent as soon as the teacher posts it" in card["text"]

    moodle = "https://moodle.example-med.ru/course/view.php?id=214&a=<b>"
    update = await teacher_posts(api, teacher, "Moodle", moodle, student)
    assert "Гистология" in update["text"] and moodle in update["text"]
    assert {"text": "📚 Open Moodle", "url": moodle} in buttons(update)


async def plan_latin_again(runner: BotRunner) -> int:
    """Latin is planned again (as any change to it does: an inactive user's reminders are
    withdrawn); its id."""
    from bot.services.reminders import plan_exam

    async with runner.sessionmaker.begin() as session:
        latin = await session.scalar(
            select(Exam.id).join(Discipline).where(Discipline.name == "Латинский язык")
        )
        assert latin is not None
        await plan_exam(
            session, latin, runner.clock.now(), settings=runner.settings, outbox=Outbox()
        )
    return latin


async def test_a_student_who_unblocks_the_bot_is_reminded_again(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """Blocked the bot for a while, and the exam was planned again meanwhile (its
    reminders for them withdrawn, as nobody could receive them): once they unblock it,
    the card and the join call are owed again."""
    from tests.e2e.test_process import member_update

    student = api.user(10016, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    member_update(api, student.id, "member", "kicked")
    await seeded.settle()
    await plan_latin_again(seeded)
    member_update(api, student.id, "kicked", "member")
    await seeded.settle()

    card = await next_at(api, seeded, LATIN - timedelta(hours=24), student.id)
    assert "Exam reminder" in card["text"] and "Латинский язык" in card["text"]
    call = await next_at(api, seeded, LATIN - timedelta(minutes=15), student.id)
    assert "Join now" in call["text"] and "Латинский язык" in call["text"]


async def test_blocking_the_bot_again_owes_no_reminders(api: FakeBotAPI, seeded: BotRunner) -> None:
    """Telegram tells of a block also when the bot already knew (a 403 came first): that
    update must not count as the user coming back and plan their reminders again."""
    from tests.e2e.test_process import member_update

    student = api.user(10017, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    async with seeded.sessionmaker.begin() as session:
        user = await session.get(User, student.id)
        assert user is not None
        user.is_active = False  # as the sender marks a 403
    latin = await plan_latin_again(seeded)
    member_update(api, student.id, "member", "kicked")
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        user = await session.get(User, student.id)
        assert user is not None and not user.is_active
        owed = await session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(
                Notice.user_id == student.id,
                Notice.exam_id == latin,  # the exam planned while they were blocked
                Notice.status == NoticeStatus.PENDING,
            )
        )
    assert owed == 0
