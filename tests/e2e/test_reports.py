"""/reports: a dean gets their faculty's reports (an admin every faculty's) as XLSX and CSV,
read back here with openpyxl."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlalchemy import select

from bot.db.models import Discipline, Exam, RollEntry, Statement, Student
from tests.e2e.conftest import ADMIN_ID, BotRunner, deanery_chat, press, say
from tests.e2e.fakeapi import Call, FakeBotAPI, FakeUser, button

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# The students seed_roll marks or grades.
ALL_SEEDED = (
    "Иванова Мария Олеговна",
    "Каримов Булат Айратович",
    "Соколова Анна Дмитриевна",
    "Фёдоров Никита Павлович",
)


async def seed_roll(runner: BotRunner) -> None:
    """Marks and grades as a finished session would leave them."""
    async with runner.sessionmaker.begin() as session:

        async def exam(name: str) -> Exam:
            found = await session.scalar(
                select(Exam).join(Discipline).where(Discipline.name == name, Exam.kind == "exam")
            )
            assert found is not None
            return found

        async def student(surname: str) -> Student:
            found = await session.scalar(
                select(Student).where(Student.full_name.startswith(surname))
            )
            assert found is not None
            return found

        latin = await exam("Латинский язык")
        physiology = await exam("Нормальная физиология")
        rows = [
            (latin, "Иванова", "present", "fail"),
            (latin, "Каримов", "failure", None),
            (latin, "Соколова", "excused", None),
            (physiology, "Фёдоров", "excused", None),
        ]
        for which, surname, mark, grade in rows:
            who = await student(surname)
            session.add(
                RollEntry(
                    exam_id=which.id,
                    student_id=who.id,
                    mark=mark,
                    grade=grade,
                    grade_posted_at=NOW if grade else None,
                )
            )
        session.add(
            Statement(
                student_id=(await student("Соколова")).id,
                exam_id=latin.id,
                kind="absence",
                status="approved",
                reason="illness",
                text="грипп",
                submitted_at=NOW,
            )
        )


async def fetch_report(api: FakeBotAPI, user: FakeUser, title: str) -> tuple[Call, Call]:
    menu = await say(api, user, "/reports")
    after = api.mark()
    await press(api, user, menu, button(menu, title)["callback_data"])
    xlsx = await api.wait_for("sendDocument", chat_id=user.id, after=after)
    csv_file = await api.wait_for("sendDocument", chat_id=user.id, after=api.calls.index(xlsx) + 1)
    return xlsx, csv_file


def sheet_rows(call: Call) -> list[list[object]]:
    book = load_workbook(io.BytesIO(call.files["document"][1]))
    ws = book.active
    assert ws is not None
    return [list(row) for row in ws.iter_rows(values_only=True)]


def chart_data(call: Call, sheet: str) -> list[list[object]]:
    """The rows of the chart's sheet; fails unless it holds a bar chart over them."""
    book = load_workbook(io.BytesIO(call.files["document"][1]))
    assert sheet in book.sheetnames, book.sheetnames
    ws = book[sheet]
    # openpyxl reads charts back since 2.5: the drawing is really in the file (the stubs
    # omit the private list it reads them into).
    [chart] = ws._charts  # type: ignore[attr-defined]
    assert chart.tagname == "barChart"
    return [list(row) for row in ws.iter_rows(values_only=True)]


async def test_dean_and_admin_reports(api: FakeBotAPI, seeded: BotRunner) -> None:
    await seed_roll(seeded)
    dean = api.user(13001, language_code="ru")
    await deanery_chat(api, seeded, dean, "Лечебный факультет", -100950)

    xlsx, csv_call = await fetch_report(api, dean, "Дополнительная сессия")
    assert xlsx.files["document"][0].endswith(".xlsx")
    rows = sheet_rows(xlsx)
    assert rows[0][0] == "Дополнительная сессия: кому пересдавать"
    table = [r for r in rows if isinstance(r[0], int)]
    people = {r[5]: r[7] for r in table}
    # The regulation's additional session: absent for a valid reason or hit by a technical
    # failure (PRODUCT §3, §5). Иванова sat the exam and failed it: not on this list.
    assert people == {
        "Каримов Булат Айратович": "неявка по уважительной причине (технический сбой)",
        "Соколова Анна Дмитриевна": "неявка по уважительной причине",
    }  # Фёдоров is of another faculty
    assert all(r[4] == "23.12.2026" for r in table)
    # The count per discipline: under the table, and as a chart on a sheet of its own.
    assert [r[0] for r in rows if isinstance(r[0], str) and r[0].startswith("Латинский")] == [
        "Латинский язык: 2 студента"
    ]
    assert chart_data(xlsx, "По дисциплинам") == [
        ["Дисциплина", "Студенты"],
        ["Латинский язык", 2],
    ]
    parsed = list(
        csv.reader(io.StringIO(csv_call.files["document"][1].decode("utf-8-sig")), delimiter=";")
    )
    assert len(parsed) == 3 and parsed[0][0] == "№"
    # /additional lists the very same people: one predicate for both.
    listed = await say(api, dean, "/additional")
    assert "Дополнительная сессия: 2" in listed["text"], listed["text"]
    shown = {name for name in ALL_SEEDED if name in listed["text"]}
    assert shown == set(people)

    xlsx, _csv = await fetch_report(api, dean, "Явка и оценки")
    table = [r for r in sheet_rows(xlsx) if isinstance(r[0], int)]
    [latin] = [r for r in table if r[3] == "Латинский язык"]
    assert latin[5:10] == [3, 1, 2, 0, 0]  # on the roll, present, valid reason, absent, unmarked
    # The chart sheet: one stacked bar an exam, with the numbers beside it.
    data = chart_data(xlsx, "Диаграмма")
    assert data[0] == ["Группа — экзамен", "Присутствовали", *data[0][2:]]
    [latin_bar] = [r for r in data[1:] if "Латинский язык" in str(r[0])]
    assert latin_bar == ["1102 — Латинский язык, 23.12.2026", 1, 2, 0, 0]
    assert len(data) == len(table) + 1

    xlsx, _csv = await fetch_report(api, dean, "Заявления по экзаменам")
    [row] = [r for r in sheet_rows(xlsx) if isinstance(r[0], int)]
    assert row[3] == "Латинский язык" and row[5] == "отсутствие" and row[7] == 1

    # The admin sees every faculty; a student sees no reports at all.
    admin = api.user(ADMIN_ID, language_code="en")
    xlsx, _csv = await fetch_report(api, admin, "Additional session")
    names = {r[5] for r in sheet_rows(xlsx) if isinstance(r[0], int)}
    assert names == {
        "Каримов Булат Айратович",
        "Соколова Анна Дмитриевна",
        "Фёдоров Никита Павлович",
    }
    stranger = api.user(13002, language_code="en")
    reply = await say(api, stranger, "/reports")
    assert "dean's office and administrators" in reply["text"]
