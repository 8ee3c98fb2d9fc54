"""The exam-day console, end to end: a teacher runs an exam from the phone — split, marks,
tickets, an outage that runs out and one that is resolved, grades, confirm, the sheet —
and the messages every party got, the database and the sheet agree."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import func, select

from bot.db.models import (
    Discipline,
    Exam,
    ExamWork,
    GradeChange,
    InviteRole,
    Notice,
    NoticeStatus,
    RollEntry,
    Statement,
    Student,
    Subgroup,
)
from bot.domain.reminders import NoticeKind
from bot.keyboards.callbacks import (
    RollCB,
    RollGradeCB,
    RollMarkCB,
    RollSplitCB,
    RollTicketsCB,
    RollWrittenCB,
)
from tests.e2e.conftest import (
    ADMIN_ID,
    BotRunner,
    deanery_chat,
    join_by_invite,
    link_student,
    press,
    say,
)
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, button, buttons

LATIN_START = datetime(2026, 12, 23, 5, 30, tzinfo=UTC)  # 08:30 Moscow
WRITTEN_START = datetime(2027, 1, 19, 6, 30, tzinfo=UTC)  # 09:30 Moscow


async def exam_of(runner: BotRunner, discipline: str) -> Exam:
    async with runner.sessionmaker() as session:
        exam = await session.scalar(
            select(Exam).join(Discipline).where(Discipline.name == discipline, Exam.kind == "exam")
        )
        assert exam is not None
        return exam


async def entries(runner: BotRunner, exam_id: int) -> dict[str, RollEntry]:
    async with runner.sessionmaker() as session:
        rows = await session.execute(
            select(Student.full_name, RollEntry)
            .join(RollEntry, RollEntry.student_id == Student.id)
            .where(RollEntry.exam_id == exam_id)
        )
        return {name.split()[0]: entry for name, entry in rows}


async def student_id(runner: BotRunner, surname: str) -> int:
    async with runner.sessionmaker() as session:
        found = await session.scalar(
            select(Student.id).where(Student.full_name.startswith(surname))
        )
        assert found is not None
        return found


async def open_roll(api: FakeBotAPI, teacher: FakeUser, title: str) -> dict[str, Any]:
    """/exams, then the roll button on the exam's card."""
    after = api.mark()
    teacher.send("/exams")
    await api.next_message(teacher.id, after=after)  # the count
    while True:
        card = await api.next_message(teacher.id)
        if title in card["text"]:
            break
    return await press(api, teacher, card, button(card, "📋")["callback_data"])


async def tap(
    runner: BotRunner, api: FakeBotAPI, user: FakeUser, message: dict[str, Any], data: str
) -> tuple[dict[str, Any], str]:
    """Presses; returns the message as edited and the toast/alert text (if any)."""
    update = user.click(message, data)
    answer = await api.callback_answer(update)
    await runner.settle()  # the press is handled through to its edit
    await api.idle(quiet=0.05)
    edited = next(
        (m for m in api.messages(user.id) if m["message_id"] == message["message_id"]),
        message,
    )
    return edited, str(answer.params.get("text") or "")


async def mark_of(runner: BotRunner, exam_id: int, surname: str) -> str:
    """The student's mark on the roll ("unmarked" while there is no entry yet)."""
    entry = (await entries(runner, exam_id)).get(surname)
    return "unmarked" if entry is None else entry.mark


async def histology_begins(
    api: FakeBotAPI, runner: BotRunner, first_id: int
) -> tuple[FakeUser, FakeUser, FakeUser, Exam, int]:
    """Histology's teacher (ru), another teacher (en) and Sokolova (ru), users from
    `first_id` on, all joined, and the clock at the exam's start: (teacher, stranger, the
    student's user, the exam, Sokolova's student id)."""
    teacher = api.user(first_id, language_code="ru")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Закиров Ильдар Рустемович")
    stranger = api.user(first_id + 1, language_code="en")
    await join_by_invite(api, runner, stranger, InviteRole.TEACHER, "Николаева Ольга Петровна")
    student = api.user(first_id + 2, language_code="ru")
    await link_student(api, student, "2611023", "Соколова")
    histology = await exam_of(runner, "Гистология")
    sokolova = await student_id(runner, "Соколова")
    runner.at(histology.starts_at)
    return teacher, stranger, student, histology, sokolova


