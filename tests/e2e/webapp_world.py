"""A world for the Mini App's tests: two faculties, the victims' group of 40 with an exam
today, a statement with two photos, and the people who call the API — each with initData
signed as Telegram signs it (tests/webapp_auth.py).

Names carry & < > " ' (the API returns them as data, the chat escapes them). Rows are
written directly (the chat's own linking is tested elsewhere); the bot itself runs on the
strict fake Bot API, so what the API queues reaches chat as in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.config import Settings
from bot.db.models import (
    DeanMember,
    Exam,
    Faculty,
    Group,
    Statement,
    StatementFile,
    Student,
    Teacher,
    User,
)
from bot.domain.statements import StatementKind, StatementStatus
from bot.services.imports import import_roster, import_schedule
from tests.e2e.conftest import (
    ADMIN_ID,
    FAST_CHAT_INTERVAL,
    FAST_PACE,
    TOKEN,
    BotRunner,
    MovableClock,
)
from tests.e2e.fakeapi import FakeBotAPI
from tests.e2e.hostile import ROSTER_HEADER, SCHEDULE_HEADER, table
from tests.webapp_auth import forge, sign_init_data

# 11:30 in Moscow: the victims' exam (10:00 Moscow) is running, today.
NOW = datetime(2026, 12, 22, 8, 30, tzinfo=UTC)
DAY = "2026-12-22"
WEBAPP_URL = "https://desk.example.org/app/"

FACULTY = "Лечебный & <факультет>"
OTHER_FACULTY = 'Педиатрический "факультет"'
GROUP = "Г-1 <&> 'а'"
OTHER_GROUP = "2101"
DISCIPLINE = "Латынь & <грамматика>"
OTHER_DISCIPLINE = "Анатомия"
TEACHER = "Николаева Ольга 'Петровна'"
OTHER_TEACHER = "Смирнова Елена Викторовна"
SURNAMES = [
    "Абрамов",
    "Аверин",
    "Агеев",
    "Акимов",
    "Александров",
    "Алексеев",
    "Андреев",
    "Анисимов",
    "Антонов",
    "Артемьев",
    "Архипов",
    "Афанасьев",
    "Баранов",
    "Белов",
    "Белозёров",
    "Белоусов",
    "Беляев",
    "Бирюков",
    "Блинов",
    "Блохин",
    "Бобров",
    "Богданов",
    "Большаков",
    "Борисов",
    "Бородин",
    "Быков",
    "Васильев",
    "Виноградов",
    "Власов",
    "Волков",
    "Воробьёв",
    "Воронов",
    "Гаврилов",
    "Герасимов",
    "Голубев",
    "Горбунов",
    "Григорьев",
    "Гусев",
    "Давыдов",
    "Дмитриев",
]
VICTIM_BOOK = "26110&01"
PHOTO = b"\xff\xd8\xff\xe0 a photo of a certificate"
PDF = b"%PDF-1.4 a scan"

# Who calls the API; the victims' teacher, dean and student are the controls.
IDS = {
    "teacher": 51_001,  # the victims' teacher (the control)
    "dean": 51_002,  # the victims' faculty's dean's office (the control)
    "victim": 51_003,  # the student whose statement it is
    "other_teacher": 52_001,  # a teacher of another exam
    "other_dean": 52_002,  # a dean of another faculty
    "student": 52_003,  # a student of another group
    "stranger": 52_004,  # never wrote to the bot
    "admin": ADMIN_ID,
}


def webapp_settings(api: FakeBotAPI, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "telegram_api_url": api.base_url,
        "database_url": f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
        "admin_ids": frozenset({ADMIN_ID}),
        "polling_timeout": 1,
        "files_dir": tmp / "files",
        "journal_dir": tmp / "journal",
        "flood_limit": 0,
        "edit_interval": 0,
        "chat_interval": FAST_CHAT_INTERVAL,  # with FAST_PACE (tests/e2e/conftest.py)
        "webapp_url": WEBAPP_URL,
        "webapp_host": "127.0.0.1",
        "webapp_port": 0,
        "_env_file": None,
        **overrides,
    }
    return Settings(**values)


@dataclass
class Web:
    """The world and an HTTP client of the running Mini App server."""

    runner: BotRunner
    api: FakeBotAPI
    http: aiohttp.ClientSession
    base: str
    ids: dict[str, int] = field(default_factory=dict)

    def init_data(self, who: str, *, age: timedelta = timedelta(minutes=1)) -> str:
        return sign_init_data(
            TOKEN, IDS[who], auth_date=self.runner.clock.now() - age, language_code="en"
        )

    def headers(self, who: str, how: str = "good") -> dict[str, str]:
        if how == "missing":
            return {}
        if how == "stale":
            return {"Authorization": f"tma {self.init_data(who, age=timedelta(hours=2))}"}
        data = self.init_data(who)
        return {"Authorization": f"tma {forge(data) if how == 'forged' else data}"}

    async def call(
        self, method: str, path: str, who: str, how: str = "good", **kwargs: Any
    ) -> tuple[int, Any]:
        async with self.http.request(
            method, f"{self.base}{path}", headers=self.headers(who, how), **kwargs
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.read()


def roster() -> bytes:
    rows = [
        (FACULTY, GROUP, f"{surname} Иван 'Ю' <{n}>", VICTIM_BOOK if n == 0 else f"2611{n:03d}")
        for n, surname in enumerate(SURNAMES)
    ]
    rows += [
        (OTHER_FACULTY, OTHER_GROUP, f"{surname} Пётр", f"2621{n:03d}")
        for n, surname in enumerate(SURNAMES[:5])
    ]
    return table(ROSTER_HEADER, rows)


EXAM_DAY = ("exam", "oral", DAY, "10:00", "180")


def schedule() -> bytes:
    return table(
        SCHEDULE_HEADER,
        [
            (FACULTY, GROUP, DISCIPLINE, *EXAM_DAY, TEACHER, "", ""),
            (OTHER_FACULTY, OTHER_GROUP, OTHER_DISCIPLINE, *EXAM_DAY, OTHER_TEACHER, "", ""),
        ],
    )


async def build(runner: BotRunner, api: FakeBotAPI) -> dict[str, int]:
    """The rows of the world; returns the ids the tests aim at."""
    settings = runner.settings
    photos = [api.register_file(PHOTO, "photo.jpg", folder="photos") for _ in range(2)]
    async with runner.sessionmaker.begin() as session:
        assert (await import_roster(session, "roster.csv", roster())).ok
        assert (await import_schedule(session, "schedule.csv", schedule(), tz=settings.tz)).ok
        for who, user_id in IDS.items():
            if who != "stranger":
                session.add(User(id=user_id, first_name=who, locale="en", is_active=True))
        await session.flush()

        async def one(query: Any) -> Any:
            found = await session.scalar(query)
            assert found is not None
            return found

        (await one(select(Teacher).where(Teacher.full_name == TEACHER))).user_id = IDS["teacher"]
        other = await one(select(Teacher).where(Teacher.full_name == OTHER_TEACHER))
        other.user_id = IDS["other_teacher"]
        faculty = await one(select(Faculty.id).where(Faculty.name == FACULTY))
        other_faculty = await one(select(Faculty.id).where(Faculty.name == OTHER_FACULTY))
        session.add(DeanMember(user_id=IDS["dean"], faculty_id=faculty))
        session.add(DeanMember(user_id=IDS["other_dean"], faculty_id=other_faculty))
        victim = await one(select(Student).where(Student.record_book == VICTIM_BOOK))
        victim.user_id = IDS["victim"]
        hostile = await one(select(Student).where(Student.record_book == "2621000"))
        hostile.user_id = IDS["student"]
        exam = await one(select(Exam.id).join(Group).where(Group.name == GROUP))
        group = await one(select(Group.id).where(Group.name == GROUP))
        other_exam = await one(select(Exam.id).join(Group).where(Group.name == OTHER_GROUP))
        statement = Statement(
            student_id=victim.id,
            exam_id=exam,
            kind=StatementKind.ABSENCE.value,
            status=StatementStatus.SUBMITTED.value,
            reason="illness",
            text='ОРВИ & <температура> "38,5"',
            submitted_at=NOW - timedelta(hours=1),
        )
        statement.files = [
            StatementFile(
                kind="photo",
                file_id=p.file_id,
                file_unique_id=p.unique_id,
                added_at=NOW - timedelta(hours=1),
            )
            for p in photos
        ]
        session.add(statement)
        await session.flush()
        return {
            "exam": exam,
            "other_exam": other_exam,
            "statement": statement.id,
            "file": statement.files[0].id,
            "victim": victim.id,
            "hostile_student": hostile.id,
            "faculty": faculty,
            "group": group,
        }


@asynccontextmanager
async def running_web(tmp: Path) -> AsyncIterator[Web]:
    """The bot on the fake Bot API with its Mini App server, the world built, a client."""
    async with FakeBotAPI(token=TOKEN, bot_username="examinator_test_bot", pace=FAST_PACE) as api:
        runner = BotRunner(api, webapp_settings(api, tmp), MovableClock(NOW))
        app = await runner.start()
        try:
            async with asyncio.timeout(10):  # the server starts with the dispatcher
                while app.webapp_server is None or app.webapp_server.port is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            base = f"http://127.0.0.1:{app.webapp_server.port}"
            async with aiohttp.ClientSession() as http:
                yield Web(runner, api, http, base, await build(runner, api))
        finally:
            await runner.stop()
