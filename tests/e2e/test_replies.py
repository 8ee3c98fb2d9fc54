"""Commit, then speak, end to end: what a user did is kept whatever Telegram does to the
reply, and the reply still reaches them (bot.middlewares.held).

- A statement whose acknowledgement Telegram fails (500, past the retries) right after
  it was committed: kept once, and the student is told through the outbox.
- A statement whose acknowledgement is held when the bot is killed (kill -9) after the
  commit: kept once, and the student is told once, through the outbox, after the restart.
- What an update that only reads says (/help, /schedule) is not stored: no outbox write.
- A teacher tapping the roll faster than Telegram edits a message, one answer refused:
  every mark is kept, every other tap answered, the roll redrawn at the chat's pace
  (no 429) and showing every mark at the end.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.models import Exam, InviteRole, Notice, RollEntry, Statement, Student
from bot.keyboards.callbacks import RollMarkCB
from tests.e2e.conftest import (
    ADMIN_ID,
    TOKEN,
    BotRunner,
    MovableClock,
    join_by_invite,
    link_student,
    press,
    say,
)
from tests.e2e.fakeapi import TOO_OLD, FakeBotAPI, FakeUser, button
from tests.e2e.test_roll import LATIN_START, exam_of, open_roll
from tests.e2e.test_statements import start_absence

ROOT = Path(__file__).resolve().parents[2]


async def test_a_statement_is_acknowledged_through_the_outbox_when_telegram_fails(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    student = api.user(13001, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    preview = await statement_preview(api, student)

    # The acknowledgement (an edit of the preview) fails at Telegram, retries included.
    api.fail_next("editMessageText", 500, count=3, chat_id=student.id)
    after = api.mark()
    student.click(preview, button(preview, "Send")["callback_data"])
    told = await api.next_message(student.id, after=after, timeout=15)
    assert told["_method"] == "sendMessage"  # a new message, from the outbox
    assert re.search(r"Statement №\d+ is submitted", told["text"])
    await seeded.settle()
    await seeded.outbox_settled()
    async with seeded.sessionmaker() as session:
        statements = list(await session.scalars(select(Statement)))
        replies = list(await session.scalars(select(Notice).where(Notice.kind == "reply")))
    assert len(statements) == 1 and statements[0].text == "Flu & fever <38,5>"
    assert f"№{statements[0].id}" in told["text"]
    # Each update that wrote kept its answer in the outbox until it was said; only the one
    # Telegram failed is left, sent by the outbox sender.
    assert [r.status for r in replies] == ["sent"]
    await api.idle(quiet=0.3)
    said = [m.get("text", "") for m in api.messages(student.id)]
    assert sum("is submitted" in text for text in said) == 1  # told once


async def statement_preview(api: FakeBotAPI, student: FakeUser) -> dict[str, Any]:
    """A linked student's absence with a document, up to the preview with "Send"."""
    await start_absence(api, student, "Латинский язык", "Illness", "Flu & fever <38,5>")
    after = api.mark()
    api.send_document(student, "справка.pdf", content=b"%PDF-1.4", mime_type="application/pdf")
    attached = await api.next_message(student.id, after=after)
    preview = await press(api, student, attached, button(attached, "Done")["callback_data"])
    assert "not sent yet" in preview["text"]
    return preview