async def physiology_and_fedorov(
    api: FakeBotAPI, runner: BotRunner, first_id: int
) -> tuple[FakeUser, FakeUser, Exam]:
    """Physiology's teacher and Фёдоров (both en), users `first_id` and `first_id + 1`,
    joined: (teacher, Фёдоров's user, the exam)."""
    teacher = api.user(first_id, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Галимов Рамиль Фаридович")
    fedorov = api.user(first_id + 1, language_code="en")
    await link_student(api, fedorov, "2621001", "Фёдоров")
    return teacher, fedorov, await exam_of(runner, "Нормальная физиология")


async def written_begins(
    api: FakeBotAPI, runner: BotRunner, teacher: FakeUser, physiology: Exam, fedorov: FakeUser
) -> dict[str, Any]:
    """At the written work's start the teacher marks Фёдоров present and gives 60 minutes;
    he gets the headings. The roll as it then stands."""
    fedorov_id = await student_id(runner, "Фёдоров")
    runner.at(WRITTEN_START)
    roll = await open_roll(api, teacher, "Нормальная физиология")
    roll, _ = await tap(runner, api, teacher, roll, mark(physiology.id, fedorov_id, "present"))
    roll, _ = await tap(runner, api, teacher, roll, cb(physiology.id, "written"))
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "60 min")["callback_data"])
    await api.next_message(fedorov.id)  # the headings
    return roll


def cb(exam: int, action: str, student: int = 0) -> str:
    return RollCB(action=action, exam_id=exam, student_id=student).pack()


def mark(exam: int, student: int, action: str, *, card: bool = False) -> str:
    return RollMarkCB(exam_id=exam, student_id=student, page=0, mark=action, card=card).pack()


def grade_cb(exam: int, student: int, value: str) -> str:
    return RollGradeCB(exam_id=exam, student_id=student, page=0, grade=value).pack()


