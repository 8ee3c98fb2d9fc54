"""Telegram's conventions a user expects: a command menu per role and language, re-set when
a role changes; the bot's description in both languages; a double tap answered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.db.models import InviteRole, ProcessedUpdate
from bot.keyboards.callbacks import MyDataCB
from tests.e2e.conftest import (
    ADMIN_ID,
    BotRunner,
    deanery_chat,
    join_by_invite,
    link_student,
    say,
)
from tests.e2e.fakeapi import Call, FakeBotAPI

STUDENT_MENU = ["start", "schedule", "calendar", "statement", "statements", "plan", "mydata"]
COMMON = ["tz", "lang", "help", "cancel"]


def chat(chat_id: int) -> dict[str, Any]:
    return {"type": "chat", "chat_id": chat_id}


async def menu(
    runner: BotRunner, scope: dict[str, Any], language: str | None = "en"
) -> list[str] | None:
    """The command names the scope shows now for the language (None: no menu of its own),
    once every update is handled and every menu asked for is set."""
    await runner.settle()
    assert runner.app is not None
    await runner.app.dispatcher["menus"].idle()
    shown: list[str] | None = None
    for c in runner.api.calls:
        if c.method not in ("setMyCommands", "deleteMyCommands"):
            continue
        if c.params.get("scope") == scope and c.params.get("language_code") == language:
            assert c.ok, c.error
            commands = c.params.get("commands") if c.method == "setMyCommands" else None
            shown = [x["command"] for x in commands] if commands is not None else None
    return shown


def descriptions(call_scope: dict[str, Any], api: FakeBotAPI) -> dict[str | None, list[str]]:
    return {
        c.params.get("language_code"): [x["description"] for x in c.params["commands"]]
        for c in api.calls
        if c.method == "setMyCommands" and c.params.get("scope") == call_scope
    }


async def test_default_menus_for_students_and_groups(api: FakeBotAPI, seeded: BotRunner) -> None:
    for language in (None, "ru", "en"):
        assert await menu(seeded, {"type": "default"}, language) == STUDENT_MENU + COMMON
        assert await menu(seeded, {"type": "all_group_chats"}, language) == ["bind", "help"]
    lines = descriptions({"type": "default"}, api)
    assert lines[None] == lines["ru"] != lines["en"]  # Russian is the default locale
    assert (
        "Заявление в деканат" in lines["ru"] and "A statement to the dean's office" in lines["en"]
    )
    # The ADMIN_IDS admin is staff from the start: a menu of their own chat.
    admin = await menu(seeded, chat(ADMIN_ID), "en")
    assert admin == [
        "status",
        "reports",
        "templates",
        "announce",
        "invite",
        "email",
        "semester",
        "unlock",
        *COMMON,
    ]


async def test_a_teacher_gets_their_menu_when_the_invite_is_redeemed(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    teacher = api.user(15001, language_code="en")
    after = api.mark()
    await join_by_invite(api, seeded, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    for language in ("ru", "en", None):
        assert await menu(seeded, chat(teacher.id), language) == ["exams", "calendar", *COMMON]
    ru = await api.wait_for(
        "setMyCommands",
        predicate=lambda c: (
            c.params.get("scope") == chat(teacher.id) and c.params.get("language_code") == "ru"
        ),
    )
    assert ru.params["commands"][0]["description"] == "Мои экзамены: ссылки и перекличка"

    # After a restart the staff's menus are set again (Telegram keeps them, but a role may
    # have changed while the bot was down): only the staff chats, not every student.
    student = api.user(15002, language_code="ru")
    await link_student(api, student, "2611021", "Иванова")
    await seeded.settle()
    await seeded.stop()
    after = api.mark()
    await seeded.start()
    await api.wait_for(  # the last of the start-up's menus (chats in the order of their ids)
        "setMyCommands",
        predicate=lambda c: (
            c.params.get("scope") == chat(ADMIN_ID) and c.params.get("language_code") == "en"
        ),
        after=after,
        timeout=10,
    )
    assert await menu(seeded, chat(teacher.id), "en") == ["exams", "calendar", *COMMON]
    chats = {
        c.params["scope"].get("chat_id")
        for c in api.calls[after:]
        if c.method == "setMyCommands" and c.params["scope"]["type"] == "chat"
    }
    assert chats == {teacher.id, ADMIN_ID}


async def test_a_dean_and_the_deanery_chat_get_theirs_and_a_replaced_chat_loses_it(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    dean = api.user(15003, language_code="ru")
    group = await deanery_chat(api, seeded, dean, "Лечебный факультет", -100800)
    dean_menu = [
        "inbox",
        "additional",
        "reports",
        "templates",
        "announce",
        "invite",
        "email",
        *COMMON,
    ]
    assert await menu(seeded, chat(dean.id), "ru") == dean_menu
    assert await menu(seeded, chat(group["id"]), "ru") == [
        "inbox",
        "additional",
        "reports",
        "help",
    ]

    # Another chat becomes the dean's office chat: the first one is a plain group again.
    other = {"id": -100801, "type": "supergroup", "title": "Деканат 2"}
    dean.send("/bind", chat=other)
    assert await menu(seeded, chat(-100801), "en") == ["inbox", "additional", "reports", "help"]
    assert await menu(seeded, chat(-100800), "en") == ["bind", "help"]


async def test_a_student_who_becomes_a_teacher_and_unlinks_the_student(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    user = api.user(15004, language_code="en")
    await link_student(api, user, "2611022", "Каримов")
    assert await menu(seeded, chat(user.id)) is None  # a student: the default menu
    await join_by_invite(api, seeded, user, InviteRole.TEACHER, "Николаева Ольга Петровна")
    assert await menu(seeded, chat(user.id)) == [*STUDENT_MENU[1:], "exams", *COMMON]

    shown = await say(api, user, "/mydata")
    user.click(shown, MyDataCB(action="confirm").pack())
    assert await menu(seeded, chat(user.id)) == ["exams", "calendar", *COMMON]
    assert await menu(seeded, chat(user.id), "ru") == ["exams", "calendar", *COMMON]


async def test_a_double_tap_is_answered_and_committed(api: FakeBotAPI, seeded: BotRunner) -> None:
    """The second identical edit is refused by Telegram ("message is not modified"): the
    press is answered all the same, nothing is reported as failed, both are settled
    (neither wrote anything: no row marks them handled, and neither waits in the inbox)."""
    student = api.user(15005, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    shown = await say(api, student, "/mydata")
    keep = MyDataCB(action="keep").pack()
    first = student.click(shown, keep)
    second = student.click(shown, keep)
    for update in (first, second):
        answer = await api.callback_answer(update)
        assert answer.ok
    await seeded.settle()
    edits = [
        c
        for c in api.calls
        if c.method == "editMessageText" and c.params.get("message_id") == shown["message_id"]
    ]
    assert [c.ok for c in edits] == [True, False]
    assert edits[1].error is not None and "not modified" in edits[1].error["description"]
    apologies = [m for m in api.messages(student.id) if "went wrong" in m.get("text", "")]
    assert apologies == []
    async with seeded.sessionmaker() as session:
        handled = set(await session.scalars(select(ProcessedUpdate.update_id)))
    assert {first["update_id"], second["update_id"]}.isdisjoint(handled)
    for update in (first, second):  # each answered exactly once
        assert (
            len(
                [
                    c
                    for c in api.calls
                    if c.method == "answerCallbackQuery"
                    and c.params.get("callback_query_id") == update["callback_query"]["id"]
                ]
            )
            == 1
        )


async def test_descriptions_in_both_languages_set_only_when_changed(
    api: FakeBotAPI, seeded: BotRunner
) -> None:
    async def set_calls(after: int) -> list[Call]:
        await api.wait_for("getMyShortDescription", after=after, timeout=10)
        assert seeded.app is not None
        await seeded.app.dispatcher["menus"].idle()
        return [c for c in api.calls[after:] if c.method.startswith("setMy") and "escr" in c.method]

    first = await set_calls(0)
    assert {(c.method, c.params.get("language_code")) for c in first} == {
        (method, language)
        for method in ("setMyDescription", "setMyShortDescription")
        for language in (None, "ru", "en")
    }
    assert api.descriptions[("description", "ru")].startswith("Экзаменатор сопровождает")
    assert api.descriptions[("description", "")] == api.descriptions[("description", "ru")]
    assert api.descriptions[("description", "en")].startswith("Examinator guides you")
    assert api.descriptions[("short_description", "en")] == (
        "The exam session: schedule, reminders, conference links, statements."
    )
    assert all(
        len(text) <= 120 for (field, _), text in api.descriptions.items() if "short" in field
    )

    # A restart reads them back and changes nothing.
    await seeded.stop()
    after = api.mark()
    await seeded.start()
    assert await set_calls(after) == []


def actions_before_documents(api: FakeBotAPI, chat_id: int, after: int) -> list[str]:
    """The chat's calls from the mark: chat actions and documents, in order."""
    return [
        c.method if c.method == "sendDocument" else str(c.params.get("action"))
        for c in api.calls[after:]
        if c.method in ("sendChatAction", "sendDocument") and c.chat_id == chat_id
    ]


