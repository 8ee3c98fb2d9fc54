"""The Mini App in a real browser (headless Chromium at 360 px): the dean finds a statement
and rejects it, the teacher marks a roll of 40 with an outage, the administrator checks an
import, and a forged initData is refused politely. What the pages did is checked where it
lands: the database, and the chat as the strict fake Bot API saw it."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, FilePayload, Page, expect
from sqlalchemy import select

from bot.db.models import Exam, InviteRole, RollEntry, Statement, Student
from tests.browser.conftest import app_url, new_page, open_app, screenshot, signed, tg_calls
from tests.browser.data import (
    BOOKS,
    DISCIPLINE,
    EXAM_START,
    FACULTY,
    GROUP,
    NAMES,
    SURNAMES,
    TEACHER,
    png,
    seed,
)
from tests.e2e.conftest import ADMIN_ID, TOKEN, BotRunner, join_by_invite, link_student, press, say
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, button, buttons
from tests.e2e.hostile import ROSTER_HEADER, table
from tests.webapp_auth import forge, sign_init_data

DEAN = 31_001
TEACHER_ID = 31_002


async def file_absence(
    api: FakeBotAPI, runner: BotRunner, student: FakeUser, text: str, photos: list[bytes]
) -> None:
    """/statement → the exam → absence → illness → text → photos → done → send."""
    menu = await say(api, student, "/statement")
    reply = await press(api, student, menu, button(menu, "Анатомия")["callback_data"])
    reply = await press(api, student, reply, button(reply, "Absence")["callback_data"])
    reply = await press(api, student, reply, button(reply, "Illness")["callback_data"])
    reply = await say(api, student, text)
    after = api.mark()
    for photo in photos:
        api.send_photo(student, photo, media_group_id=f"album-{student.id}" if photos else None)
    if photos:
        reply = await api.next_message(student.id, after=after)
    preview = await press(api, student, reply, button(reply, "Done")["callback_data"])
    done = await press(api, student, preview, button(preview, "Send")["callback_data"])
    assert "submitted" in done["text"]
    await runner.settle()


def errors_of(page: Page) -> list[str]:
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(str(error)))
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    return found


async def test_dean_filters_opens_a_statement_with_two_photos_and_rejects_it(
    api: FakeBotAPI, bot_runner: BotRunner, browser: Browser
) -> None:
    runner = bot_runner
    await seed(runner)
    dean = api.user(DEAN, first_name="Декан", language_code="ru")
    await join_by_invite(api, runner, dean, InviteRole.DEAN, FACULTY)
    first = api.user(31_010, language_code="en")
    await link_student(api, first, BOOKS[0], SURNAMES[0])
    second = api.user(31_011, language_code="en")
    await link_student(api, second, BOOKS[1], SURNAMES[1])
    await file_absence(
        api,
        runner,
        first,
        "ОРВИ & <температура> \"38,5\" 'да'",
        [png((200, 40, 40)), png((40, 40, 200))],
    )
    await file_absence(api, runner, second, "Простуда", [png((40, 160, 40))])

    page = await open_app(browser, runner, "inbox", init_data=signed(runner, DEAN, name="Декан"))
    errors = errors_of(page)
    cards = page.locator(".statement-card")
    await expect(cards).to_have_count(2)
    await expect(page.locator("body")).to_have_css("background-color", "rgb(239, 239, 243)")
    await screenshot(page, "dean-inbox")

    # Search by surname: one left; its name shown as text, & < > " ' and all.
    await page.fill("#filter-q", SURNAMES[0])
    await page.click("#search")
    await expect(cards).to_have_count(1)
    await expect(cards.first.locator(".name")).to_have_text(NAMES[0])
    await page.select_option("#filter-status", "submitted")
    await expect(page).to_have_url(re.compile(r"status=submitted"))
    await expect(cards).to_have_count(1)
    await screenshot(page, "dean-inbox-filtered")

    await cards.first.click()
    photos = page.locator("img.photo")
    await expect(photos).to_have_count(2)
    for n in range(2):
        await expect(photos.nth(n)).to_have_js_property("complete", True)
        assert await photos.nth(n).evaluate("img => img.naturalWidth") == 48
    await expect(page.locator("#statement-text")).to_have_text("ОРВИ & <температура> \"38,5\" 'да'")
    await screenshot(page, "dean-statement")
    assert ["back.show", None] in await tg_calls(page)

    # Reject: a reason is required (nothing is sent without one), then the student is told.
    await page.click("#action-reject")
    await page.click("#send-decision")
    await expect(page.locator("#decision .error")).to_be_visible()
    assert await statuses(runner) == {BOOKS[0]: "submitted", BOOKS[1]: "submitted"}
    reason = "Нужна справка & <печать> \"врача\" 'ок'"
    await page.fill("#reason", reason)
    await screenshot(page, "dean-statement-reason")
    after = api.mark()
    await page.click("#send-decision")
    await expect(page.locator(".badge.rejected")).to_be_visible()
    told = await api.next_message(first.id, after=after)
    assert "rejected" in told["text"] and reason in told["text"]
    assert await statuses(runner) == {BOOKS[0]: "rejected", BOOKS[1]: "submitted"}
    await screenshot(page, "dean-statement-rejected")

    # The other pages of the desk.
    await page.click("#tabs a[href='#/additional']")
    await expect(page.locator("#additional")).to_be_visible()
    await screenshot(page, "dean-additional")
    await page.click("#tabs a[href='#/reports']")
    async with page.expect_download() as download:
        await page.click("#report-statements")
    path = await (await download.value).path()
    assert path is not None
    assert (await asyncio.to_thread(Path(path).read_bytes))[:2] == b"PK"  # an XLSX
    await screenshot(page, "dean-reports")

    # An announcement to the group: both linked students get it in chat, the page counts.
    await page.click("#tabs a[href='#/announce']")
    await page.select_option("#announce-audience", label=GROUP + " · " + FACULTY)
    notice = "Консультация & <завтра> \"в 10\" 'ауд. 1'"
    await page.fill("#announce-text", notice)
    after = api.mark()
    await page.click("#announce-send")
    for student in (first, second):
        told = await api.next_message(student.id, after=after)
        assert notice in told["text"]
    await expect(page.locator("#announce-progress")).to_have_attribute("data-done", "1")
    await screenshot(page, "dean-announcement")
    assert errors == []


async def statuses(runner: BotRunner) -> dict[str, str]:
    """Record book -> its statement's status."""
    async with runner.sessionmaker() as session:
        rows = await session.execute(
            select(Student.record_book, Statement.status).join(
                Student, Student.id == Statement.student_id
            )
        )
        return {book: status for book, status in rows}