@pytest.mark.telegram_pace  # a teacher's whole exam at Telegram's pace
async def test_an_oral_exam_run_end_to_end(api: FakeBotAPI, seeded: BotRunner) -> None:
    runner = seeded
    dean = api.user(12001, language_code="ru")
    group = await deanery_chat(api, runner, dean, "Лечебный факультет", -100700)

    teacher = api.user(12002, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    ivanova = api.user(12003, language_code="ru")
    await link_student(api, ivanova, "2611021", "Иванова")
    karimov = api.user(12004, language_code="en")
    await link_student(api, karimov, "2611022", "Каримов")
    # Соколова never linked her account: she is on the roll all the same.
    latin = await exam_of(runner, "Латинский язык")
    ids = {s: await student_id(runner, s) for s in ("Иванова", "Каримов", "Соколова")}

    roll = await open_roll(api, teacher, "Латинский язык")
    assert "Иванова Мария Олеговна" in roll["text"] and "total 3" in roll["text"]

    # Split before the start: two subgroups an hour apart, alphabetically.
    roll, _ = await tap(runner, api, teacher, roll, cb(latin.id, "split"))
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "2")["callback_data"])
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "60")["callback_data"])
    assert "Subgroups: 1 — 08:30, 2 — 09:30" in roll["text"]
    async with runner.sessionmaker() as session:
        starts = sorted(s.starts_at for s in await session.scalars(select(Subgroup)))
    assert starts == [LATIN_START, LATIN_START + timedelta(hours=1)]
    told = await api.next_message(karimov.id)
    assert "subgroup 1" in told["text"] and "08:30" in told["text"]
    told = await api.next_message(ivanova.id)
    assert "вы в подгруппе 1" in told["text"]

    # Exam time. Иванова is present (one tap on her name; a second tap changes nothing).
    runner.at(LATIN_START + timedelta(minutes=2))
    present = mark(latin.id, ids["Иванова"], "present")
    roll, _ = await tap(runner, api, teacher, roll, present)
    roll, toast = await tap(runner, api, teacher, roll, present)
    assert toast == "Already done."
    # Каримов: an outage, from his card.
    card, _ = await tap(runner, api, teacher, roll, cb(latin.id, "card", ids["Каримов"]))
    assert "2611022" in card["text"]
    card, _ = await tap(runner, api, teacher, card, button(card, "Outage")["callback_data"])
    assert "Outage since 08:32" in card["text"] and "08:47" in card["text"]
    # A mark no button carries cannot be packed; forged, it reaches no handler and
    # changes nothing.
    with pytest.raises(ValidationError):
        mark(latin.id, ids["Каримов"], "bogus", card=True)
    forged = f"rm:{latin.id}:{ids['Каримов']}:0:bogus:1"
    _card, alert = await tap(runner, api, teacher, card, forged)
    assert "no longer valid" in alert
    assert (await entries(runner, latin.id))["Каримов"].mark == "outage"
    # A grade for a student not present is refused (a forged press: no such button shown).
    _card, alert = await tap(
        runner, api, teacher, card, grade_cb(latin.id, ids["Каримов"], "excellent")
    )
    assert "Only a student marked present" in alert
    roll, _ = await tap(runner, api, teacher, card, button(card, "Back")["callback_data"])
    # Соколова, of the second subgroup (09:30), is not due yet: "the rest absent" spares
    # her; the teacher marks her absent by hand (she has sent word she will not come).
    roll, toast = await tap(
        runner, api, teacher, roll, button(roll, "rest absent")["callback_data"]
    )
    assert toast == "Already done."
    assert (await entries(runner, latin.id))["Соколова"].mark == "unmarked"
    roll, _ = await tap(runner, api, teacher, roll, mark(latin.id, ids["Соколова"], "absent"))
    marks = await entries(runner, latin.id)
    assert {k: v.mark for k, v in marks.items()} == {
        "Иванова": "present",
        "Каримов": "outage",
        "Соколова": "absent",
    }

    # Tickets by the record book's last digit: 2611021 -> 1. A second hand-out is refused.
    roll, _ = await tap(runner, api, teacher, roll, cb(latin.id, "tickets"))
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "last digit")["callback_data"])
    ticket = await api.next_message(ivanova.id)
    assert "№1" in ticket["text"]
    _roll, alert = await tap(
        runner,
        api,
        teacher,
        roll,
        RollTicketsCB(exam_id=latin.id, page=0, method="random", count=20).pack(),
    )
    assert "Already done" in alert

    # The outage runs out at 15 minutes: the student and the dean's office are told.
    after = api.mark()
    runner.at(LATIN_START + timedelta(minutes=17, seconds=1))
    expired = await api.next_message(karimov.id, after=after)
    assert "not fixed within 15 minutes" in expired["text"]
    report = await api.next_message(group["id"], after=after)
    assert "Каримов Булат Айратович" in report["text"] and "08:32" in report["text"]
    card, _ = await tap(runner, api, teacher, roll, cb(latin.id, "card", ids["Каримов"]))
    assert "technical failure" in card["text"]
    _card, alert = await tap(
        runner, api, teacher, card, mark(latin.id, ids["Каримов"], "present", card=True)
    )
    assert "15 minutes are over" in alert

    # Grades: Иванова gets "отлично", then it is changed to "хорошо" (both recorded).
    card, _ = await tap(runner, api, teacher, card, cb(latin.id, "card", ids["Иванова"]))
    card, _ = await tap(runner, api, teacher, card, button(card, "excellent")["callback_data"])
    assert "Grade: excellent" in card["text"]
    graded = await api.next_message(ivanova.id)
    assert "отлично" in graded["text"] and "чт, 24 декабря, 23:59 МСК" in graded["text"]
    assert "23:59" in graded["text"]
    card, _ = await tap(runner, api, teacher, card, button(card, "good")["callback_data"])
    changed = await api.next_message(ivanova.id)
    assert "отлично → хорошо" in changed["text"]
    # Marking a graded student absent is refused.
    _card, alert = await tap(
        runner, api, teacher, card, mark(latin.id, ids["Иванова"], "absent", card=True)
    )
    assert "already has a grade" in alert

    # The texts to say aloud, in Russian as the regulation words them.
    after = api.mark()
    teacher.click(roll, cb(latin.id, "texts"))
    aloud = await api.next_message(teacher.id, after=after)
    assert (
        "На экзамене устное собеседование прошли 1 чел., 1 чел. не явились по уважительной "
        "причине (1 — без уважительной причины). Всего по списку 3 чел."
    ) in aloud["text"]
    # A recording a subgroup, each named with its own start: one name for both would have
    # the second subgroup's recording overwrite the first's.
    for start in ("08.30", "09.30"):
        name = f"Латинский язык _ 23.12.2026 _ экзамен _ {start} _ 1102 _ Николаева Ольга Петровна"
        assert name in aloud["text"]

    # Confirm: locked, the sheet as XLSX and CSV, the no-shows to the dean's office.
    after = api.mark()
    roll, _ = await tap(runner, api, teacher, roll, cb(latin.id, "confirm"))
    assert "Confirmed" in roll["text"]
    # Delivered ones: paced like Telegram, a send may be answered 429 first and retried.
    xlsx = await api.wait_for("sendDocument", teacher.id, lambda c: c.ok, after)
    csv_call = await api.wait_for(
        "sendDocument", teacher.id, lambda c: c.ok, api.calls.index(xlsx) + 1
    )
    # "sending a file…" shows while the sheet is built, before it arrives.
    action = await api.wait_for("sendChatAction", chat_id=teacher.id, after=after)
    assert action.params["action"] == "upload_document"
    assert api.calls.index(action) < api.calls.index(xlsx)
    book = load_workbook(io.BytesIO(xlsx.files["document"][1]))
    assert book.active is not None
    # An English-speaking teacher's sheet: its tab and title in English too.
    assert book.sheetnames[0] == "Attendance sheet"
    assert str(book.active["A1"].value).startswith("Attendance sheet: Латинский язык")
    cells = [[c for c in row] for row in book.active.iter_rows(values_only=True)]
    flat = [" ".join(str(c) for c in row if c is not None) for row in cells]
    assert any("Иванова Мария Олеговна" in r and "good" in r and "1" in r for r in flat)
    assert any("Каримов" in r and "technical failure" in r for r in flat)
    rows = list(
        csv.reader(io.StringIO(csv_call.files["document"][1].decode("utf-8-sig")), delimiter=";")
    )
    assert len(rows) == 4 and rows[3][1] == "Соколова Анна Дмитриевна"
    no_shows = await api.next_message(group["id"], after=after)
    assert "Соколова Анна Дмитриевна" in no_shows["text"] and "Иванова" not in no_shows["text"]
    _roll, alert = await tap(runner, api, teacher, roll, present)
    assert "locked" in alert

    marks = await entries(runner, latin.id)
    assert marks["Иванова"].grade == "good" and marks["Иванова"].ticket == 1
    assert marks["Каримов"].mark == "failure" and marks["Каримов"].grade is None
    assert marks["Соколова"].mark == "absent"
    async with runner.sessionmaker() as session:
        history = list(await session.scalars(select(GradeChange).order_by(GradeChange.id)))
        locked = await session.get(Exam, latin.id)
    assert [(h.old_grade, h.new_grade, h.changed_by) for h in history] == [
        (None, "excellent", teacher.id),
        ("excellent", "good", teacher.id),
    ]
    assert locked is not None and locked.roll_confirmed_by == teacher.id

    # An administrator reopens the roll: the teacher may correct it again.
    admin = api.user(ADMIN_ID, language_code="en")
    reply = await say(api, admin, "/unlock oops")
    assert "/unlock 42" in reply["text"]
    reply = await say(api, admin, f"/unlock {latin.id}")
    assert "open again" in reply["text"]
    roll, _ = await tap(runner, api, teacher, roll, cb(latin.id, "show"))
    _roll, alert = await tap(runner, api, teacher, roll, mark(latin.id, ids["Соколова"], "excused"))
    assert alert == ""
    assert (await entries(runner, latin.id))["Соколова"].mark == "excused"

    # The technical failure puts Каримов on the additional session's list.
    listed = await say(api, dean, "/additional")
    assert "Каримов Булат Айратович" in listed["text"] and "технический сбой" in listed["text"]
    assert "Иванова" not in listed["text"]


