"""Individual study plans end to end: the dean's office sends the plan file, a bad one is
refused with its rows, the student sees /plan and is reminded before the deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from bot.db.models import InviteRole, Notice, NoticeStatus, PlanItem, Student
from bot.domain.reminders import NoticeKind
from tests.e2e.conftest import (
    ADMIN_ID,
    SAMPLES,
    BotRunner,
    join_by_invite,
    link_student,
    say,
    upload,
)
from tests.e2e.fakeapi import FakeBotAPI

HEADER = (
    "record_book,discipline,department,ects,lecture_hours,lab_hours,practice_hours,"
    "distance_hours,place_time,deadline,teacher"
)
# Анатомия of Белов (2611002) is due on 20 December 2026: the 7-day reminder goes out on
# 13 December at 09:00 Moscow time.
WEEK_BEFORE = datetime(2026, 12, 13, 6, 0, tzinfo=UTC)


def plan_file(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


async def plan_rows(runner: BotRunner) -> list[tuple[str, str, date]]:
    await runner.settle()
    async with runner.sessionmaker() as session:
        rows = await session.execute(
            select(Student.record_book, PlanItem.discipline, PlanItem.deadline)
            .join(Student, Student.id == PlanItem.student_id)
            .order_by(PlanItem.deadline)
        )
        return [(book, discipline, deadline) for book, discipline, deadline in rows]


async def test_plan_imported_shown_and_reminded(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(12001, language_code="en")
    await link_student(api, student, "2611002", "Белов")
    reply = await say(api, student, "/plan")
    assert "no individual study plan" in reply["text"]
    stranger = api.user(12002, language_code="en")
    reply = await say(api, stranger, "/plan")
    assert "This command is for students" in reply["text"]

    admin = api.user(ADMIN_ID, language_code="en")
    bad = plan_file(
        "2611002,Анатомия,,4,36,0,54,40,,2026-12-20,",
        "2611002,Латинский язык,,2,0,0,36,24,,15/01/2027,",
        "2611021,Гистология,,3,-18,36,0,30,,2026-12-22,",
        "7777777,Гистология,,3,18,36,0,30,,2026-12-22,",
    )
    reply = await upload(api, admin, "plan.csv", bad)
    text = reply["text"]
    assert "Individual study plans not imported: nothing was changed" in text
    assert "Row 3: column «deadline»: “15/01/2027” is not a date" in text
    assert "Row 4: column «lecture_hours»: “-18” is not a number of hours" in text
    assert "Row 5: record book 7777777 is not on the roster" in text
    assert await plan_rows(seeded) == []

    reply = await upload(api, admin, "plan.csv", (SAMPLES / "plan.csv").read_bytes())
    assert "Individual study plans imported: 4 added, 0 updated, 0 unchanged" in reply["text"]
    assert "Too many distance-learning hours" not in reply["text"]
    assert "Students not yet in the bot" in reply["text"]  # Иванова and Фёдоров
    rows = await plan_rows(seeded)
    assert rows[0] == ("2611002", "Анатомия", date(2026, 12, 20))
    assert len(rows) == 4
    reply = await upload(api, admin, "plan.csv", (SAMPLES / "plan.csv").read_bytes())
    assert "0 added, 0 updated, 4 unchanged" in reply["text"]

    reply = await say(api, student, "/plan")
    text = reply["text"]
    assert "Your individual study plan" in text
    assert text.index("Анатомия") < text.index("Латинский язык")  # nearest deadline first
    assert "Department: Кафедра анатомии человека" in text
    assert "Credits: 4 ECTS" in text
    assert "Hours: lectures 36, labs 0, practice 54" in text
    assert "Of them with distance technologies: 40" in text
    assert "Place and time: Moodle, курс «Анатомия»" in text
    assert "Deadline: Sun 20 Dec 2026" in text
    assert "Teacher: Смирнова Елена Викторовна" in text
    assert "Гистология" not in text  # Иванова's, not his

    # Nothing before the week is up; then the reminder, once.
    seeded.at(datetime(2026, 12, 13, 5, 59, tzinfo=UTC))
    await api.idle(quiet=0.3)
    assert "Deadline reminder" not in api.messages(student.id)[-1].get("text", "")
    after = api.mark()
    seeded.at(WEEK_BEFORE)
    reminder = await api.next_message(student.id, after=after)
    assert "Deadline reminder" in reminder["text"]
    assert "Анатомия" in reminder["text"] and "Sun 20 Dec 2026" in reminder["text"]
    assert "/plan" in reminder["text"]
    await seeded.outbox_settled()
    async with seeded.sessionmaker() as session:
        sent = await session.scalars(
            select(Notice.key).where(
                Notice.kind == NoticeKind.PLAN_DEADLINE, Notice.status == NoticeStatus.SENT
            )
        )
        assert [key.rsplit(":", 2)[1:] for key in sent] == [["20261220", "7"]]


async def test_dean_imports_plans_of_own_faculty_with_a_warning(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    dean = api.user(12003, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Педиатрический факультет")
    reply = await upload(api, dean, "plan.csv", (SAMPLES / "plan.csv").read_bytes())
    assert "not imported" in reply["text"]
    assert "Row 2: record book 2611002 belongs to a student of another faculty" in reply["text"]
    assert await plan_rows(seeded) == []

    mine = plan_file(
        "2621001,Нормальная физиология,Кафедра нормальной физиологии,5,36,18,36,80,,"
        "2027-01-25,Галимов Рамиль Фаридович"
    )
    reply = await upload(api, dean, "plan.csv", mine)
    assert "1 added" in reply["text"]
    # 80 of 90 hours remote: over the 70 % a master's plan may hold, imported all the same.
    assert "Too many distance-learning hours" in reply["text"]
    assert "Фёдоров Никита Павлович (2621001): 80 of 90 h, 88.9% (allowed 70%)" in reply["text"]
    assert await plan_rows(seeded) == [("2621001", "Нормальная физиология", date(2027, 1, 25))]
