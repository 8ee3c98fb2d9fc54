"""DEFAULT_LOCALE=en: a client in neither Russian nor English is spoken to in it; and
/templates' three files, sent back to the bot as they are, import."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.db.models import Exam, Faculty, InviteRole, PlanItem, Student
from tests.e2e.conftest import BotRunner, join_by_invite, say, upload
from tests.e2e.fakeapi import FakeBotAPI


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"default_locale": "en"})


async def test_other_languages_get_the_default_locale(
    api: FakeBotAPI, bot_runner: BotRunner
) -> None:
    german = api.user(16001, language_code="de")
    assert "What I can do" in (await say(api, german, "/help"))["text"]
    russian = api.user(16002, language_code="ru")
    assert "Что я умею" in (await say(api, russian, "/help"))["text"]
    nobody = api.user(16003, language_code=None)
    assert "What I can do" in (await say(api, nobody, "/help"))["text"]


async def test_templates_import_as_they_are(api: FakeBotAPI, bot_runner: BotRunner) -> None:
    faculty = "Факультет «A & B» <1>"
    async with bot_runner.sessionmaker.begin() as session:
        session.add(Faculty(name=faculty))
    dean = api.user(16010, language_code="ru")
    await join_by_invite(api, bot_runner, dean, InviteRole.DEAN, faculty)
    after = api.mark()
    intro = await say(api, dean, "/templates")
    assert "Три шаблона" in intro["text"]
    sent = [await api.wait_for("sendDocument", dean.id, lambda c: c.ok, after)]
    for _ in range(2):
        sent.append(
            await api.wait_for(
                "sendDocument", dean.id, lambda c: c.ok, api.calls.index(sent[-1]) + 1
            )
        )
    files = [call.files["document"] for call in sent]
    assert [name for name, _content in files] == ["roster.xlsx", "schedule.xlsx", "plan.xlsx"]
    assert "Расписание" in str(sent[1].params.get("caption"))
    replies = [await upload(api, dean, name, content) for name, content in files]
    assert "Список студентов: импорт выполнен. Добавлено: 4" in replies[0]["text"]
    assert "Расписание: импорт выполнен. Добавлено: 4" in replies[1]["text"]
    assert "Добавлено: 2" in replies[2]["text"]
    await bot_runner.settle()
    async with bot_runner.sessionmaker() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (Student, Exam, PlanItem)
        ]
        credits = await session.scalar(select(func.count()).where(Exam.pass_fail.is_(True)))
    assert counts == [4, 4, 2]
    assert credits == 1  # the template shows a credit (зачёт) too