async def test_no_shows_with_an_undecided_absence_statement_are_said_apart(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """The dean's office gets the no-shows *without documents*: one who sent an absence
    statement with documents, not decided yet, is listed apart, not as a no-show."""
    runner = seeded
    dean = api.user(12051, language_code="ru")
    group = await deanery_chat(api, runner, dean, "Лечебный факультет", -100705)
    teacher = api.user(12052, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    latin = await exam_of(runner, "Латинский язык")
    ids = {s: await student_id(runner, s) for s in ("Иванова", "Каримов", "Соколова")}
    async with runner.sessionmaker() as session:
        session.add(
            Statement(
                student_id=ids["Соколова"],
                exam_id=latin.id,
                kind="absence",
                reason="illness",
                text="грипп",
                submitted_at=LATIN_START - timedelta(hours=2),
            )
        )
        await session.commit()
    runner.at(LATIN_START + timedelta(minutes=5))
    roll = await open_roll(api, teacher, "Латинский язык")
    roll, _ = await tap(runner, api, teacher, roll, mark(latin.id, ids["Иванова"], "present"))
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "rest absent")["callback_data"])
    after = api.mark()
    roll, _ = await tap(runner, api, teacher, roll, cb(latin.id, "confirm"))
    no_shows = (await api.next_message(group["id"], after=after))["text"]
    without, _sep, undecided = no_shows.partition("заявление об отсутствии ещё не рассмотрено")
    assert "Не явились без уважительной причины (1):\n• Каримов Булат Айратович" in without
    assert "Соколова" not in without
    assert "(1):\n• Соколова Анна Дмитриевна (2611023)" in undecided


