"""Teachers come in by invite and post the conference and Moodle links of their exams."""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models import Discipline, Exam, InviteRole, RollEntry, Teacher
from bot.keyboards.callbacks import ExamCB
from tests.e2e.conftest import BotRunner, invite_token, join_by_invite, link_student, press, say
from tests.e2e.fakeapi import FakeBotAPI, button


async def exam_id(runner: BotRunner, discipline: str) -> int:
    async with runner.sessionmaker() as session:
        found = await session.scalar(
            select(Exam.id)
            .join(Discipline)
            .where(Discipline.name == discipline, Exam.kind == "exam")
        )
        assert found is not None
        return found


async def test_invite_is_redeemed_once(api: FakeBotAPI, seeded: BotRunner) -> None:
    token = await invite_token(seeded, InviteRole.TEACHER, "Закиров Ильдар Рустемович")
    teacher = api.user(6001, language_code="en")
    reply = await say(api, teacher, f"/start {token}")
    assert "registered as teacher: Закиров Ильдар Рустемович" in reply["text"]
    other = api.user(6002, language_code="en")
    reply = await say(api, other, f"/start {token}")
    assert "already been used" in reply["text"]
    reply = await say(api, other, "/start not-a-real-token")
    assert "not valid" in reply["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        owner = await session.scalar(
            select(Teacher.user_id).where(Teacher.full_name == "Закиров Ильдар Рустемович")
        )
    assert owner == 6001


