"""Admins and deans send roster and schedule files to the bot; everyone else is refused."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.db.models import Exam, InviteRole, Student
from tests.e2e.conftest import ADMIN_ID, SAMPLES, BotRunner, invite_token, link_student, say, upload
from tests.e2e.fakeapi import FakeBotAPI


async def count(runner: BotRunner, model: type[Student] | type[Exam]) -> int:
    await runner.settle()
    async with runner.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


async def test_admin_imports_roster_and_schedule(api: FakeBotAPI, bot_runner: BotRunner) -> None:
    admin = api.user(ADMIN_ID, language_code="en")
    reply = await upload(api, admin, "roster.xlsx", sample("roster.xlsx"))
    assert "Roster imported: 10 added, 0 updated, 0 unchanged" in reply["text"]
    reply = await upload(api, admin, "roster.csv", sample("roster.csv"))
    assert "0 added, 0 updated, 10 unchanged" in reply["text"]
    reply = await upload(api, admin, "schedule.csv", sample("schedule.csv"))
    assert "Schedule imported: 6 added" in reply["text"]
    assert await count(bot_runner, Student) == 10
    assert await count(bot_runner, Exam) == 6


async def test_bad_files_are_refused_and_change_nothing(
    api: FakeBotAPI, bot_runner: BotRunner, tmp_path: Path
) -> None:
    admin = api.user(ADMIN_ID, language_code="en")
    reply = await upload(api, admin, "notes.txt", b"hello")
    assert "only CSV" in reply["text"]
    reply = await upload(api, admin, "roster.csv", b"")
    assert "empty" in reply["text"]
    reply = await upload(api, admin, "roster.xlsx", b"PK\x03\x04 definitely not a workbook")
    assert "could not read" in reply["text"]
    reply = await upload(api, admin, "roster.csv", sample("roster.csv"), file_size=6 * 1024 * 1024)
    assert "too large" in reply["text"]
    reply = await upload(api, admin, "roster.csv", "faculty,group\nЛечебный,1101\n".encode())
    assert "matches none of the templates" in reply["text"]
    reply = await upload(api, admin, "roster.csv", "ФИО,Группа,Факультет\nА,1,Б\n".encode())
    assert "missing columns: Номер зачётной книжки" in reply["text"]
    bad_rows = (
        "faculty,group,full_name,record_book\n"
        "Лечебный факультет,1101,Иванов Иван Иванович,100\n"
        "Лечебный факультет,1101,,101\n"
        "Лечебный факультет,1101,Петров Пётр Петрович,100\n"
    ).encode()
    reply = await upload(api, admin, "roster.csv", bad_rows)
    assert "nothing was changed" in reply["text"]
    assert "Row 3" in reply["text"] and "Row 4" in reply["text"]
    assert "row 2" in reply["text"]  # the duplicate points at the first occurrence
    assert await count(bot_runner, Student) == 0


async def test_students_and_strangers_cannot_import(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(7001, language_code="en")
    await link_student(api, student, "2611001", "Абдуллина")
    reply = await upload(api, student, "roster.csv", sample("roster.csv"))
    assert "only from the dean's office" in reply["text"]
    stranger = api.user(7002, language_code="ru")
    reply = await upload(api, stranger, "roster.csv", sample("roster.csv"))
    assert "деканат" in reply["text"]
    assert await count(seeded, Student) == 10


async def test_dean_imports_only_own_faculty(api: FakeBotAPI, seeded: BotRunner) -> None:
    token = await invite_token(seeded, InviteRole.DEAN, "Педиатрический факультет")
    dean = api.user(7003, language_code="en")
    reply = await say(api, dean, f"/start {token}")
    assert "dean's office" in reply["text"]
    reply = await upload(api, dean, "roster.csv", sample("roster.csv"))
    assert "is not yours" in reply["text"]
    own = (
        "Факультет,Группа,ФИО,Номер зачетной книжки\n"
        "Педиатрический факультет,2101,Юсупова Камила Ильшатовна,2621004\n"
    ).encode()
    reply = await upload(api, dean, "new.csv", own)
    assert "1 added" in reply["text"]
    assert await count(seeded, Student) == 11