async def test_a_resolved_outage_and_a_forged_press(api: FakeBotAPI, seeded: BotRunner) -> None:
    runner = seeded
    teacher, stranger, student, histology, sokolova = await histology_begins(api, runner, 12101)

    roll = await open_roll(api, teacher, "Гистология")
    card, _ = await tap(runner, api, teacher, roll, cb(histology.id, "card", sokolova))
    card, _ = await tap(runner, api, teacher, card, button(card, "Сбой")["callback_data"])
    runner.tick(timedelta(minutes=10))
    card, _ = await tap(runner, api, teacher, card, button(card, "Устранён")["callback_data"])
    after = api.mark()
    runner.tick(timedelta(minutes=10))  # past the outage's 15 minutes: nothing is sent
    await api.idle(quiet=0.3)
    await runner.outbox_settled()
    assert not [c for c in api.delivered(student.id) if api.calls.index(c) >= after]
    marks = await entries(runner, histology.id)
    assert marks["Соколова"].mark == "present"
    assert marks["Соколова"].outage_resolved_at is not None

    # Another teacher pressing this exam's buttons (a forged callback) changes nothing.
    reply = await say(api, stranger, "/help")
    _msg, alert = await tap(runner, api, stranger, reply, mark(histology.id, sokolova, "absent"))
    assert "not one of your exams" in alert
    marks = await entries(runner, histology.id)
    assert marks["Соколова"].mark == "present"


async def test_written_work_is_taken_until_the_grace_ends(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    runner = seeded
    teacher, fedorov, physiology = await physiology_and_fedorov(api, runner, 12201)
    leysan = api.user(12203, language_code="ru")
    await link_student(api, leysan, "2621002", "Хабибуллина")
    ids = {s: await student_id(runner, s) for s in ("Фёдоров", "Хабибуллина", "Шайхутдинов")}
    runner.at(WRITTEN_START)

    roll = await open_roll(api, teacher, "Нормальная физиология")
    for surname in ("Фёдоров", "Хабибуллина"):
        roll, _ = await tap(
            runner, api, teacher, roll, mark(physiology.id, ids[surname], "present")
        )
    roll, _ = await tap(
        runner, api, teacher, roll, mark(physiology.id, ids["Шайхутдинов"], "absent")
    )
    roll, _ = await tap(runner, api, teacher, roll, cb(physiology.id, "written"))
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "60 min")["callback_data"])
    heading = await api.next_message(fedorov.id)
    assert "Фёдоров Никита Павлович" in heading["text"] and "10:30" in heading["text"]
    assert "10:40" in heading["text"]  # the grace
    _roll, alert = await tap(
        runner, api, teacher, roll, RollWrittenCB(exam_id=physiology.id, page=0, minutes=90).pack()
    )
    assert "Already done" in alert
    # Too late to split the group now that the exam has started.
    _roll, alert = await tap(
        runner,
        api,
        teacher,
        roll,
        RollSplitCB(exam_id=physiology.id, page=0, parts=2, minutes=30).pack(),
    )
    assert "subgroups are set before the start" in alert

    runner.tick(timedelta(minutes=30))  # 30 minutes left
    left = await api.next_message(fedorov.id)
    assert "30 minutes left" in left["text"]

    # Fedorov hands in an album of two sheets: one acknowledgement, one album to the teacher.
    after = api.mark()
    for n in range(2):
        api.send_photo(fedorov, f"sheet{n}".encode(), media_group_id="fw1")
    ack = await api.next_message(fedorov.id, after=after)
    assert "Received" in ack["text"]
    await runner.settle()  # both photos are in
    runner.tick(timedelta(seconds=5))  # the album is gathered for a few seconds
    label = await api.next_message(teacher.id, after=after)
    assert "Фёдоров Никита Павлович" in label["text"] and "written work" in label["text"]
    album = await api.wait_for("sendMediaGroup", chat_id=teacher.id, after=after)
    assert len(album.params["media"]) == 2

    # Шайхутдинов is absent: nothing to take from him (he is not linked: Хабибуллина sends
    # after the grace instead, and is refused with the time works were due).
    after = api.mark()
    runner.at(WRITTEN_START + timedelta(minutes=70, seconds=1))
    missing = await api.next_message(teacher.id, after=after)
    assert "Хабибуллина Лейсан Маратовна" in missing["text"] and "Фёдоров" not in missing["text"]
    after = api.mark()
    api.send_photo(leysan, b"late")
    refused = await api.next_message(leysan.id, after=after)
    assert "10:40" in refused["text"] and "не принята" in refused["text"]
    async with runner.sessionmaker() as session:
        works = list(await session.scalars(select(ExamWork)))
    assert [(w.student_id, w.purpose) for w in works] == [
        (ids["Фёдоров"], "written"),
        (ids["Фёдоров"], "written"),
    ]