async def test_teacher_posts_link_and_student_sees_it(api: FakeBotAPI, seeded: BotRunner) -> None:
    token = await invite_token(seeded, InviteRole.TEACHER, "Николаева Ольга Петровна")
    teacher = api.user(6003, language_code="ru")
    await say(api, teacher, f"/start {token}")
    after = api.mark()
    teacher.send("/exams")
    await api.next_message(teacher.id, after=after)  # the count
    card = await api.next_message(teacher.id)
    assert "Латинский язык" in card["text"]
    prompt = await press(api, teacher, card, button(card, "конференц")["callback_data"])
    assert "http" in prompt["text"]
    reply = await say(api, teacher, "zoom dot com slash room")
    assert "http" in reply["text"]
    await seeded.settle()
    latin = await exam_id(seeded, "Латинский язык")
    async with seeded.sessionmaker() as session:
        unchanged = await session.get(Exam, latin)
        assert unchanged is not None and unchanged.link is None
    reply = await say(api, teacher, "https://my.mts-link.ru/j/71234/latin")
    assert "https://my.mts-link.ru/j/71234/latin" in reply["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        saved = await session.get(Exam, latin)
        assert saved is not None and saved.link == "https://my.mts-link.ru/j/71234/latin"

    student = api.user(6004, language_code="ru")
    await link_student(api, student, "2611022", "Каримов")
    reply = await say(api, student, "/schedule")
    assert "https://my.mts-link.ru/j/71234/latin" in reply["text"]


async def test_forged_exam_button_is_refused(api: FakeBotAPI, seeded: BotRunner) -> None:
    token = await invite_token(seeded, InviteRole.TEACHER, "Закиров Ильдар Рустемович")
    teacher = api.user(6005, language_code="en")
    reply = await say(api, teacher, f"/start {token}")
    foreign = await exam_id(seeded, "Анатомия")  # Смирнова's exam, not Закиров's
    update = teacher.click(reply, ExamCB(action="link", exam_id=foreign).pack())
    answer = await api.callback_answer(update)
    assert "not one of your exams" in answer.params["text"]
    # A student pressing the same forged button gets the same refusal.
    student = api.user(6006, language_code="en")
    await link_student(api, student, "2611001", "Абдуллина")
    menu = await say(api, student, "/help")
    update = student.click(menu, ExamCB(action="moodle", exam_id=foreign).pack())
    answer = await api.callback_answer(update)
    assert "not one of your exams" in answer.params["text"]
    # The forged press left no dialogue behind: free text is not taken as a link.
    reply = await say(api, student, "https://evil.example.org")
    assert "didn't understand" in reply["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        exam = await session.get(Exam, foreign)
        assert exam is not None and exam.link is None


async def test_invites_from_the_bot(api: FakeBotAPI, seeded: BotRunner) -> None:
    from tests.e2e.conftest import ADMIN_ID

    admin = api.user(ADMIN_ID, language_code="en")
    reply = await say(api, admin, "/invite")
    assert "/invite teacher" in reply["text"]
    reply = await say(api, admin, "/invite teacher Галимов Рамиль Фаридович")
    assert "https://t.me/examinator_test_bot?start=" in reply["text"]
    token = reply["text"].rsplit("start=", 1)[1].strip()
    teacher = api.user(6010, language_code="en")
    reply = await say(api, teacher, f"/start {token}")
    assert "Галимов Рамиль Фаридович" in reply["text"]
    reply = await say(api, admin, "/invite dean Нет такого")
    assert "Unknown faculty" in reply["text"] and "Лечебный факультет" in reply["text"]

    # A dean may invite teachers and colleagues, not administrators or other faculties.
    dean_token = await invite_token(seeded, InviteRole.DEAN, "Педиатрический факультет")
    dean = api.user(6011, language_code="en")
    await say(api, dean, f"/start {dean_token}")
    reply = await say(api, dean, "/invite admin")
    assert "Only an administrator" in reply["text"]
    reply = await say(api, dean, "/invite dean Лечебный факультет")
    assert "only to your own dean's office" in reply["text"]
    reply = await say(api, dean, "/invite dean Педиатрический факультет")
    assert "start=" in reply["text"]

    student = api.user(6012, language_code="en")
    await link_student(api, student, "2611001", "Абдуллина")
    reply = await say(api, student, "/invite admin")
    assert "Only the dean's office or an administrator" in reply["text"]
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        from bot.db.models import Invite

        made = list(await session.scalars(select(Invite.role)))
    assert sorted(made) == ["dean", "dean", "teacher"]


async def test_teacher_calendar_lists_what_they_run_with_the_link(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """/calendar for a teacher: their exams and consultations (nobody else's), with the
    group in the title and the conference link; a student's /calendar is unchanged."""
    from datetime import UTC, datetime

    from icalendar import Calendar

    token = await invite_token(seeded, InviteRole.TEACHER, "Смирнова Елена Викторовна")
    teacher = api.user(6101, language_code="ru")
    await say(api, teacher, f"/start {token}")
    after = api.mark()
    teacher.send("/calendar")
    call = await api.wait_for("sendDocument", chat_id=teacher.id, after=after)
    assert "конференц" in str(call.params.get("caption"))
    filename, content = call.files["document"]
    assert filename == "exams.ics"
    events = sorted(Calendar.from_ical(content).walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    assert [str(e.get("summary")) for e in events] == [
        "Анатомия — консультация, группа 1101",
        "Анатомия — экзамен, группа 1101",
    ]
    consultation, exam = events
    assert consultation.decoded("dtstart") == datetime(2027, 1, 11, 11, 0, tzinfo=UTC)
    assert (
        str(consultation.get("url")) == "https://my.mts-link.ru/j/71234/1101-anatomy-consultation"
    )
    assert "Moodle" in str(exam.get("description"))

    # A teacher with nothing ahead is told so, not sent an empty file.
    token = await invite_token(seeded, InviteRole.TEACHER, "Никто Без Экзаменов")
    idle = api.user(6102, language_code="en")
    await say(api, idle, f"/start {token}")
    reply = await say(api, idle, "/calendar")
    assert "no upcoming exams or consultations to run" in reply["text"]


async def test_a_press_of_an_unknown_action_is_answered_and_changes_nothing(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """A button of an older version (or forged) whose action this version does not know:
    it cannot be packed, fails to parse, and reaches the polite fallback, not a handler."""
    teacher = api.user(6008, language_code="en")
    reply = await join_by_invite(
        api, seeded, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна"
    )
    latin = await exam_id(seeded, "Латинский язык")
    for data in (f"rl:junk:{latin}:0:0:", f"ex:roll:{latin}", "st-dec:junk:1"):
        answer = await api.callback_answer(teacher.click(reply, data))
        assert answer.params.get("show_alert") is True
        assert "no longer valid" in answer.params["text"], data
    await seeded.settle()
    async with seeded.sessionmaker() as session:
        exam = await session.get(Exam, latin)
        assert exam is not None and exam.link is None and exam.roll_confirmed_at is None
        assert not (
            await session.scalars(select(RollEntry).where(RollEntry.exam_id == latin))
        ).all()
