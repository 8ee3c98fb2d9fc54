"""The dean's desk: announcements through the outbox with a progress message that edits
itself; the semester's retention (teachers reminded, kept documents deleted)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.db.models import Announcement, Group, InviteRole, Semester, StatementFile
from bot.keyboards.callbacks import AnnounceCB
from tests.e2e.conftest import (
    ADMIN_ID,
    BotRunner,
    deanery_chat,
    join_by_invite,
    link_student,
    press,
    say,
)
from tests.e2e.fakeapi import FakeBotAPI, button


async def test_announcement_reaches_the_group_once_with_progress(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    dean = api.user(14001, language_code="en")
    await deanery_chat(api, seeded, dean, "Лечебный факультет", -100960)
    ivanova = api.user(14002, language_code="ru")
    await link_student(api, ivanova, "2611021", "Иванова")
    karimov = api.user(14003, language_code="en")
    await link_student(api, karimov, "2611022", "Каримов")
    blocked = api.user(14004, language_code="ru")
    await link_student(api, blocked, "2611023", "Соколова")
    api.block(blocked.id)

    menu = await say(api, dean, "/announce")
    # A group of another faculty is not offered, and a forged press is refused.
    assert "2101" not in str(menu["reply_markup"])
    async with seeded.sessionmaker() as session:
        other = await session.scalar(select(Group.id).where(Group.name == "2101"))
        ours = await session.scalar(select(Group.id).where(Group.name == "1102"))
    assert other is not None and ours is not None
    forged = dean.click(menu, AnnounceCB(target="group", target_id=other).pack())
    answer = await api.callback_answer(forged)
    assert "your own faculty" in answer.params["text"]

    prompt = await press(api, dean, menu, button(menu, "Group 1102")["callback_data"])
    assert "3 with the bot" in prompt["text"]
    empty = await say(api, dean, "   ")
    assert "nothing to send" in empty["text"]
    preview = await say(api, dean, "Консультация переносится на 15:00.")
    assert "Preview" in preview["text"] and "3 recipients" in preview["text"]
    after = api.mark()
    await press(api, dean, preview, button(preview, "Send")["callback_data"])
    got = await api.next_message(ivanova.id, after=after)
    assert "Консультация переносится на 15:00." in got["text"] and "деканата" in got["text"]
    got = await api.next_message(karimov.id, after=after)
    assert "From the dean's office" in got["text"]

    # The progress message edits itself to the final count (one blocked the bot). It is
    # sent after the commit, behind the preview's edit in the dean's chat's pace.
    await api.wait_for(
        "sendMessage", dean.id, lambda c: c.ok and "Announcement №" in str(c.params), after
    )
    # The chores edit it (woken by the announcement): wake them once all is sent and wait
    # for the final count. Running the progress chore here beside them raced them (seen
    # under load): two stale readers, and an edit with an older count could land last.
    await seeded.outbox_settled()
    assert seeded.app is not None and seeded.app.chores is not None
    seeded.app.chores.wake()
    await api.wait_for(
        "editMessageText",
        dean.id,
        lambda c: c.ok and "is delivered" in str(c.params.get("text")),
        after,
        timeout=15,
    )
    final = [m for m in api.messages(dean.id) if "Announcement №" in m.get("text", "")]
    assert final and "delivered: 2 of 3" in final[-1]["text"]
    assert "failed: 1" in final[-1]["text"]
    announced = [c for c in api.delivered(ivanova.id) if "15:00" in str(c.params.get("text"))]
    assert len(announced) == 1  # exactly once
    async with asyncio.timeout(10):  # the chore commits after its edit
        while True:
            async with seeded.sessionmaker() as session:
                [stored] = list(await session.scalars(select(Announcement)))
            if stored.finished_at is not None:
                break
            await asyncio.sleep(0.02)
    assert stored.recipients == 3 and stored.finished_at is not None
    assert stored.target == "group" and stored.target_id == ours


async def test_semester_start_deletes_kept_documents_and_reminds_teachers(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    admin = api.user(ADMIN_ID, language_code="en")
    teacher = api.user(14101, language_code="ru")
    await join_by_invite(api, seeded, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    student = api.user(14102, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    # An absence statement with a photo, kept on disk by the keeper.
    menu = await say(api, student, "/statement")
    reply = await press(api, student, menu, button(menu, "Латинский язык")["callback_data"])
    reply = await press(api, student, reply, button(reply, "Absence")["callback_data"])
    reply = await press(api, student, reply, button(reply, "Illness")["callback_data"])
    await say(api, student, "Flu")
    after = api.mark()
    api.send_photo(student, b"\xff\xd8\xff certificate")  # a JPEG, as Telegram sends photos
    ack = await api.next_message(student.id, after=after)
    preview = await press(api, student, ack, button(ack, "Done")["callback_data"])
    await press(api, student, preview, button(preview, "Send")["callback_data"])
    await seeded.settle()
    assert seeded.app is not None and seeded.app.keeper is not None
    await seeded.app.keeper.run_once()
    async with seeded.sessionmaker() as session:
        [kept] = list(await session.scalars(select(StatementFile)))
    assert kept.stored_path
    on_disk = seeded.settings.files_dir / kept.stored_path
    assert on_disk.read_bytes() == b"\xff\xd8\xff certificate"

    wrong = await say(api, admin, "/semester 30.06.2027 09.02.2027")
    assert "must come after the start" in wrong["text"]
    saved = await say(api, admin, "/semester 09.02.2027 30.06.2027")
    assert "saved" in saved["text"]

    # The day before, nothing happens; on the day, the chores run the retention.
    assert seeded.app.chores is not None
    seeded.at(datetime(2027, 2, 7, 21, 0, tzinfo=UTC))  # 8 February, Moscow
    await seeded.app.chores.run_once()
    assert on_disk.exists()
    after = api.mark()
    seeded.at(datetime(2027, 2, 8, 21, 0, tzinfo=UTC) + timedelta(minutes=1))  # 9 February
    await seeded.app.chores.run_once()
    told = await api.next_message(teacher.id, after=after)
    assert "уничтожить" in told["text"] or "уничтож" in told["text"]
    assert not on_disk.exists()
    async with seeded.sessionmaker() as session:
        left = await session.scalar(select(func.count()).select_from(StatementFile))
        [semester] = list(await session.scalars(select(Semester)))
    assert left == 0 and semester.retention_done_at is not None
    listed = await say(api, admin, "/semester")
    assert "09.02.2027 — 30.06.2027 ✓" in listed["text"]


async def test_student_sees_their_data_and_unlinks(api: FakeBotAPI, seeded: BotRunner) -> None:
    import json

    from bot.db.models import Notice, Student, User

    student = api.user(14201, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    await say(api, student, "/tz Asia/Novosibirsk")
    reply = await say(api, student, "/mydata")
    assert "Каримов Булат Айратович" in reply["text"] and "2611022" in reply["text"]
    assert "14201" in reply["text"]

    after = api.mark()
    student.click(reply, button(reply, "As a file")["callback_data"])
    sent = await api.wait_for("sendDocument", chat_id=student.id, after=after)
    data = json.loads(sent.files["document"][1])
    assert data["profile"]["record_book"] == "2611022"
    assert data["profile"]["telegram_id"] == student.id

    question = await press(api, student, reply, button(reply, "Unlink")["callback_data"])
    done = await press(api, student, question, button(question, "Yes")["callback_data"])
    assert "unlinked" in done["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        entry = await session.scalar(select(Student).where(Student.record_book == "2611022"))
        account = await session.get(User, student.id)
        mentions = await session.scalar(
            select(func.count()).select_from(Notice).where(Notice.chat_id == student.id)
        )
    assert entry is not None and entry.user_id is None  # the roster entry stays
    assert account is None and mentions == 0
    # Not a student any more: /mydata says how to link again.
    reply = await say(api, student, "/mydata")
    assert "/start" in reply["text"]
