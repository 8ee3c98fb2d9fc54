"""The Mini App's API end to end: the bot runs on the strict fake Bot API with its own web
server (WEBAPP_URL set, polling mode), and the tests call it over HTTP with initData
signed as Telegram signs it. What the API does must reach chat as the buttons' do."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import build_application
from bot.db.models import DeaneryChat, Exam, Notice, RollEntry, Statement, Student
from bot.services.outbox import Outbox
from bot.services.statements import announce_statement
from tests.e2e.conftest import FAST_PACE, TOKEN, MovableClock, press
from tests.e2e.fakeapi import FakeBotAPI, button
from tests.e2e.webapp_world import (
    DISCIPLINE,
    GROUP,
    IDS,
    NOW,
    PHOTO,
    SURNAMES,
    VICTIM_BOOK,
    WEBAPP_URL,
    Web,
    running_web,
    webapp_settings,
)
from tests.webapp_auth import sign_init_data

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async with running_web(tmp_path) as world:
        yield world


async def test_static_page_and_who_is_this(web: Web) -> None:
    status, me = await web.call("GET", "/app/api/me", "dean")
    assert status == 200
    assert me["user_id"] == IDS["dean"] and me["roles"] == ["dean"] and me["lang"] == "en"
    assert me["i18n"]["approve"] == "✅ Approve" and len(me["i18n"]) > 50
    _status, teacher = await web.call("GET", "/app/api/me", "teacher")
    assert teacher["roles"] == ["teacher"] and teacher["name"] == "Николаева Ольга 'Петровна'"
    _status, admin = await web.call("GET", "/app/api/me", "admin")
    assert admin["roles"] == ["admin"]
    _status, stranger = await web.call("GET", "/app/api/me", "stranger")
    assert stranger["roles"] == []
    for how in ("forged", "stale", "missing"):
        status, body = await web.call("GET", "/app/api/me", "dean", how)
        assert status == 401 and body["error"]
    # The menu button: the staff's private chats open the Mini App.
    buttons = [
        c
        for c in web.api.calls
        if c.method == "setChatMenuButton" and c.params.get("chat_id") is not None
    ]
    assert all("desk.example.org" in str(c.params) for c in buttons)


async def test_dean_finds_a_statement_and_rejects_it_the_student_is_told(web: Web) -> None:
    found = "/app/api/statements?q=Абрамов&kind=absence&status=submitted&date=2026-12-22"
    status, page = await web.call("GET", found, "dean")
    assert status == 200 and page["total"] == 1, page
    item = page["items"][0]
    assert item["student"] == {
        "name": "Абрамов Иван 'Ю' <0>",
        "record_book": VICTIM_BOOK,
        "group": GROUP,
    }
    assert item["exam"]["discipline"] == DISCIPLINE and item["kind_label"] == "absence"
    # By record book, and filters that leave it out.
    _s, by_book = await web.call("GET", "/app/api/statements?q=26110%2601", "dean")
    assert [i["id"] for i in by_book["items"]] == [item["id"]]
    for miss in ("kind=appeal", "status=approved", "date=2026-12-21", "q=Белов", "group=2101"):
        _s, none = await web.call("GET", f"/app/api/statements?{miss}", "dean")
        assert none["total"] == 0, miss
    status, bad = await web.call("GET", "/app/api/statements?date=22.12.2026", "dean")
    assert status == 400 and bad["error"]

    status, detail = await web.call("GET", f"/app/api/statements/{item['id']}", "dean")
    assert status == 200 and detail["text"] == 'ОРВИ & <температура> "38,5"'
    assert detail["actions"] == ["approve", "reject", "more"]
    assert [d["kind"] for d in detail["documents"]] == ["photo", "photo"]
    # A photo not kept yet comes from Telegram (getFile), and is served as what it is.
    async with web.http.get(
        f"{web.base}{detail['documents'][0]['url']}", headers=web.headers("dean")
    ) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        assert await response.read() == PHOTO
    # Once kept in FILES_DIR, it is served from there: Telegram is not asked again.
    assert web.runner.app is not None and web.runner.app.keeper is not None
    assert await web.runner.app.keeper.run_once() == 2
    asked = web.api.mark()
    status, kept = await web.call("GET", detail["documents"][1]["url"], "dean")
    assert status == 200 and kept == PHOTO
    assert [c.method for c in web.api.calls[asked:] if c.method == "getFile"] == []

    # Rejecting needs a reason; without one nothing changes.
    url = f"/app/api/statements/{item['id']}/decision"
    status, refused = await web.call("POST", url, "dean", json={"action": "reject", "reason": " "})
    assert status == 400 and refused["error"] == "Write the reason first."
    after = web.api.mark()
    reason = "Справка не заверена & <подпись>"
    status, decided = await web.call(
        "POST", url, "dean", json={"action": "reject", "reason": reason}
    )
    assert status == 200 and decided["status"] == "rejected" and decided["actions"] == []
    told = await web.api.wait_for("sendMessage", chat_id=IDS["victim"], after=after, timeout=10)
    assert "Справка не заверена &amp; &lt;подпись&gt;" in told.params["text"]
    async with web.runner.sessionmaker() as session:
        statement = await session.get(Statement, item["id"])
        assert statement is not None and statement.status == "rejected"
        assert statement.decision_comment == reason
    # Twice: refused, still rejected.
    status, again = await web.call("POST", url, "dean", json={"action": "approve"})
    assert status == 409 and again["error"]


async def test_teacher_marks_forty_in_the_app_and_the_chat_roll_shows_them(web: Web) -> None:
    api, teacher = web.api, web.api.user(IDS["teacher"], language_code="en")
    status, today = await web.call("GET", "/app/api/exams/today", "teacher")
    assert status == 200 and [e["id"] for e in today["items"]] == [web.ids["exam"]]
    assert today["items"][0]["status"] == "running"

    # The console in chat, as the teacher opens it (/exams → 📋 Roll call).
    after = api.mark()
    teacher.send("/exams")
    while True:
        card = await api.next_message(teacher.id, after=after)
        after = api.mark()
        if "📋" in str(card.get("reply_markup")):
            break
    roll_message = await press(api, teacher, card, button(card, "📋")["callback_data"])
    await web.runner.settle()
    opener = button(roll_message, "Open in the app")
    assert opener["web_app"]["url"] == f"https://desk.example.org/app/?roll={web.ids['exam']}"

    _s, roll = await web.call("GET", f"/app/api/roll/{web.ids['exam']}", "teacher")
    students = roll["students"]
    assert len(students) == 40 and roll["counts"]["unmarked"] == 40
    assert roll["can_confirm"] is False and roll["texts_aloud"]
    path = f"/app/api/roll/{web.ids['exam']}/mark"
    for line in students[:39]:
        status, roll = await web.call(
            "POST", path, "teacher", json={"student_id": line["id"], "mark": "present"}
        )
        assert status == 200
    assert roll["counts"]["present"] == 39
    await web.runner.settle()
    shown = api.messages(teacher.id)
    console = next(m for m in shown if m["message_id"] == roll_message["message_id"])
    assert console["text"].count("✅") == 39 + 1  # the 39 and the head's count

    # The other way round: the 40th marked in chat shows in the app.
    last = button(console, f"40. {SURNAMES[-1]}")["callback_data"]
    await press(api, teacher, console, last)
    await web.runner.settle()
    _s, roll = await web.call("GET", f"/app/api/roll/{web.ids['exam']}", "teacher")
    assert roll["counts"]["present"] == 40 and roll["can_confirm"] is True

    # An outage started in the app: its clock, and the ⚡ in chat.
    outage = f"/app/api/roll/{web.ids['exam']}/outage"
    status, roll = await web.call(
        "POST", outage, "teacher", json={"student_id": students[0]["id"], "action": "start"}
    )
    assert status == 200 and roll["outage"]["seconds_left"] == 15 * 60
    assert roll["can_confirm"] is False
    await web.runner.settle()
    console = next(m for m in api.messages(teacher.id) if m["message_id"] == console["message_id"])
    assert "⚡" in console["text"]
    status, roll = await web.call(
        "POST", outage, "teacher", json={"student_id": students[0]["id"], "action": "end"}
    )
    assert roll["outage"] is None and roll["counts"]["present"] == 40

    # A grade the exam does not have is bad input; a real one is saved.
    grade = f"/app/api/roll/{web.ids['exam']}/grade"
    status, _body = await web.call(
        "POST", grade, "teacher", json={"student_id": students[1]["id"], "grade": "passed"}
    )
    assert status == 400
    status, roll = await web.call(
        "POST", grade, "teacher", json={"student_id": students[1]["id"], "grade": "good"}
    )
    assert status == 200 and roll["students"][1]["grade_label"] == "good"

    status, roll = await web.call("POST", f"/app/api/roll/{web.ids['exam']}/confirm", "teacher")
    assert status == 200 and roll["exam"]["confirmed_at"] is not None
    status, body = await web.call(
        "POST", path, "teacher", json={"student_id": students[0]["id"], "mark": "absent"}
    )
    assert status == 409 and "locked" in body["error"]
    status, sheet = await web.call("GET", f"/app/api/roll/{web.ids['exam']}/sheet", "teacher")
    assert status == 200 and load_workbook(io.BytesIO(sheet)).active is not None
    async with web.runner.sessionmaker() as session:
        present = await session.scalar(
            select(func.count())
            .select_from(RollEntry)
            .where(RollEntry.exam_id == web.ids["exam"], RollEntry.mark == "present")
        )
    assert present == 40


async def test_admin_lists_moves_and_cancels_exams_and_checks_an_import(web: Web) -> None:
    status, upcoming = await web.call("GET", "/app/api/admin/exams?when=upcoming", "admin")
    assert status == 200 and {e["id"] for e in upcoming["items"]} == {
        web.ids["exam"],
        web.ids["other_exam"],
    }
    _s, past = await web.call("GET", "/app/api/admin/exams?when=past", "admin")
    assert past["items"] == []
    move = f"/app/api/admin/exams/{web.ids['exam']}/move"
    status, body = await web.call("POST", move, "admin", json={"starts_at": "2026-12-01T10:00"})
    assert status == 400 and body["error"]
    status, moved = await web.call(
        "POST", move, "admin", json={"starts_at": "2026-12-24T10:00:00+03:00"}
    )
    assert status == 200 and moved["starts_at"] == "2026-12-24T07:00:00+00:00"
    async with web.runner.sessionmaker() as session:
        told = list(
            await session.execute(
                select(Notice.kind, Notice.payload, Notice.status).where(
                    Notice.chat_id == IDS["victim"]
                )
            )
        )
    # The linked student's notices follow the new start, as after an import.
    assert told and all(
        p.get("start") == "2026-12-24T07:00:00+00:00" for _k, p, s in told if s == "pending"
    ), told
    status, cancelled = await web.call(
        "POST", f"/app/api/admin/exams/{web.ids['other_exam']}/cancel", "admin"
    )
    assert status == 200 and cancelled["cancelled"] is True

    # An import checked first: row errors listed, nothing written; then written.
    bad = "faculty,group,full_name,record_book\nФ,Г,,1\nФ,Г,Новиков Н,2\n".encode()
    good = "faculty,group,full_name,record_book\nФ & <Ф>,Г9,Новиков Н,2639001\n".encode()

    async def upload(content: bytes, dry_run: str) -> tuple[int, Any]:
        form = aiohttp.FormData()
        form.add_field("file", content, filename="roster.csv", content_type="text/csv")
        status, body = await web.call(
            "POST", f"/app/api/admin/import?kind=roster&dry_run={dry_run}", "admin", data=form
        )
        return status, body

    status, checked = await upload(bad, "1")
    assert status == 200 and checked["written"] is False
    assert [e["row"] for e in checked["errors"]] == [2]
    status, checked = await upload(good, "1")
    assert checked["errors"] == [] and checked["counts"] == {
        "added": 1,
        "updated": 0,
        "unchanged": 0,
        "total": 1,
    }
    async with web.runner.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Exam)) == 2
        assert (
            await session.scalar(select(Student.id).where(Student.record_book == "2639001")) is None
        )
    status, written = await upload(good, "0")
    assert status == 200 and written["written"] is True
    async with web.runner.sessionmaker() as session:
        assert await session.scalar(select(Student.id).where(Student.record_book == "2639001"))


async def test_dean_announces_from_the_app_and_follows_the_progress(web: Web) -> None:
    status, targets = await web.call("GET", "/app/api/announcements/targets", "dean")
    assert status == 200 and [g["name"] for g in targets["groups"]] == [GROUP]
    after = web.api.mark()
    text = "Консультация & <перенос> на 15:00"
    status, sent = await web.call(
        "POST",
        "/app/api/announcements",
        "dean",
        json={"text": text, "audience": "group", "target_id": web.ids["group"]},
    )
    assert status == 200 and sent["total"] == 1, sent  # one student of the group is linked
    told = await web.api.wait_for("sendMessage", chat_id=IDS["victim"], after=after, timeout=10)
    assert "Консультация &amp; &lt;перенос&gt; на 15:00" in told.params["text"]
    await web.runner.outbox_settled()
    status, progress = await web.call("GET", f"/app/api/announcements/{sent['id']}", "dean")
    assert status == 200 and (progress["sent"], progress["done"]) == (1, True)
    status, empty = await web.call(
        "POST",
        "/app/api/announcements",
        "dean",
        json={"text": "  ", "audience": "group", "target_id": web.ids["group"]},
    )
    assert status == 400 and empty["error"]


async def test_the_staff_menu_button_opens_the_app_and_a_students_does_not(web: Web) -> None:
    """Set at start and whenever a role changes (bot.notify.menus): a teacher's and a
    dean's private chats get the Mini App, a student's the commands."""
    assert web.runner.app is not None
    menus = web.runner.app.dispatcher["menus"]
    after = web.api.mark()
    for who in ("teacher", "dean", "victim"):
        await menus.set_chat(IDS[who])
    calls = {
        c.params["chat_id"]: c.params["menu_button"]
        for c in web.api.calls[after:]
        if c.method == "setChatMenuButton"
    }
    for who in ("teacher", "dean"):
        button = calls[IDS[who]]
        assert button["type"] == "web_app" and button["web_app"]["url"] == WEBAPP_URL
        assert button["text"] == "Desk"
    assert calls[IDS["victim"]] == {"type": "default"}


async def test_the_deans_card_opens_the_statement_in_the_app(web: Web) -> None:
    """The card in the dean's private chat carries a web_app button to the statement's
    page; in a dean's office group chat the same page as a link."""
    app = web.runner.app
    assert app is not None

    async def announced(chat: int | None) -> None:
        async with web.runner.sessionmaker.begin() as session:
            if chat is not None:
                session.add(DeaneryChat(chat_id=chat, faculty_id=web.ids["faculty"], bound_by=1))
                await session.flush()
            statement = await session.get(Statement, web.ids["statement"])
            assert statement is not None
            await announce_statement(
                session, statement, NOW, settings=web.runner.settings, outbox=Outbox()
            )
        app.sender.wake()

    page = f"{WEBAPP_URL}?statement={web.ids['statement']}"
    await announced(None)  # no chat bound: the card goes to the dean privately
    private = await web.api.wait_for(
        "sendMessage", chat_id=IDS["dean"], predicate=lambda c: "Statement" in c.params["text"]
    )
    opener = private.params["reply_markup"]["inline_keyboard"][-1][0]
    assert opener == {"text": "📱 Open in the desk", "web_app": {"url": page}}
    await announced(-100_777)
    group = await web.api.wait_for(
        "sendMessage", chat_id=-100_777, predicate=lambda c: "№" in c.params["text"]
    )
    # The chat's cards are in Russian (the default locale); web_app is private-only.
    assert group.params["reply_markup"]["inline_keyboard"][0][0]["url"] == page


async def test_webhook_mode_serves_the_app_beside_the_webhook(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    async with FakeBotAPI(token=TOKEN, bot_username="examinator_test_bot", pace=FAST_PACE) as api:
        port = unused_tcp_port_factory()
        settings = webapp_settings(
            api,
            tmp_path,
            webhook_url="https://bot.example.org/telegram",
            webhook_secret=SecretStr("webhook_Secret-42"),
            webhook_host="127.0.0.1",
            webhook_port=port,
        )
        app = build_application(settings, clock=MovableClock(NOW))
        after = api.mark()
        task = asyncio.create_task(app.run(handle_signals=False))
        try:
            await api.wait_for("setWebhook", after=after, timeout=10)
            assert app.webapp_server is None  # no server of its own
            headers = {
                "Authorization": "tma "
                + sign_init_data(TOKEN, 7, auth_date=NOW, language_code="en")
            }
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{port}/app/api/me"
                async with http.get(url, headers=headers) as response:
                    assert response.status == 200
                    assert (await response.json())["roles"] == []
                async with http.get(url) as response:
                    assert response.status == 401
        finally:
            app.stop_webhook()
            await task
    # A refused Mini App call is no refused webhook call.
    assert app.metrics.webhook_refused._value.get() == 0