async def test_a_file_being_built_shows_upload_document(api: FakeBotAPI, seeded: BotRunner) -> None:
    student = api.user(15006, language_code="en")
    await link_student(api, student, "2611021", "Иванова")
    after = api.mark()
    await say(api, student, "/calendar")
    await api.wait_for("sendDocument", chat_id=student.id, after=after)
    assert actions_before_documents(api, student.id, after) == ["upload_document", "sendDocument"]

    # The /mydata export; a chat action that fails costs nothing but itself.
    shown = await say(api, student, "/mydata")
    api.fail_next("sendChatAction", status=400, description="Bad Request: chat not found")
    after = api.mark()
    student.click(shown, MyDataCB(action="file").pack())
    document = await api.wait_for("sendDocument", chat_id=student.id, after=after)
    assert document.ok and document.files["document"][0] == "mydata.json"
    assert actions_before_documents(api, student.id, after) == ["upload_document", "sendDocument"]

    dean = api.user(15007, language_code="en")
    await join_by_invite(api, seeded, dean, InviteRole.DEAN, "Лечебный факультет")
    menu_message = await say(api, dean, "/reports")
    after = api.mark()
    dean.click(menu_message, menu_message["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    await api.wait_for("sendDocument", chat_id=dean.id, after=after)
    await seeded.settle()
    assert actions_before_documents(api, dean.id, after) == [
        "upload_document",
        "sendDocument",
        "sendDocument",
    ]
