"""A student files time-zone and absence statements; drafts survive restarts; albums join."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.db.models import Discipline, Exam, RollEntry, Statement, Student, User
from bot.keyboards.callbacks import StmtAddDocsCB, StmtWithdrawCB, StmtZoneCB
from tests.e2e.conftest import BotRunner, deanery_chat, join_by_invite, link_student, press, say
from tests.e2e.fakeapi import MESSAGE_METHODS, FakeBotAPI, FakeUser, button


async def stored(runner: BotRunner) -> list[Statement]:
    await runner.settle()
    async with runner.sessionmaker() as session:
        return list(
            await session.scalars(
                select(Statement).options(selectinload(Statement.files)).order_by(Statement.id)
            )
        )


async def open_statement(
    api: FakeBotAPI, student: FakeUser, exam: str, *choices: str
) -> dict[str, Any]:
    """/statement → exam → each of `choices` pressed in turn; returns the last answer."""
    menu = await say(api, student, "/statement")
    reply = await press(api, student, menu, button(menu, exam)["callback_data"])
    for choice in choices:
        reply = await press(api, student, reply, button(reply, choice)["callback_data"])
    return reply


async def start_absence(
    api: FakeBotAPI,
    student: FakeUser,
    exam: str,
    reason: str,
    text: str,
    *,
    absence: str = "Absence",
) -> dict[str, Any]:
    """/statement → exam → absence → reason → text; returns the request for documents."""
    await open_statement(api, student, exam, absence, reason)
    return await say(api, student, text)


async def attach_photo(api: FakeBotAPI, student: FakeUser, photo: bytes) -> dict[str, Any]:
    """Sends a photo to the draft; returns the bot's acknowledgement."""
    after = api.mark()
    api.send_photo(student, photo)
    return await api.next_message(student.id, after=after)


async def send_draft(
    api: FakeBotAPI,
    student: FakeUser,
    reply: dict[str, Any],
    finish: str = "Done",
    send: str = "Send",
) -> int:
    """Finishes the draft (`finish` pressed on `reply`) and sends it from the preview;
    returns the mark taken just before Send, to wait for what the sending brought."""
    preview = await press(api, student, reply, button(reply, finish)["callback_data"])
    after = api.mark()
    await press(api, student, preview, button(preview, send)["callback_data"])
    return after


async def file_absence(
    api: FakeBotAPI,
    student: FakeUser,
    text: str = "Грипп",
    photo: bytes = b"spravka",
    exam: str = "Латинский язык",
) -> int:
    """An absence for illness with one photo, sent; returns the mark before Send."""
    await start_absence(api, student, exam, "Illness", text)
    ack = await attach_photo(api, student, photo)
    return await send_draft(api, student, ack)


async def start_time_zone(
    api: FakeBotAPI, student: FakeUser, exam: str, zone: str, *, label: str = "time zone"
) -> dict[str, Any]:
    """/statement → exam → time zone → the zone typed; returns the question for the window."""
    await open_statement(api, student, exam, label)
    return await say(api, student, zone)


async def file_time_zone(
    api: FakeBotAPI, student: FakeUser, exam: str, zone: str, window: str
) -> int:
    """A time-zone statement (zone typed, a preferred window, no comment), sent; returns
    the mark before Send."""
    await start_time_zone(api, student, exam, zone)
    reply = await say(api, student, window)
    return await send_draft(api, student, reply, "Skip")