async def open_roll_in_chat(api: FakeBotAPI, teacher: FakeUser) -> dict[str, Any]:
    after = api.mark()
    teacher.send("/exams")
    await api.next_message(teacher.id, after=after)  # the count
    card = await api.next_message(teacher.id)
    return await press(api, teacher, card, button(card, "📋")["callback_data"])


async def test_teacher_marks_forty_and_sets_an_outage(
    api: FakeBotAPI, bot_runner: BotRunner, browser: Browser
) -> None:
    runner = bot_runner
    await seed(runner)
    teacher = api.user(TEACHER_ID, language_code="ru")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, TEACHER)
    in_chat = await open_roll_in_chat(api, teacher)
    runner.at(EXAM_START + timedelta(minutes=2))

    page = await open_app(browser, runner, "", init_data=signed(runner, TEACHER_ID))
    errors = errors_of(page)
    await expect(page.locator(".exam-card")).to_have_count(1)
    await screenshot(page, "teacher-today")
    # The chat's roll has a button to the same roll in the app (a web_app button in private).
    [opener] = [b for b in buttons(in_chat) if "web_app" in b]
    assert "?roll=" in opener["web_app"]["url"]
    query = opener["web_app"]["url"].split("?", 1)[1]
    await page.goto(app_url(runner, "").replace("/app/#/", f"/app/?{query}#tgWebAppData=x"))
    lines = page.locator(".roll-line")
    await expect(lines).to_have_count(40)
    await expect(lines.first.locator(".name")).to_have_text(NAMES[0])

    # 39 present, the fifth has an outage: every tap shows at once, saved in the background.
    ids = [int(x) for x in await lines.evaluate_all("ls => ls.map(l => l.dataset.id)")]
    outage_id = ids[4]
    for student in ids:
        mark = "outage" if student == outage_id else "present"
        line = page.locator(f".roll-line[data-id='{student}']")
        await line.locator(f".chip[data-mark='{mark}']").click()
        await expect(line).to_have_attribute("data-mark", mark)  # before the server answers
    await expect(page.locator(".roll-line.saving")).to_have_count(0)
    clock = page.locator(f".roll-line[data-id='{outage_id}'] .clock")
    await expect(clock).to_have_text(re.compile(r"^1[45]:\d\d$"))
    shown = await clock.text_content()
    await expect(clock).not_to_have_text(shown or "")  # counting down, live
    haptics = [c for c in await tg_calls(page) if c[0] == "haptic"]
    assert len(haptics) >= 40
    await screenshot(page, "teacher-roll", full_page=False)

    # The database holds what the page shows, and the roll in chat was redrawn to match.
    await runner.settle()
    async with runner.sessionmaker() as session:
        marks = {e.student_id: e for e in await session.scalars(select(RollEntry))}
    assert {k: e.mark for k, e in marks.items()} == {
        s: "outage" if s == outage_id else "present" for s in ids
    }
    assert marks[outage_id].outage_since is not None
    await api.idle(quiet=0.2)
    chat = next(m for m in api.messages(teacher.id) if m["message_id"] == in_chat["message_id"])
    assert "✅ 39 · 📄 0 · ❌ 0 · ⚡ 1 · ▫️ 0" in chat["text"]
    outage_name = await lines.nth(4).locator(".name").text_content()
    assert any("⚡" in x and str(outage_name) in x for x in chat["text"].splitlines())

    # No confirming while a clock runs; the student is back, and the Main button confirms.
    assert await page.locator("#confirm").count() == 0
    await page.locator(f".roll-line[data-id='{outage_id}'] .chip[data-mark='resolved']").click()
    await expect(page.locator("#confirm")).to_be_visible()
    main = await page.evaluate(
        "[Telegram.WebApp.MainButton.isVisible, Telegram.WebApp.MainButton.text]"
    )
    assert main == [True, await page.locator("#confirm").text_content()]
    await page.evaluate("window.__tg.press('main')")
    await expect(page.locator("#roll-confirmed")).to_be_visible()
    await page.evaluate("window.__tg.press('back')")  # Back: to today's exams
    await expect(page.locator(".exam-card")).to_have_count(1)
    await page.go_back()
    await expect(page.locator(".chip").first).to_be_disabled()
    async with runner.sessionmaker() as session:
        exam = await session.scalar(select(Exam))
        assert exam is not None and exam.roll_confirmed_at is not None
        now = list(await session.scalars(select(RollEntry.mark)))
    assert len(now) == 40 and set(now) == {"present"}
    await screenshot(page, "teacher-roll-confirmed", full_page=False)
    assert errors == []


