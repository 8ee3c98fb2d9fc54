"""A credit (зачёт) imported as such is graded зачтено / не зачтено: the teacher is offered
those two and no other, and the student is told the grade in the record book's words."""

from __future__ import annotations

from datetime import timedelta

from bot.db.models import InviteRole
from tests.e2e.conftest import ADMIN_ID, BotRunner, join_by_invite, link_student, upload
from tests.e2e.fakeapi import FakeBotAPI, buttons
from tests.e2e.test_roll import (
    LATIN_START,
    cb,
    entries,
    exam_of,
    grade_cb,
    mark,
    open_roll,
    student_id,
    tap,
)

CREDIT = (
    "Факультет,Группа,Дисциплина,Вид,Форма,Дата,Время начала,Длительность,Преподаватель\n"
    "Лечебный факультет,1102,Латинский язык,Зачёт,устно,23.12.2026,08:30,180,"
    "Николаева Ольга Петровна\n"
).encode()


async def test_a_credit_is_graded_passed_or_not_passed(api: FakeBotAPI, seeded: BotRunner) -> None:
    runner = seeded
    admin = api.user(ADMIN_ID, language_code="ru")
    reply = await upload(api, admin, "schedule.csv", CREDIT)
    assert "обновлено: 1" in reply["text"]
    latin = await exam_of(runner, "Латинский язык")
    assert latin.pass_fail and latin.kind == "exam"
    teacher = api.user(12401, language_code="ru")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    ivanova = api.user(12402, language_code="ru")
    await link_student(api, ivanova, "2611021", "Иванова")
    ivanova_id = await student_id(runner, "Иванова")
    runner.at(LATIN_START + timedelta(minutes=2))

    roll = await open_roll(api, teacher, "Латинский язык — зачёт")
    roll, _ = await tap(runner, api, teacher, roll, mark(latin.id, ivanova_id, "present"))
    card, _ = await tap(runner, api, teacher, roll, cb(latin.id, "card", ivanova_id))
    offered = [b for b in buttons(card) if str(b.get("callback_data", "")).startswith("rg:")]
    assert "зачтено" in offered[0]["text"] and "не зачтено" not in offered[0]["text"]
    assert "не зачтено" in offered[1]["text"]
    assert [b["callback_data"] for b in offered] == [
        grade_cb(latin.id, ivanova_id, "passed"),
        grade_cb(latin.id, ivanova_id, "not_passed"),
    ]
    # An exam's grade, forged, is refused and records nothing.
    _card, alert = await tap(
        runner, api, teacher, card, grade_cb(latin.id, ivanova_id, "excellent")
    )
    assert alert
    assert (await entries(runner, latin.id))["Иванова"].grade is None

    after = api.mark()
    await tap(runner, api, teacher, card, offered[0]["callback_data"])
    told = await api.next_message(ivanova.id, after=after)
    assert "зачтено" in told["text"] and "Латинский язык" in told["text"]
    assert (await entries(runner, latin.id))["Иванова"].grade == "passed"