async def test_absence_with_an_album_is_one_statement(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(11001, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    reply = await start_absence(api, student, "Латинский язык", "Illness", "ОРВИ, температура 38,5")
    assert "documents" in reply["text"]

    # Refused: a sticker-like non-document, a video file, and a file over 20 MB.
    reply = await say(api, student, "/help")  # a command does not end the draft
    after = api.mark()
    api.send_document(student, "video.mp4", content=b"\x00" * 10, mime_type="video/mp4")
    reply = await api.next_message(student.id, after=after)
    assert "photos, PDF or image files only" in reply["text"]
    after = api.mark()
    api.send_document(
        student, "scan.pdf", content=b"%PDF-1.4", mime_type="application/pdf", file_size=21 * 2**20
    )
    reply = await api.next_message(student.id, after=after)
    assert "larger than 20 MB" in reply["text"]

    # An album of three photos: three updates, one answer, three files.
    after = api.mark()
    for n in range(3):
        api.send_photo(student, b"\xff\xd8\xff" + f"photo {n}".encode(), media_group_id="album-1")
    acknowledgement = await api.next_message(student.id, after=after)
    assert "Attached" in acknowledgement["text"]
    await seeded.settle()
    await api.idle(quiet=0.3)
    assert sum("Attached" in m.get("text", "") for m in api.messages(student.id)) == 1
    after = api.mark()
    api.send_document(student, "справка.pdf", content=b"%PDF-1.4 doc", mime_type="application/pdf")
    await api.next_message(student.id, after=after)

    preview = await press(
        api, student, acknowledgement, button(acknowledgement, "Done")["callback_data"]
    )
    assert "not sent yet" in preview["text"] and "Documents: 4" in preview["text"]
    assert await stored(seeded) == []
    done = await press(api, student, preview, button(preview, "Send")["callback_data"])
    assert "is submitted" in done["text"]
    [statement] = await stored(seeded)
    assert statement.kind == "absence" and statement.reason == "illness"
    assert statement.status == "submitted" and "ОРВИ" in statement.text
    assert [f.kind for f in statement.files] == ["photo", "photo", "photo", "document"]
    assert statement.files[3].file_name == "справка.pdf"

    # The keeper downloads every document into FILES_DIR, in case Telegram forgets them.
    assert seeded.app is not None and seeded.app.keeper is not None
    await seeded.app.keeper.run_once()
    [statement] = await stored(seeded)
    kept = [seeded.settings.files_dir / f.stored_path for f in statement.files if f.stored_path]
    assert len(kept) == 4
    assert sorted(p.read_bytes() for p in kept) == sorted(
        [b"\xff\xd8\xffphoto 0", b"\xff\xd8\xffphoto 1", b"\xff\xd8\xffphoto 2", b"%PDF-1.4 doc"]
    )
    assert kept[3].suffix == ".pdf" and kept[0].suffix == ".jpg"


async def test_time_zone_statement_survives_a_restart_and_can_be_withdrawn(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    student = api.user(11002, language_code="ru")
    await link_student(api, student, "2611021", "Иванова")
    await start_time_zone(api, student, "Гистология", "Asia/Vladivostok", label="часов")
    await seeded.settle()
    await seeded.stop()
    await seeded.start()
    reply = await say(api, student, "14:00–18:00")
    reply = await press(api, student, reply, button(reply, "Пропустить")["callback_data"])
    assert "Asia/Vladivostok" in reply["text"] and "14:00–18:00" in reply["text"]
    done = await press(api, student, reply, button(reply, "Отправить")["callback_data"])
    assert "№" in done["text"]
    [statement] = await stored(seeded)
    assert (statement.kind, statement.time_zone, statement.window) == (
        "timezone",
        "Asia/Vladivostok",
        "14:00–18:00",
    )
    # The zone is known now: one press makes it the student's own (no /tz asked for).
    offer = button(done, "Asia/Vladivostok")
    taken = await press(api, student, done, offer["callback_data"])
    assert "Asia/Vladivostok" in taken["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        owner = await session.get(User, student.id)
        assert owner is not None and owner.tz == "Asia/Vladivostok"
    schedule = await say(api, student, "/schedule")
    assert "ср, 23 декабря, 08:30 МСК, у вас 15:30 МСК+7" in schedule["text"]

    # Someone else cannot withdraw it with a forged button; the owner can.
    other = api.user(11003, language_code="en")
    await link_student(api, other, "2611023", "Соколова")
    menu = await say(api, other, "/help")
    forged = other.click(menu, StmtZoneCB(statement_id=statement.id).pack())
    assert (await api.callback_answer(forged)).params.get("show_alert") is True
    forged = other.click(menu, StmtWithdrawCB(statement_id=statement.id).pack())
    answer = await api.callback_answer(forged)
    assert "cannot be withdrawn" in answer.params["text"]
    assert (await stored(seeded))[0].status == "submitted"
    listing = await say(api, student, "/statements")
    assert "подано" in listing["text"] or "submitted" in listing["text"]
    reply = await press(api, student, listing, button(listing, "Отозвать")["callback_data"])
    assert (await stored(seeded))[0].status == "withdrawn"


async def test_time_zone_closes_at_the_start_absence_stays_open_three_days(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    student = api.user(11004, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    latin = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)
    seeded.clock.move(latin + timedelta(hours=1) - seeded.clock.now())
    reply = await open_statement(api, student, "Латинский язык")
    labels = [b["text"] for b in reply["reply_markup"]["inline_keyboard"][0]]
    assert len(reply["reply_markup"]["inline_keyboard"]) == 1 and "Absence" in labels[0]
    seeded.clock.move(timedelta(days=3))
    # Nothing may be filed now; the exam is listed to say the appeal waits for the grade
    # (it said there was no exam at all).
    reply = await open_statement(api, student, "Латинский язык")
    assert "once your grade is posted" in reply["text"] and not api.buttons(reply)


@pytest.mark.telegram_pace  # a statement's whole way at Telegram's pace
async def test_dean_gets_the_card_with_documents_and_decides(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    from bot.db.models import InviteRole

    dean = api.user(11010, first_name="Декан", language_code="ru")
    group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100900)
    other_dean = api.user(11011, language_code="en")
    await join_by_invite(api, seeded, other_dean, InviteRole.DEAN, "Педиатрический факультет")

    student = api.user(11012, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    await start_absence(api, student, "Латинский язык", "Family", "Похороны")
    after = api.mark()
    for n in range(2):
        api.send_photo(student, f"p{n}".encode(), media_group_id="a2")
    ack = await api.next_message(student.id, after=after)
    after = await send_draft(api, student, ack)

    # The card reaches the deanery chat at once, then the photos as one album.
    card = await api.next_message(group["id"], after=after)
    assert "Каримов Булат Айратович" in card["text"] and "2611022" in card["text"]
    assert "Латинский язык" in card["text"] and "Похороны" in card["text"]
    album = await api.wait_for("sendMediaGroup", chat_id=group["id"], after=after)
    assert len(album.params["media"]) == 2

    # A dean of another faculty pressing the card (e.g. forwarded) is refused.
    approve = button(card, "Одобрить")["callback_data"]
    refused = api.click(other_dean, card, approve)
    answer = await api.callback_answer(refused)
    assert "dean's office of the student's faculty" in answer.params["text"]
    # Reject is refused at the press too, before any reason is asked for.
    refused = api.click(other_dean, card, button(card, "Отклонить")["callback_data"])
    answer = await api.callback_answer(refused)
    assert "dean's office of the student's faculty" in answer.params["text"]
    [statement] = await stored(seeded)
    assert statement.status == "submitted"

    # Reject with a reason: the student is told, with the reason.
    after = api.mark()
    reject = button(card, "Отклонить")["callback_data"]
    dean_click = api.click(dean, card, reject)
    await api.callback_answer(dean_click)
    prompt = await api.next_message(group["id"], after=after)
    dean.reply(prompt, "Нужна справка о смерти")  # privacy mode: only a reply reaches the bot
    told = await api.next_message(student.id, after=after)
    assert "is rejected" in told["text"] and "Нужна справка" in told["text"]
    [statement] = await stored(seeded)
    assert statement.status == "rejected" and statement.decided_by == 11010
    # A second decision on a decided statement is refused.
    again = api.click(dean, card, approve)
    answer = await api.callback_answer(again)
    assert "уже принято решение" in answer.params["text"]
    reply = await say(api, dean, "/inbox")
    assert "Нерассмотренных заявлений нет" in reply["text"]


async def _time_zone_statement_at_teacher(
    api: FakeBotAPI, seeded: BotRunner
) -> tuple[FakeUser, FakeUser, FakeUser, dict[str, Any]]:
    """A student's approved time-zone statement, the dean's new time asked of the teacher."""
    from bot.db.models import InviteRole

    dean = api.user(11020, first_name="Декан", language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    teacher = api.user(11021, language_code="en")
    await join_by_invite(api, seeded, teacher, InviteRole.TEACHER, "Закиров Ильдар Рустемович")
    student = api.user(11022, language_code="en")
    await link_student(api, student, "2611021", "Иванова")

    after = await file_time_zone(
        api, student, "Гистология", "Asia/Vladivostok", "14:00–18:00 my time"
    )
    card = await api.next_message(dean.id, after=after)  # no chat bound: privately
    assert "Asia/Vladivostok" in card["text"]

    after = api.mark()
    await press(api, dean, card, button(card, "Approve")["callback_data"])
    prompt = await api.next_message(dean.id)
    assert "new date and time" in prompt["text"]
    reply = await say(api, dean, "yesterday-ish")
    assert "such as 24.12.2026 14:00" in reply["text"]
    reply = await say(api, dean, "29.12.2026 04:00")
    assert "teacher is asked to confirm" in reply["text"]
    asked = await api.wait_for(
        "sendMessage",
        chat_id=teacher.id,
        after=after,
        predicate=lambda call: "Do you confirm" in str(call.params.get("text")),
    )
    ask = asked.result
    assert isinstance(ask, dict)
    assert (
        "Иванова Мария Олеговна" in ask["text"] and "Tue 29 Dec, 04:00 Moscow time" in ask["text"]
    )

    return dean, teacher, student, ask


async def test_time_zone_approved_dean_sets_time_teacher_confirms_student_moves(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    dean, teacher, student, ask = await _time_zone_statement_at_teacher(api, seeded)
    # Only the exam's own teacher can confirm.
    forged = api.click(dean, ask, button(ask, "Confirm")["callback_data"])
    assert "not one of your exams" in (await api.callback_answer(forged)).params["text"]
    after = api.mark()
    await press(api, teacher, ask, button(ask, "Confirm")["callback_data"])
    told = await api.next_message(student.id, after=after)
    assert (
        "The time has changed" in told["text"] and "Tue 29 Dec, 04:00 Moscow time" in told["text"]
    )
    reply = await say(api, student, "/schedule")
    assert "Tue 29 Dec, 04:00 Moscow time" in reply["text"]

    # The join call follows the new time: 03:45 Moscow = 00:45 UTC.
    after = api.mark()
    seeded.at(datetime(2026, 12, 29, 0, 45, tzinfo=UTC))
    # (The card for the new time is due too: the change was announced weeks before.)
    call = await api.wait_for(
        "sendMessage",
        chat_id=student.id,
        after=after,
        predicate=lambda c: "Join now" in str(c.params.get("text")),
    )
    assert "Гистология" in call.params["text"]
    # The card too, before the press below: else it may come between the press and its
    # answer, and be taken for the answer (seen under load).
    card = await api.wait_for(
        "sendMessage",
        chat_id=student.id,
        after=after,
        predicate=lambda c: c.ok and "Exam reminder" in str(c.params.get("text")),
    )
    assert "Гистология" in card.params["text"] and "Tue 29 Dec, 04:00" in card.params["text"]
    [statement] = await stored(seeded)
    assert statement.status == "approved" and statement.teacher_confirmed_at is not None
    outcome = [m for m in api.messages(teacher.id) if "Statement №" in m.get("text", "")]
    assert len(outcome) == 1 and "is approved" in outcome[0]["text"]
    # The student, who did not take the zone when filing, is offered it with the approval.
    [approved] = [m for m in api.messages(student.id) if "is approved" in m.get("text", "")]
    offer = button(approved, "Asia/Vladivostok")
    taken = await press(api, student, approved, offer["callback_data"])
    assert "Asia/Vladivostok" in taken["text"]
    async with seeded.sessionmaker() as session:
        owner = await session.get(User, student.id)
        assert owner is not None and owner.tz == "Asia/Vladivostok"


async def test_documents_follow_an_absence_statement_until_the_deadline(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    from bot.db.models import InviteRole

    dean = api.user(11030, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    student = api.user(11031, language_code="en")
    await link_student(api, student, "2611023", "Соколова")
    await file_absence(api, student, "Больна", b"first", exam="Гистология")

    listing = await say(api, student, "/statements")
    prompt = await press(api, student, listing, button(listing, "Add documents")["callback_data"])
    assert "then press Done" in prompt["text"]
    after = api.mark()
    api.send_document(student, "справка.pdf", content=b"%PDF-1.4", mime_type="application/pdf")
    ack = await api.next_message(student.id, after=after)
    after = api.mark()
    done = await press(api, student, ack, button(ack, "Done")["callback_data"])
    assert "Added to statement" in done["text"]
    await api.wait_for(
        "sendMessage",
        chat_id=dean.id,
        after=after,
        predicate=lambda call: "more documents" in str(call.params.get("text")),
    )
    await api.wait_for("sendDocument", chat_id=dean.id, after=after)
    [statement] = await stored(seeded)
    assert [f.kind for f in statement.files] == ["photo", "document"]

    # Three days after the exam the button is gone and a forged press is refused.
    seeded.clock.move(datetime(2026, 12, 31, 8, 0, tzinfo=UTC) - seeded.clock.now())
    listing = await say(api, student, "/statements")
    assert all(
        "Add documents" not in b["text"]
        for row in listing["reply_markup"]["inline_keyboard"]
        for b in row
    )
    forged = student.click(listing, StmtAddDocsCB(statement_id=statement.id).pack())
    answer = await api.callback_answer(forged)
    assert "can no longer be added" in answer.params["text"]
    assert len((await stored(seeded))[0].files) == 2


async def test_teacher_declines_and_the_dean_sets_another_time(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    dean, teacher, _student, ask = await _time_zone_statement_at_teacher(api, seeded)
    after = api.mark()
    await press(api, teacher, ask, button(ask, "Decline")["callback_data"])
    declined = await api.next_message(dean.id, after=after)
    assert "declined" in declined["text"]
    prompt = await press(api, dean, declined, button(declined, "another time")["callback_data"])
    assert "new date and time" in prompt["text"]
    after = api.mark()
    reply = await say(api, dean, "30.12.2026 05:00")
    assert "teacher is asked to confirm" in reply["text"]
    again = await api.wait_for(
        "sendMessage",
        chat_id=teacher.id,
        after=after,
        predicate=lambda call: "Do you confirm" in str(call.params.get("text")),
    )
    assert "Wed 30 Dec" in str(again.params["text"])
    [statement] = await stored(seeded)
    assert statement.teacher_confirmed_at is None and statement.new_start is not None


async def test_dean_asks_for_more_and_the_student_answers(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    dean = api.user(11101, language_code="en")
    group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100911)
    student = api.user(11102, language_code="ru")
    await link_student(api, student, "2611021", "Иванова")
    await start_absence(api, student, "Латинский язык", "олезн", "Грипп", absence="Отсутствие")
    ack = await attach_photo(api, student, b"spravka-1")
    after = await send_draft(api, student, ack, "Готово", "Отправить")
    card = await api.next_message(group["id"], after=after)

    # The dean asks for more, with a question; the student gets it with an Answer button.
    after = api.mark()
    asked = dean.click(card, button(card, "Запросить")["callback_data"])
    await api.callback_answer(asked)
    # The question's prompt (the card's photo may still be on its way to the chat: paced).
    asking = await api.wait_for(
        "sendMessage", group["id"], lambda c: c.ok and "what else" in str(c.params), after
    )
    prompt = asking.result
    assert isinstance(prompt, dict)
    dean.reply(prompt, "Справка без печати. Пришлите справку с печатью поликлиники.")
    # Through the outbox, behind the student's earlier messages in the chat's pace.
    question = await api.next_message(student.id, after=after, timeout=20)
    assert "печатью" in question["text"]
    prompt = await press(api, student, question, button(question, "Ответить")["callback_data"])
    assert "печатью" in prompt["text"]
    noted = await say(api, student, "Прикладываю справку с печатью.")
    assert "Done" in str(noted.get("reply_markup")) or "Готово" in str(noted.get("reply_markup"))
    after = api.mark()
    api.send_photo(student, b"spravka-2-stamped")
    await api.next_message(student.id, after=after)
    after = api.mark()
    done = await press(api, student, noted, button(noted, "Готово")["callback_data"])
    assert "№" in done["text"]

    # The follow-up card; the first card's edit (the question asked) may come before it,
    # paced in the chat behind the prompt.
    sent = await api.wait_for(
        MESSAGE_METHODS,
        group["id"],
        lambda c: c.ok and "дополнительные документы" in str(c.result.get("text")),
        after,
    )
    assert sent.method == "sendMessage"
    follow_up = sent.result
    assert "Прикладываю справку с печатью." in follow_up["text"]
    photo = await api.wait_for("sendPhoto", chat_id=group["id"], after=after)
    assert photo.ok
    [statement] = await stored(seeded)
    assert "Прикладываю справку с печатью." in statement.text
    assert len(statement.files) == 2 and statement.status == "submitted"

    # The dean decides from the follow-up itself.
    after = api.mark()
    decided = dean.click(follow_up, button(follow_up, "Одобрить")["callback_data"])
    await api.callback_answer(decided)
    told = await api.next_message(student.id, after=after)
    assert "одобрено" in told["text"] or "одобрен" in told["text"]
    [statement] = await stored(seeded)
    assert statement.status == "approved"


async def graded(runner: BotRunner, surname: str, discipline: str, posted: datetime) -> None:
    """The student's grade for the exam, posted at `posted` (as the roll would keep it)."""
    async with runner.sessionmaker.begin() as session:
        student_id = await session.scalar(
            select(Student.id).where(Student.full_name.startswith(surname))
        )
        exam_id = await session.scalar(
            select(Exam.id).join(Discipline).where(Discipline.name == discipline)
        )
        assert student_id is not None and exam_id is not None
        session.add(
            RollEntry(
                exam_id=exam_id,
                student_id=student_id,
                mark="present",
                grade="fail",
                grade_posted_at=posted,
            )
        )


async def test_an_appeal_sent_after_the_window_closed_is_told_when_it_was_open(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """Written before 23:59 of the next day, sent after it: refused, saying until when."""
    latin = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)  # 08:30 Moscow
    student = api.user(11201, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    await graded(seeded, "Иванова", "Латинский язык", latin + timedelta(hours=1))
    seeded.at(datetime(2026, 12, 24, 20, 50, tzinfo=UTC))  # 23:50 on the 24th, Moscow
    await seeded.settle()
    reply = await open_statement(api, student, "Латинский язык", "Appeal", "time to prepare")
    reply = await say(api, student, "The teacher gave no time to prepare and asked at once.")
    preview = await press(api, student, reply, button(reply, "Done")["callback_data"])
    assert "not sent yet" in preview["text"]
    seeded.at(datetime(2026, 12, 24, 21, 1, tzinfo=UTC))  # 00:01 on the 25th, Moscow
    refused = await press(api, student, preview, button(preview, "Send")["callback_data"])
    assert "closed" in refused["text"] and "Thu 24 Dec, 23:59" in refused["text"]
    assert await stored(seeded) == []


async def test_time_zone_is_chosen_from_a_list(api: FakeBotAPI, seeded: BotRunner) -> None:
    """§2.7: the zone from a list (or typed); the chosen one is what the statement keeps."""
    student = api.user(11211, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    question = await open_statement(api, student, "Гистология", "time zone")
    assert "Choose it below" in question["text"]
    assert button(question, "Novosibirsk (UTC+07:00)")
    window = await press(api, student, question, button(question, "Vladivostok")["callback_data"])
    assert "Asia/Vladivostok" in window["text"] and "window" in window["text"]
    reply = await say(api, student, "10:00–14:00")
    await send_draft(api, student, reply, "Skip")
    [statement] = await stored(seeded)
    assert (statement.time_zone, statement.window) == ("Asia/Vladivostok", "10:00–14:00")


async def test_a_second_dean_pressing_reject_after_an_approval_is_not_asked_why(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """Two members of the office at one card: one approves; the other's Reject (or Ask
    for more), pressed on the card as it was, is refused at once, not after a reason."""
    from bot.db.models import InviteRole

    first = api.user(11221, first_name="Первый", language_code="en")
    group = await deanery_chat(api, seeded, first, "Лечебный факультет", -100921)
    second = api.user(11222, first_name="Второй", language_code="en")
    await join_by_invite(api, seeded, second, InviteRole.DEAN, "Лечебный факультет")
    student = api.user(11223, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    after = await file_absence(api, student)
    card = await api.next_message(group["id"], after=after)

    approved = first.click(card, button(card, "Одобрить")["callback_data"])
    await api.callback_answer(approved)
    await seeded.settle()
    for label in ("Отклонить", "Запросить"):
        after = api.mark()
        late = second.click(card, button(card, label)["callback_data"])
        answer = await api.callback_answer(late)
        assert answer.params.get("show_alert") is True
        assert "already decided" in answer.params["text"]
        await seeded.settle()
        await api.idle(quiet=0.2)
        asked = [
            c
            for c in api.calls[after:]
            if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(group["id"])
        ]
        assert asked == []  # no prompt for a reason
    [statement] = await stored(seeded)
    assert statement.status == "approved" and statement.decided_by == first.id


async def test_the_card_still_decides_after_asking_for_more(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """Asking for more decides nothing: if the student never answers, the office still
    rejects from the card (its buttons were taken away, and /inbox has none)."""
    dean = api.user(11231, language_code="en")
    group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100931)
    student = api.user(11232, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    after = await file_absence(api, student)
    card = await api.next_message(group["id"], after=after)
    # The scan follows the card, paced in the chat: let it come, or under load it comes
    # after the mark below and is taken for the prompt (a reply to it answers nothing).
    await api.wait_for("sendPhoto", group["id"], lambda c: c.ok, after)

    after = api.mark()
    await api.callback_answer(dean.click(card, button(card, "Запросить")["callback_data"]))
    prompt = await api.next_message(group["id"], after=after)
    await seeded.settle()  # the prompt is known as asked
    dean.reply(prompt, "Пришлите справку с печатью")
    question = await api.next_message(student.id, after=after, timeout=20)  # the outbox
    assert "печатью" in question["text"]
    await seeded.settle()
    await api.idle(quiet=0.2)
    [card] = [m for m in api.messages(group["id"]) if m["message_id"] == card["message_id"]]
    reject = button(card, "Отклонить")["callback_data"]

    after = api.mark()
    await api.callback_answer(dean.click(card, reject))
    prompt = await api.next_message(group["id"], after=after)
    await seeded.settle()  # the prompt is known as asked
    dean.reply(prompt, "Справка не пришла")
    told = await api.next_message(student.id, after=after, timeout=20)
    assert "is rejected" in told["text"] and "Справка не пришла" in told["text"]
    [statement] = await stored(seeded)
    assert statement.status == "rejected"


async def test_an_overlong_reason_is_refused_whole_not_cut(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """A reason past the limit was cut at 1000 characters without a word: the student
    read half of it. It is refused, and the dean's next answer decides."""
    from bot.db.models import InviteRole

    dean = api.user(11241, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    student = api.user(11242, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    after = await file_absence(api, student)
    card = await api.next_message(dean.id, after=after)

    prompt = await press(api, dean, card, button(card, "Reject")["callback_data"])
    assert "reason" in prompt["text"]
    reason = "Справка & <печать> " + "оформлена неверно; " * 60 + "КОНЕЦ"
    assert len(reason) > 1000
    refused = await say(api, dean, reason)
    assert "at most 1000 characters" in refused["text"]
    assert (await stored(seeded))[0].status == "submitted"
    after = api.mark()
    await say(api, dean, reason[:990] + " КОНЕЦ")
    told = await api.next_message(student.id, after=after, timeout=20)
    assert "is rejected" in told["text"] and "КОНЕЦ" in told["text"]
    [statement] = await stored(seeded)
    assert statement.status == "rejected" and statement.decision_comment == reason[:990] + " КОНЕЦ"


async def test_an_overlong_preferred_time_is_refused_not_cut(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """The preferred time was cut at 255 characters without a word."""
    student = api.user(11251, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    await start_time_zone(api, student, "Гистология", "UTC+7")
    window = "Any weekday: " + "10:00–14:00 or 16:00–18:00, " * 10 + "but not on Friday"
    assert len(window) > 255
    refused = await say(api, student, window)
    assert "at most 255 characters" in refused["text"]
    reply = await say(api, student, window[:200] + " but not on Friday")
    await send_draft(api, student, reply, "Skip")
    [statement] = await stored(seeded)
    assert statement.window == window[:200] + " but not on Friday"


async def test_the_new_time_can_be_set_later_from_the_approved_card(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """§2.7: the time is agreed with the teacher first. A dean who approves and puts the
    question off (/cancel) sets the time later from the card; it kept no button before."""
    from bot.db.models import InviteRole

    dean = api.user(11261, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    student = api.user(11262, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    after = await file_time_zone(api, student, "Гистология", "Asia/Vladivostok", "14:00–18:00")
    card = await api.next_message(dean.id, after=after)

    approved = await press(api, dean, card, button(card, "Approve")["callback_data"])
    assert "Approved" in approved["text"]
    prompt = await api.next_message(dean.id)
    assert "new date and time" in prompt["text"]
    await say(api, dean, "/cancel")
    [card] = [m for m in api.messages(dean.id) if m["message_id"] == card["message_id"]]
    prompt = await press(api, dean, card, button(card, "new time")["callback_data"])
    assert "new date and time" in prompt["text"]
    done = await say(api, dean, "29.12.2026 04:00")
    assert "Tue 29 Dec, 04:00" in done["text"]
    [statement] = await stored(seeded)
    assert statement.status == "approved"
    assert statement.new_start == datetime(2026, 12, 29, 1, 0, tzinfo=UTC)
    # Set for good (no teacher in the bot to confirm it): the button says so at the press.
    again = await api.callback_answer(dean.click(card, button(card, "new time")["callback_data"]))
    assert "cannot be rescheduled" in again.params["text"]


async def test_an_album_with_the_reason_as_its_caption_is_one_statement(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """Asked for the reason, the student sends the sick note as an album captioned with it
    (as Telegram users do): the caption is the reason, all photos join one statement. It
    was "answer with text", once per photo, and the photos were lost."""
    student = api.user(11271, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    asked = await open_statement(api, student, "Латинский язык", "Absence", "Illness")
    assert "Describe the reason" in asked["text"]
    api.send_photo(student, b"\xff\xd8\xffpage 1", media_group_id="sick", caption="ОРВИ & <38,5>")
    api.send_photo(student, b"\xff\xd8\xffpage 2", media_group_id="sick")
    api.send_photo(student, b"\xff\xd8\xffpage 3", media_group_id="sick")
    await seeded.settle()
    await api.idle(quiet=0.3)
    said = [m for m in api.messages(student.id) if m["message_id"] > asked["message_id"]]
    assert len(said) == 2, [m["text"] for m in said]  # the documents' question, and one ack
    assert "documents" in said[0]["text"] and "Attached" in said[1]["text"]
    preview = await press(api, student, said[1], button(said[1], "Done")["callback_data"])
    assert "Documents: 3" in preview["text"] and "ОРВИ & <38,5>" in preview["text"]
    await press(api, student, preview, button(preview, "Send")["callback_data"])
    [statement] = await stored(seeded)
    assert statement.text == "ОРВИ & <38,5>" and len(statement.files) == 3


async def test_a_dean_who_joined_later_decides_from_the_inbox(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """A statement filed before anyone of the office joined reached no one; /inbox listed
    it with no way to decide it in chat. Its number there brings the card."""
    from bot.db.models import InviteRole

    student = api.user(11281, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    await file_absence(api, student)
    [statement] = await stored(seeded)

    dean = api.user(11282, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    stranger = api.user(11283, language_code="en")
    await join_by_invite(api, seeded, stranger, InviteRole.DEAN, "Педиатрический факультет")
    inbox = await say(api, dean, "/inbox")
    opener = button(inbox, f"№{statement.id}")["callback_data"]
    refused = await api.callback_answer(stranger.click(inbox, opener))
    assert "dean's office of the student's faculty" in refused.params["text"]
    after = api.mark()
    await api.callback_answer(dean.click(inbox, opener))
    card = await api.next_message(dean.id, after=after, timeout=20)
    assert "Каримов Булат Айратович" in card["text"] and "Грипп" in card["text"]
    await press(api, dean, card, button(card, "Approve")["callback_data"])
    [statement] = await stored(seeded)
    assert statement.status == "approved" and statement.decided_by == dean.id
    again = await api.callback_answer(dean.click(inbox, opener))
    assert "already decided" in again.params["text"]