async def test_a_student_marked_present_after_the_written_work_began_is_told_its_rules(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """Late, or back from an outage: the headings, the deadline and the reminders still
    ahead reach a student marked present once the clock runs, as they reached the others."""
    runner = seeded
    teacher, fedorov, physiology = await physiology_and_fedorov(api, runner, 12211)
    leysan = api.user(12213, language_code="ru")
    await link_student(api, leysan, "2621002", "Хабибуллина")
    leysan_id = await student_id(runner, "Хабибуллина")
    roll = await written_begins(api, runner, teacher, physiology, fedorov)

    runner.tick(timedelta(minutes=12))  # Хабибуллина joins late
    after = api.mark()
    roll, _ = await tap(runner, api, teacher, roll, mark(physiology.id, leysan_id, "present"))
    heading = await api.next_message(leysan.id, after=after)
    assert "Хабибуллина Лейсан Маратовна" in heading["text"]
    assert "10:30" in heading["text"] and "10:40" in heading["text"]
    runner.tick(timedelta(minutes=18))  # 30 minutes left
    left = await api.next_message(leysan.id)
    assert "осталось 30 минут" in left["text"]


async def test_no_time_left_reminder_after_an_outage_ran_out_during_written_work(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """Told they are recorded absent (technical failure) and may sit another day, the
    student is not then told how many minutes of the written work are left."""
    runner = seeded
    teacher, fedorov, physiology = await physiology_and_fedorov(api, runner, 12221)
    fedorov_id = await student_id(runner, "Фёдоров")
    roll = await written_begins(api, runner, teacher, physiology, fedorov)
    runner.tick(timedelta(minutes=5))
    roll, _ = await tap(runner, api, teacher, roll, mark(physiology.id, fedorov_id, "outage"))
    runner.tick(timedelta(minutes=15, seconds=1))
    expired = await api.next_message(fedorov.id)
    assert "not fixed within 15 minutes" in expired["text"]

    told = len(api.delivered(fedorov.id))
    runner.at(WRITTEN_START + timedelta(minutes=56))  # past the 30, 10 and 5 minutes left
    async with asyncio.timeout(10):  # until the sender has dealt with all three
        while True:
            async with runner.sessionmaker() as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(Notice)
                    .where(
                        Notice.kind == NoticeKind.WRITTEN_LEFT,
                        Notice.chat_id == fedorov.id,
                        Notice.status.in_((NoticeStatus.PENDING, NoticeStatus.CLAIMED)),
                    )
                )
            if not waiting:
                break
            await asyncio.sleep(0.05)
    await api.idle(quiet=0.1)
    assert [c.params.get("text") for c in api.delivered(fedorov.id)[told:]] == []


async def test_appeal_opens_with_the_grade_and_closes_next_day(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """The table: an appeal only after the grade, until the end of the next day, naming a
    violation of the procedure; the dean's office decides, the teacher is told."""
    from bot.db.models import Statement

    runner = seeded
    dean = api.user(12301, language_code="ru")
    group = await deanery_chat(api, runner, dean, "Лечебный факультет", -100800)
    teacher = api.user(12302, language_code="ru")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    ivanova = api.user(12303, language_code="ru")
    await link_student(api, ivanova, "2611021", "Иванова")
    karimov = api.user(12304, language_code="en")
    await link_student(api, karimov, "2611022", "Каримов")
    latin = await exam_of(runner, "Латинский язык")
    ids = {s: await student_id(runner, s) for s in ("Иванова", "Каримов")}
    runner.at(LATIN_START + timedelta(minutes=5))

    roll = await open_roll(api, teacher, "Латинский язык")
    for surname in ("Иванова", "Каримов"):
        roll, _ = await tap(runner, api, teacher, roll, mark(latin.id, ids[surname], "present"))

    # Before the grade: no appeal button, and the student is told when it opens.
    menu = await say(api, karimov, "/statement")
    chosen = await press(api, karimov, menu, button(menu, "Латинский язык")["callback_data"])
    assert "once your grade is posted" in chosen["text"]
    assert "Appeal" not in str(chosen.get("reply_markup"))
    await say(api, karimov, "/cancel")

    # After answering, Иванова sends her preparation sheet: kept, and the teacher gets it.
    after = api.mark()
    api.send_photo(ivanova, b"prep-sheet")
    ack = await api.next_message(ivanova.id, after=after)
    assert "Принято" in ack["text"]
    forwarded = await api.next_message(teacher.id, after=after)
    assert "листы подготовки" in forwarded["text"]

    # Grades: 2 for Иванова, 4 for Каримов (posted at 08:35 on 23 December).
    for surname, grade in (("Иванова", "fail"), ("Каримов", "good")):
        await tap(runner, api, teacher, roll, grade_cb(latin.id, ids[surname], grade))
    await api.next_message(ivanova.id)  # the grade

    menu = await say(api, ivanova, "/statement")
    chosen = await press(api, ivanova, menu, button(menu, "Латинский язык")["callback_data"])
    assert "чт, 24 декабря, 23:59 МСК" in chosen["text"]
    question = await press(api, ivanova, chosen, button(chosen, "Апелляция")["callback_data"])
    assert "нарушени" in question["text"]
    # Disagreement alone, with no violation chosen, is no appeal: asked again, nothing kept.
    again = await say(api, ivanova, "Я не согласна с выставленной оценкой и прошу её пересмотреть")
    assert "нарушен" in again["text"] and button(again, "идентификац")
    prompt = await press(api, ivanova, again, button(again, "время на подготовку")["callback_data"])
    assert "время на подготовку" in prompt["text"]
    short = await say(api, ivanova, "Не согласна с оценкой")
    assert "не менее 30" in short["text"]
    violation = "Преподаватель не дал времени на подготовку ответа, сразу начал опрос."
    files = await say(api, ivanova, violation)
    preview = await press(api, ivanova, files, button(files, "Готово")["callback_data"])
    assert violation in preview["text"] and "время на подготовку" in preview["text"]
    after = api.mark()
    sent = await press(api, ivanova, preview, button(preview, "Отправить")["callback_data"])
    assert "№" in sent["text"]
    card = await api.next_message(group["id"], after=after)
    assert "Апелляция" in card["text"] or "апелляция" in card["text"]
    assert "неудовлетворительно" in card["text"] and violation in card["text"]
    assert "Нарушение процедуры: время на подготовку" in card["text"]
    sheets = await api.wait_for("sendPhoto", chat_id=group["id"], after=after)
    assert sheets.ok
    told = await api.next_message(teacher.id, after=after)
    assert "апелляц" in told["text"] and violation in told["text"]

    after = api.mark()
    decided = dean.click(card, button(card, "Удовлетворить")["callback_data"])
    await api.callback_answer(decided)
    outcome = await api.next_message(ivanova.id, after=after)
    assert "удовлетворена" in outcome["text"]
    async with runner.sessionmaker() as session:
        [appeal] = list(await session.scalars(select(Statement)))
    assert appeal.kind == "appeal" and appeal.status == "approved"
    assert appeal.violation == "preparation"
    assert appeal.decided_by == dean.id and appeal.student_id == ids["Иванова"]

    # Каримов waits too long: after 23:59 of the next day the window is closed, and said so.
    runner.at(datetime(2026, 12, 24, 21, 0, tzinfo=UTC))  # 00:00 on the 25th, Moscow
    menu = await say(api, karimov, "/statement")
    chosen = await press(api, karimov, menu, button(menu, "Латинский язык")["callback_data"])
    assert "closed" in chosen["text"] and "Thu 24 Dec" in chosen["text"]
    # A forged "appeal" press after the window changes nothing.
    forged = karimov.click(chosen, "st-kind:appeal")
    await api.callback_answer(forged)
    async with runner.sessionmaker() as session:
        assert len(list(await session.scalars(select(Statement)))) == 1


async def test_tickets_from_a_list_the_teacher_sends(api: FakeBotAPI, seeded: BotRunner) -> None:
    runner = seeded
    teacher = api.user(12401, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Закиров Ильдар Рустемович")
    sokolova = api.user(12402, language_code="en")
    await link_student(api, sokolova, "2611023", "Соколова")
    histology = await exam_of(runner, "Гистология")
    ids = {s: await student_id(runner, s) for s in ("Иванова", "Каримов", "Соколова")}
    runner.at(histology.starts_at)
    roll = await open_roll(api, teacher, "Гистология")
    # A computer test: the regulation gives no closing text, and the console offers none.
    after = api.mark()
    teacher.click(roll, cb(histology.id, "texts"))
    aloud = await api.next_message(teacher.id, after=after)
    assert "no closing text for a computer test" in aloud["text"]
    assert "прошли" not in aloud["text"] and "компьютерное тестирование" in aloud["text"]
    for surname in ("Иванова", "Соколова"):
        roll, _ = await tap(runner, api, teacher, roll, mark(histology.id, ids[surname], "present"))
    roll, _ = await tap(runner, api, teacher, roll, cb(histology.id, "tickets"))
    prompt = await press(api, teacher, roll, button(roll, "From a list")["callback_data"])
    assert "ticket number" in prompt["text"]

    mistakes = await say(api, teacher, "Соколова 4\nПетров 2\nИванова")
    assert "line 2: nobody of this group" in mistakes["text"]
    assert "line 3: no ticket number" in mistakes["text"]
    async with runner.sessionmaker() as session:
        exam = await session.get(Exam, histology.id)
        assert exam is not None and exam.tickets_handed_at is None  # nothing handed out

    # A number past any exam's tickets (a typo) is that line's mistake, not the whole
    # list refused with "does not fit" and thrown away.
    mistakes = await say(api, teacher, "Соколова 4\nИванова 7000")
    assert "line 2: the number is out of range" in mistakes["text"]

    done = await say(api, teacher, "Соколова — 4\n2611021: 7\nКаримов 9")
    assert (
        "Tickets handed out: 2" in done["text"] and "Not present, so not given: 1" in done["text"]
    )
    ticket = await api.next_message(sokolova.id)
    assert "№4" in ticket["text"]
    marks = await entries(runner, histology.id)
    assert (marks["Соколова"].ticket, marks["Иванова"].ticket, marks["Каримов"].ticket) == (
        4,
        7,
        None,
    )


async def test_a_console_button_from_before_the_update_redraws_the_console(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    """A console still in the chat when the typed buttons were deployed carries the old
    packed form `rl:<action>:<exam>:<student>:<page>:<value>`: a press on it does nothing
    but say so and draw the console again, with today's buttons, so a teacher mid-exam is
    never stuck; it is still refused on anyone else's exam."""
    runner = seeded
    teacher, stranger, _student, histology, sokolova = await histology_begins(api, runner, 12111)

    roll = await open_roll(api, teacher, "Гистология")
    assert any(b["callback_data"].startswith("rm:") for b in buttons(roll))
    # The old "present" on the roll: the card was not asked for, the roll comes back as it
    # is, and the mark is not set behind the teacher's back.
    old_mark = f"rl:mark:{histology.id}:{sokolova}:0:present"
    redrawn, alert = await tap(runner, api, teacher, roll, old_mark)
    assert "Бот обновлён" in alert and "нажмите кнопку ещё раз" in alert
    assert "Соколова" in redrawn["text"]
    assert all(not b["callback_data"].startswith("rl:mark") for b in buttons(redrawn))
    assert await mark_of(runner, histology.id, "Соколова") == "unmarked"

    # An old card's button draws the card again (with the new typed marks on it).
    old_card_mark = f"rl:cmark:{histology.id}:{sokolova}:0:present"
    card, alert = await tap(runner, api, teacher, redrawn, old_card_mark)
    assert "Бот обновлён" in alert
    assert card["text"] != redrawn["text"]
    card_marks = [b["callback_data"] for b in buttons(card) if b["callback_data"].startswith("rm:")]
    assert card_marks and all(RollMarkCB.unpack(d).card for d in card_marks)
    # From the card, the old "back to the roll" draws the roll again.
    back, alert = await tap(runner, api, teacher, card, f"rl:show:{histology.id}:0:0:")
    assert "Бот обновлён" in alert
    assert back["text"] == redrawn["text"]
    assert await mark_of(runner, histology.id, "Соколова") == "unmarked"

    # Someone else's exam is refused as before, whatever the button's age.
    reply = await say(api, stranger, "/help")
    _msg, alert = await tap(runner, api, stranger, reply, old_mark)
    assert "not one of your exams" in alert