async def test_a_kill_after_the_commit_still_acknowledges_the_statement_once(
    api: FakeBotAPI, seeded: BotRunner, settings: Settings, clock: MovableClock, tmp_path: Path
) -> None:
    student = api.user(13003, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    preview = await statement_preview(api, student)
    await seeded.settle()
    await seeded.outbox_settled()
    await seeded.stop()

    # The same bot in a process of its own, to be killed.
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": settings.database_url,
        "ADMIN_IDS": str(ADMIN_ID),
        "POLLING_TIMEOUT": "1",
        "INSTITUTION_NAME": settings.institution_name,
        "FILES_DIR": str(settings.files_dir),
        "JOURNAL_DIR": str(settings.journal_dir),
        "EDIT_INTERVAL": "0",
    }
    env.pop("REDIS_URL", None)
    with (tmp_path / "killed.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.e2e.bot_process",
            clock.now().isoformat(),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        after = api.mark()
        api.user(13004, language_code="en").send("/help")
        await api.next_message(13004, after=after, timeout=30)  # it is up, polls and answers
        # Telegram hangs from here: whatever the bot says after its commit waits.
        api.outage("timeout", 60)
        student.click(preview, button(preview, "Send")["callback_data"])
        async with asyncio.timeout(20):
            while True:  # the statement committed, its acknowledgement claimed, not sent
                async with sessionmaker() as session:
                    kept = await session.scalar(select(func.count()).select_from(Statement))
                    held = await session.scalars(select(Notice).where(Notice.kind == "reply"))
                    claimed = [r.status for r in held if "is submitted" in str(r.payload)]
                if kept and claimed:
                    break
                await asyncio.sleep(0.05)
        assert claimed == ["claimed"]
    finally:
        process.kill()  # SIGKILL: no shutdown, the replies held after the commit are gone
        await process.wait()
        await engine.dispose()
    api.outage_over()
    assert not [m for m in api.messages(student.id) if "is submitted" in m.get("text", "")]

    after = api.mark()
    await seeded.start()
    told = await api.next_message(student.id, after=after, timeout=15)
    assert told["_method"] == "sendMessage"  # from the outbox, after the restart
    assert re.search(r"Statement №\d+ is submitted", told["text"])
    await seeded.settle()
    await seeded.outbox_settled()
    await api.idle(quiet=0.5)
    async with seeded.sessionmaker() as session:
        statements = list(await session.scalars(select(Statement)))
        replies = list(await session.scalars(select(Notice).where(Notice.kind == "reply")))
    assert len(statements) == 1 and statements[0].text == "Flu & fever <38,5>"
    assert f"№{statements[0].id}" in told["text"]
    # Left: what the killed process still owed, sent after the restart; and perhaps the
    # answer it had said to the /help of a new user (who wrote their account) and not yet
    # deleted, marked sent from its journal: Telegram had it, it is not said again.
    assert {r.status for r in replies} == {"sent"}
    [owed] = [r for r in replies if r.chat_id == student.id]
    assert "is submitted" in str(owed.payload)
    assert {r.chat_id for r in replies} <= {student.id, 13004}
    helps = [c for c in api.delivered(13004) if "What I can do" in c.params.get("text", "")]
    assert len(helps) == 1
    said = [call.params.get("text", "") for call in api.delivered(student.id)]
    assert sum("is submitted" in text for text in said) == 1  # told once


async def test_an_update_that_only_reads_stores_no_reply(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    assert seeded.app is not None and seeded.app.replies is not None
    store = seeded.app.replies
    student = api.user(13005, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    await seeded.settle()
    linked = store.kept
    assert linked > 0  # linking writes: its answers were kept with it

    assert "What I can do" in (await say(api, student, "/help"))["text"]
    assert "Латинский язык" in (await say(api, student, "/schedule"))["text"]
    await seeded.settle()
    assert store.kept == linked  # read-only: no outbox row, no write
    async with seeded.sessionmaker() as session:  # and those kept are gone once said
        assert await session.scalar(
            select(func.count()).select_from(Notice)
        ) == await session.scalar(
            select(func.count()).select_from(Notice).where(Notice.kind != "reply")
        )


@pytest.mark.telegram_pace
async def test_roll_taps_faster_than_telegram_edits_keep_every_mark(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    runner = seeded
    assert runner.app is not None
    runner.app.edits.interval = 1.05  # Telegram's pace, as in production
    teacher = api.user(13002, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    latin = await exam_of(runner, "Латинский язык")
    async with runner.sessionmaker.begin() as session:
        group = await session.scalar(select(Exam.group_id).where(Exam.id == latin.id))
        assert group is not None
        present = await session.scalar(
            select(func.count()).select_from(Student).where(Student.group_id == group)
        )
        session.add_all(
            Student(
                group_id=group,
                full_name=f"Д'Артаньян{i:02d} Шарль",
                surname_key=f"д'артаньян{i:02d}",
                record_book=f"27{i:05d}",
            )
            for i in range(40 - int(present or 0))
        )
    runner.at(LATIN_START + timedelta(minutes=2))
    roll = await open_roll(api, teacher, "Латинский язык")
    async with runner.sessionmaker() as session:
        ids = list(
            await session.scalars(
                select(Student.id).where(Student.group_id == group).order_by(Student.full_name)
            )
        )
    assert len(ids) == 40

    api.enforce_limits(edits=True)
    api.callback_timeout = 15
    # One press is answered too late for Telegram: its mark stays all the same.
    api.fail_next("answerCallbackQuery", 400, description=TOO_OLD)
    before = len(api.calls)
    for student in ids:
        teacher.click(
            roll,
            RollMarkCB(exam_id=latin.id, student_id=student, page=0, mark="present").pack(),
        )
        # Three taps a second: faster than Telegram edits, within FLOOD_LIMIT (30 in 10 s).
        await asyncio.sleep(0.35)
    await runner.settle()

    async with runner.sessionmaker() as session:
        marked = await session.scalar(
            select(func.count())
            .select_from(RollEntry)
            .where(RollEntry.exam_id == latin.id, RollEntry.mark == "present")
        )
    assert marked == 40
    calls = api.calls[before:]
    answers = [c for c in calls if c.method == "answerCallbackQuery"]
    assert len(answers) == 40 and sum(not c.ok for c in answers) == 1
    edits = [c for c in calls if c.method == "editMessageText"]
    assert all(c.ok for c in edits)  # no 429: edits kept to the chat's pace
    assert len(edits) < 20  # the latest state of many taps in each
    shown = next(m for m in api.messages(teacher.id) if m["message_id"] == roll["message_id"])
    assert len(re.findall(r"^\d+\. ✅ ", shown["text"], re.MULTILINE)) == 40
    assert "✅ 40 ·" in shown["text"]
    await say(api, teacher, "/help")  # still answering