async def test_forged_or_stale_init_data_gets_401_and_a_polite_page(
    api: FakeBotAPI, bot_runner: BotRunner, browser: Browser
) -> None:
    runner = bot_runner
    await seed(runner)
    teacher = api.user(TEACHER_ID, language_code="ru")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, TEACHER)
    stale = sign_init_data(
        TOKEN, TEACHER_ID, auth_date=runner.clock.now() - timedelta(hours=2), language_code="ru"
    )
    for name, init_data in (
        ("forged-initdata", forge(signed(runner, TEACHER_ID))),
        ("stale-initdata", stale),
    ):
        page = await new_page(browser, init_data=init_data)
        async with page.expect_response(lambda r: r.url.endswith("/app/api/me")) as answer:
            await page.goto(app_url(runner, "today"))
        response = await answer.value
        assert response.status == 401
        said = (await response.json())["error"]
        assert "Telegram" in said and re.search("[а-я]", said)  # the default language
        polite = page.locator("#polite-error")
        await expect(polite).to_have_text(said)
        await expect(page.locator("#tabs a")).to_have_count(0)  # nothing of the app is shown
        await expect(page.locator(".roll-line, .exam-card")).to_have_count(0)
        await screenshot(page, name)


async def test_admin_sees_the_exams_and_checks_an_import_before_writing(
    api: FakeBotAPI, bot_runner: BotRunner, browser: Browser
) -> None:
    runner = bot_runner
    await seed(runner)
    await say(api, api.user(ADMIN_ID, language_code="ru"), "/start")
    # In Telegram's dark theme: the page takes its colours from the theme parameters.
    page = await open_app(browser, runner, "", init_data=signed(runner, ADMIN_ID), dark=True)
    errors = errors_of(page)
    cards = page.locator(".exam-card")
    await expect(page.locator("body")).to_have_css("background-color", "rgb(24, 24, 24)")
    await expect(page.locator("body")).to_have_css("color", "rgb(255, 255, 255)")
    await expect(cards).to_have_count(1)
    await expect(cards.first.locator(".name")).to_have_text(DISCIPLINE)
    await screenshot(page, "admin-exams")

    await page.click("#tabs a[href='#/import']")
    newcomer = "Новикова & <Анна> \"Н\" 'О'"
    broken = table(ROSTER_HEADER, [(FACULTY, GROUP, newcomer, "")])  # no record book
    await page.set_input_files("#import-file", files=csv_file(broken))
    await page.click("#import-check")
    await expect(page.locator("#import-result .err-list li")).to_have_count(1)
    await expect(page.locator("#import-write")).to_be_disabled()
    await screenshot(page, "admin-import-errors")

    good = table(ROSTER_HEADER, [(FACULTY, GROUP, newcomer, "2699999")])
    await page.set_input_files("#import-file", files=csv_file(good))
    await page.click("#import-check")
    await expect(page.locator("#import-write")).to_be_enabled()
    assert await student_named(runner, newcomer) is None  # the check wrote nothing
    await page.click("#import-write")
    await expect(page.locator("#import-write")).to_be_disabled()
    assert await student_named(runner, newcomer) == "2699999"
    assert errors == []


async def student_named(runner: BotRunner, name: str) -> str | None:
    async with runner.sessionmaker() as session:
        return await session.scalar(select(Student.record_book).where(Student.full_name == name))


def csv_file(content: bytes) -> FilePayload:
    return {"name": "roster.csv", "mimeType": "text/csv", "buffer": content}
