""" "The rest absent" marks those whose own start has come: in a split group, the later
subgroup's students are not absent before their sitting begins."""

from __future__ import annotations

from datetime import timedelta

from bot.db.models import InviteRole
from tests.e2e.conftest import BotRunner, join_by_invite
from tests.e2e.fakeapi import FakeBotAPI, button
from tests.e2e.test_roll import LATIN_START, cb, entries, exam_of, open_roll, tap


async def test_the_rest_absent_spares_a_later_subgroup(api: FakeBotAPI, seeded: BotRunner) -> None:
    runner = seeded
    teacher = api.user(12501, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    latin = await exam_of(runner, "Латинский язык")
    roll = await open_roll(api, teacher, "Латинский язык")
    roll, _ = await tap(runner, api, teacher, roll, cb(latin.id, "split"))
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "2")["callback_data"])
    roll, _ = await tap(runner, api, teacher, roll, button(roll, "60")["callback_data"])
    assert "Subgroups: 1 — 08:30, 2 — 09:30" in roll["text"]

    runner.at(LATIN_START + timedelta(minutes=20))  # the first sitting only
    roll, _ = await tap(runner, api, teacher, roll, cb(latin.id, "rest"))
    marks = {name: e.mark for name, e in (await entries(runner, latin.id)).items()}
    assert marks == {"Иванова": "absent", "Каримов": "absent", "Соколова": "unmarked"}

    runner.at(LATIN_START + timedelta(minutes=80))  # the second has begun
    roll, _ = await tap(runner, api, teacher, roll, cb(latin.id, "rest"))
    marks = {name: e.mark for name, e in (await entries(runner, latin.id)).items()}
    assert marks == {"Иванова": "absent", "Каримов": "absent", "Соколова": "absent"}
