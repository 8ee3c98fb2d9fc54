"""Forged button presses change nothing: every callback action the bot accepts, pressed by
every hostile role with data aimed at someone else's real objects.

One world for the whole module (the bot polling the fake Bot API, as in production): the
victims — Karimov (group 1102, Лечебный факультет) with an absence and a time-zone
statement, his teacher Николаева running the Latin roll (split, marked, graded), the
faculty's dean with a bound dean's office chat, an e-mail address and an announcement —
and the hostile: a student of another group (Абдуллина, 1101), a teacher of another exam
(Смирнова, Анатомия), a dean of another faculty (Педиатрический) with a chat of their
own, and a stranger who never linked. Each case presses once and checks that

- the press is refused: answered with an alert (or, for a press that only touches the
  presser's own data, answered plainly);
- the database is the same before and after, table by table (the outbox and the roll
  included), but for the update's own processed id;
- nothing of the victims reached the presser (texts, captions, documents), and a card
  pressed in the victims' chat is not edited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiogram.filters.callback_data import CallbackData
from sqlalchemy import func, select, text

from bot.config import Settings
from bot.db.models import (
    Base,
    Faculty,
    Group,
    InviteRole,
    Notice,
    NoticeStatus,
    Statement,
    Student,
)
from bot.keyboards.callbacks import (
    AnnounceActCB,
    AnnounceCB,
    BindCB,
    DecideCB,
    ExamCB,
    JoinCB,
    LangCB,
    Listing,
    MyDataCB,
    PageCB,
    ReportCB,
    RescheduleCB,
    RollCB,
    RollGradeCB,
    RollMarkCB,
    RollPartsCB,
    RollSplitCB,
    RollTicketsCB,
    RollWrittenCB,
    StmtActCB,
    StmtAddDocsCB,
    StmtExamCB,
    StmtKindCB,
    StmtReasonCB,
    StmtWithdrawCB,
    TzCB,
)
from tests.e2e.conftest import (
    ADMIN_ID,
    FAST_CHAT_INTERVAL,
    FAST_PACE,
    TOKEN,
    BotRunner,
    MovableClock,
    deanery_chat,
    join_by_invite,
    link_student,
    press,
    say,
    seed_samples,
)
from tests.e2e.fakeapi import FakeBotAPI, FakeUser, JsonDict, button
from tests.e2e.test_statements import start_absence
from tests.integration.test_outbox_sender import exam_id

pytestmark = pytest.mark.asyncio(loop_scope="module")

# The day before the Latin exam (08:30 Moscow on 23 December): everything is still open.
NOW = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)
VICTIM_CHAT = -100_410
HOSTILE_DEAN_CHAT = -100_420
# What must never reach a hostile presser: the victims' names, record books, texts, address.
VICTIM_MARKS = (
    *("Каримов", "2611022", "ОРВИ", "Иванова", "2611021", "Соколова", "2611023"),
    *("Asia/Vladivostok", "dekanat@example.org", "Консультация переносится"),
)
NOT_SNAPSHOT = {
    "processed_updates",  # the press's own update id is the one thing it adds
    "inbox_updates",  # polling's bookkeeping: the press kept until handled (bot.polling)
}

ROLES = ("student", "teacher", "dean", "stranger")
ROLE_NAMES = {
    "student": "student of another group",
    "teacher": "teacher of another exam",
    "dean": "dean of another faculty",
    "stranger": "stranger",
}


@dataclass
class Hostile:
    user: FakeUser
    private: JsonDict  # a message of the bot in the hostile's private chat
    group: JsonDict  # one in a group chat the hostile is in


@dataclass
class World:
    api: FakeBotAPI
    runner: BotRunner
    ids: dict[str, int]
    card: JsonDict  # the absence statement's card in the victims' dean's office chat
    teacher: Hostile  # the victims' own teacher: the control, whose presses do count
    hostile: dict[str, Hostile] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """A press: `data` from the world's ids, pressed `where`; `own` names the roles for
    whom it acts on their own data only (answered plainly, still changing nothing)."""

    label: str
    data: Callable[[dict[str, int]], str]
    where: str = "private"  # private | group | victims-chat
    own: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()


def _roll(action: str, exam: str = "latin") -> Callable[[dict[str, int]], str]:
    return lambda ids: RollCB(action=action, exam_id=ids[exam], student_id=ids["karimov"]).pack()


def _roll_typed(
    cls: type[CallbackData], exam: str = "latin", **fields: object
) -> Callable[[dict[str, int]], str]:
    """A console button with typed fields (a mark, a grade, a count ...) on `exam`."""
    return lambda ids: cls(exam_id=ids[exam], page=0, **fields).pack()


def _mark(mark: str, exam: str = "latin", *, card: bool = False) -> Callable[[dict[str, int]], str]:
    return lambda ids: RollMarkCB(
        exam_id=ids[exam], student_id=ids["karimov"], page=0, mark=mark, card=card
    ).pack()


def _grade(grade: str, exam: str = "latin") -> Callable[[dict[str, int]], str]:
    return lambda ids: RollGradeCB(
        exam_id=ids[exam], student_id=ids["karimov"], page=0, grade=grade
    ).pack()


def _const(data: str) -> Callable[[dict[str, int]], str]:
    return lambda _ids: data


def _forged(cls: type[CallbackData], *parts: object) -> str:
    """Data no button of this version carries (an action outside the enum cannot be
    packed): a forgery, or a button of an older version."""
    return ":".join([cls.__prefix__, *map(str, parts)])


def _decide(action: str, statement: str = "absence") -> Callable[[dict[str, int]], str]:
    return lambda ids: DecideCB(action=action, statement_id=ids[statement]).pack()


STUDENT_ONLY = frozenset({"student"})
DEAN_ONLY = frozenset({"dean"})

CASES = (
    # Getting in, language, time zone: no object of anyone else's to aim at; junk values.
    Case("join-confirm", _const(JoinCB(confirm=True).pack())),
    Case("join-no", _const(JoinCB(confirm=False).pack())),
    Case("lang-unknown", _const(_forged(LangCB, "xx"))),
    Case("tz-unknown", _const(TzCB(zone="Mars/Olympus").pack())),
    # The teacher's links on the victims' exam.
    Case("exam-link", lambda ids: ExamCB(action="link", exam_id=ids["latin"]).pack()),
    Case("exam-moodle", lambda ids: ExamCB(action="moodle", exam_id=ids["latin"]).pack()),
    Case("exam-junk", lambda ids: _forged(ExamCB, "roll", ids["latin"])),
    # Binding a chat: the victims' faculty; one's own faculty over the victims' chat.
    Case("bind-victim-faculty", lambda ids: BindCB(faculty_id=ids["lech"]).pack()),
    Case(
        "bind-victim-faculty-in-group", lambda ids: BindCB(faculty_id=ids["lech"]).pack(), "group"
    ),
    Case(
        "bind-own-faculty-in-victims-chat",
        lambda ids: BindCB(faculty_id=ids["ped"]).pack(),
        "victims-chat",
    ),
    # Statements: the victim's exam and statements; a draft's buttons without a draft.
    Case("statement-exam", lambda ids: StmtExamCB(exam_id=ids["latin"]).pack()),
    Case("statement-kind", _const(StmtKindCB(kind="absence").pack())),
    Case("statement-reason", _const(StmtReasonCB(reason="illness").pack())),
    *(
        Case(f"statement-{action}", _const(StmtActCB(action=action).pack()))
        for action in ("send", "edit", "cancel", "done", "skip", "zone")
    ),
    Case("withdraw-absence", lambda ids: StmtWithdrawCB(statement_id=ids["absence"]).pack()),
    Case("withdraw-timezone", lambda ids: StmtWithdrawCB(statement_id=ids["timezone"]).pack()),
    Case("add-documents", lambda ids: StmtAddDocsCB(statement_id=ids["absence"]).pack()),
    Case(
        "reschedule-confirm",
        lambda ids: RescheduleCB(statement_id=ids["timezone"], confirm=True).pack(),
    ),
    Case(
        "reschedule-decline",
        lambda ids: RescheduleCB(statement_id=ids["timezone"], confirm=False).pack(),
    ),
    # Deciding: forged in one's own chat, and on the real card in the victims' chat.
    *(Case(f"decide-{a}", _decide(a)) for a in ("approve", "reject", "more")),
    Case("decide-junk", lambda ids: _forged(DecideCB, "junk", ids["absence"])),
    Case("decide-retime", _decide("retime", "timezone")),
    *(
        Case(f"decide-{a}-on-the-card", _decide(a), "victims-chat")
        for a in ("approve", "reject", "more")
    ),
    # The exam-day console on the victims' exam, aimed at the victim.
    Case("roll-mark", _mark("absent")),
    Case("roll-card-mark", _mark("excused", card=True)),
    Case("roll-outage", _mark("outage", card=True)),
    Case("roll-grade", _grade("excellent")),
    Case("roll-rest-absent", _roll("rest")),
    Case("roll-card", _roll("card")),
    Case("roll-tickets", _roll("tickets")),
    Case("roll-tickets-random", _roll_typed(RollTicketsCB, method="random", count=10)),
    Case("roll-tickets-list", _roll_typed(RollTicketsCB, method="list")),
    Case("roll-split", _roll("split")),
    Case("roll-split-2", _roll_typed(RollPartsCB, parts=2)),
    Case("roll-split-2x30", _roll_typed(RollSplitCB, parts=2, minutes=30)),
    Case("roll-written", _roll("written")),
    Case("roll-written-60", _roll_typed(RollWrittenCB, minutes=60)),
    Case("roll-texts", _roll("texts")),
    Case("roll-confirm", _roll("confirm")),
    Case("roll-sheet", _roll("sheet")),
    Case("roll-show", _roll("show")),
    Case("roll-junk", lambda ids: _forged(RollCB, "junk", ids["latin"], ids["karimov"], 0)),
    Case(
        "roll-mark-junk",
        lambda ids: _forged(RollMarkCB, ids["latin"], ids["karimov"], 0, "junk", 0),
    ),
    # ...and the victim on the hostile teacher's own exam (Анатомия, group 1101).
    Case("own-roll-mark-victim", _mark("present", exam="anatomy")),
    Case("own-roll-outage-victim", _mark("outage", exam="anatomy", card=True)),
    Case("own-roll-grade-victim", _grade("excellent", exam="anatomy")),
    Case("own-roll-card-victim", _roll("card", exam="anatomy")),
    # Reports: a dean gets their own faculty's, never the victims'.
    *(
        Case(f"report-{kind}", _const(ReportCB(kind=kind).pack()), own=DEAN_ONLY)
        for kind in ("additional", "statements", "attendance")
    ),
    Case("report-junk", _const(_forged(ReportCB, "junk"))),
    # Announcements to the victims.
    Case("announce-group", lambda ids: AnnounceCB(target="group", target_id=ids["g1102"]).pack()),
    Case(
        "announce-faculty", lambda ids: AnnounceCB(target="faculty", target_id=ids["lech"]).pack()
    ),
    Case("announce-exam", lambda ids: AnnounceCB(target="exam", target_id=ids["latin"]).pack()),
    Case("announce-junk", lambda ids: _forged(AnnounceCB, "junk", ids["g1102"])),
    Case("announce-send", _const(AnnounceActCB(action="send").pack())),
    Case("announce-cancel", _const(AnnounceActCB(action="cancel").pack())),
    # Pages of a list: only ever the presser's own list, refused to anyone else.
    Case("page-inbox", _const(PageCB(listing=Listing.INBOX, page=1).pack()), own=DEAN_ONLY),
    Case(
        "page-additional", _const(PageCB(listing=Listing.ADDITIONAL, page=1).pack()), own=DEAN_ONLY
    ),
    Case(
        "page-statements",
        _const(PageCB(listing=Listing.STATEMENTS, page=1).pack()),
        own=STUDENT_ONLY,
    ),
    Case(
        "page-exams",
        _const(PageCB(listing=Listing.EXAMS, page=1).pack()),
        own=frozenset({"teacher"}),
    ),
    # /mydata: only ever the presser's own (unlinking oneself is no attack: not pressed).
    Case("mydata-file", _const(MyDataCB(action="file").pack()), own=STUDENT_ONLY),
    Case("mydata-unlink", _const(MyDataCB(action="unlink").pack()), own=STUDENT_ONLY),
    Case("mydata-keep", _const(MyDataCB(action="keep").pack()), own=STUDENT_ONLY),
    Case("mydata-junk", _const(_forged(MyDataCB, "junk")), own=STUDENT_ONLY),
    Case("mydata-confirm", _const(MyDataCB(action="confirm").pack()), skip=STUDENT_ONLY),
)


def _params() -> Iterator[Any]:
    for role in ROLES:
        for case in CASES:
            if role not in case.skip:
                yield pytest.param(role, case, id=f"{role}-{case.label}")


# --- the world -----------------------------------------------------------------------------


async def _in_group(api: FakeBotAPI, user: FakeUser, chat: JsonDict, text: str) -> JsonDict:
    after = api.mark()
    user.send(text, chat=chat)
    return await api.next_message(chat["id"], after=after)


async def _message_with(api: FakeBotAPI, chat_id: int, words: str, after: int) -> JsonDict:
    """The first message into the chat since `after` whose text holds `words`."""
    while True:
        message = await api.next_message(chat_id, after=after)
        after = api.mark()  # next_message remembers where it stopped; only forward from here
        if words in message.get("text", ""):
            return message


async def _open_roll(api: FakeBotAPI, teacher: FakeUser, discipline: str) -> JsonDict:
    """/exams, then the roll button on the exam's card (not the consultation's)."""
    after = api.mark()
    teacher.send("/exams")
    while True:
        card = await api.next_message(teacher.id, after=after)
        after = api.mark()
        if discipline in card.get("text", "") and "📋" in str(card.get("reply_markup")):
            return await press(api, teacher, card, button(card, "📋")["callback_data"])


async def _quiet(runner: BotRunner) -> None:
    """Everything due is sent and the chores have run: nothing changes unless pressed."""
    await runner.settle()
    async with asyncio.timeout(20):
        while True:
            async with runner.sessionmaker() as session:
                due = await session.scalar(
                    select(func.count())
                    .select_from(Notice)
                    .where(
                        Notice.status.in_((NoticeStatus.PENDING, NoticeStatus.CLAIMED)),
                        Notice.due_at <= runner.clock.now(),
                    )
                )
            if not due:
                break
            await asyncio.sleep(0.05)
    assert runner.app is not None and runner.app.keeper and runner.app.progress
    await runner.app.keeper.run_once()
    await runner.app.progress.run_once()
    await runner.api.idle(quiet=0.2)


async def _ids(runner: BotRunner) -> dict[str, int]:
    async with runner.sessionmaker() as session:

        async def one(query: Any) -> int:
            found = await session.scalar(query)
            assert found is not None
            return int(found)

        statements = {
            kind: statement_id
            for statement_id, kind in await session.execute(select(Statement.id, Statement.kind))
        }
        return {
            "latin": await exam_id(runner.sessionmaker, "Латинский язык"),
            "anatomy": await exam_id(runner.sessionmaker, "Анатомия"),
            "karimov": await one(select(Student.id).where(Student.record_book == "2611022")),
            "ivanova": await one(select(Student.id).where(Student.record_book == "2611021")),
            "g1102": await one(select(Group.id).where(Group.name == "1102")),
            "lech": await one(select(Faculty.id).where(Faculty.name == "Лечебный факультет")),
            "ped": await one(select(Faculty.id).where(Faculty.name == "Педиатрический факультет")),
            "absence": statements["absence"],
            "timezone": statements["timezone"],
        }


async def _victims(api: FakeBotAPI, runner: BotRunner) -> tuple[JsonDict, FakeUser]:
    """The victims and their objects; returns the absence statement's card and the teacher."""
    student = api.user(41_001, language_code="en")
    await link_student(api, student, "2611022", "Каримов")
    teacher = api.user(41_002, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Николаева Ольга Петровна")
    dean = api.user(41_003, language_code="en")
    chat = await deanery_chat(api, runner, dean, "Лечебный факультет", VICTIM_CHAT)
    await _in_group(api, dean, chat, "/email dekanat@example.org")

    # An absence statement with a photo; its card comes to the dean's office chat.
    await start_absence(api, student, "Латинский язык", "Illness", "ОРВИ, температура 38,5")
    after = api.mark()
    api.send_photo(student, b"\xff\xd8\xff certificate")
    ack = await api.next_message(student.id, after=after)
    preview = await press(api, student, ack, button(ack, "Done")["callback_data"])
    after = api.mark()
    await press(api, student, preview, button(preview, "Send")["callback_data"])
    card = await _message_with(api, VICTIM_CHAT, "ОРВИ", after)

    # A time-zone statement, approved, its new time waiting for the teacher's answer.
    menu = await say(api, student, "/statement")
    reply = await press(api, student, menu, button(menu, "Латинский язык")["callback_data"])
    reply = await press(api, student, reply, button(reply, "time zone")["callback_data"])
    await say(api, student, "Asia/Vladivostok")
    reply = await say(api, student, "14:00–18:00")
    preview = await press(api, student, reply, button(reply, "Skip")["callback_data"])
    after = api.mark()
    await press(api, student, preview, button(preview, "Send")["callback_data"])
    card2 = await _message_with(api, VICTIM_CHAT, "Asia/Vladivostok", after)
    after = api.mark()
    dean.click(card2, button(card2, "Одобрить")["callback_data"])  # the chat's cards: Russian
    prompt = await _message_with(api, VICTIM_CHAT, "new date and time", after)
    await runner.settle()  # the prompt's id is kept right after it is sent
    told = after = api.mark()
    dean.reply(prompt, "23.12.2026 14:00")  # privacy mode: only a reply reaches the bot
    asked = await api.next_message(VICTIM_CHAT, after=after)
    assert "teacher is asked to confirm" in asked["text"]
    # The teacher's request to confirm comes through the outbox: let it arrive before the
    # roll opens, or a press below takes it for the roll's edit (seen on a busy machine).
    await api.wait_for(
        "sendMessage",
        chat_id=teacher.id,
        after=told,
        predicate=lambda c: "Do you confirm" in str(c.params.get("text")),
        timeout=20,
    )

    # The teacher's roll: split in two, the victim present and graded. The teacher's
    # notices go first: paced like Telegram, and a press's redraw follows the press's
    # commit, so a notice arriving amid the presses would be read as the redraw.
    await _quiet(runner)
    roll = await _open_roll(api, teacher, "Латинский язык")
    roll = await press(api, teacher, roll, button(roll, "Subgroups")["callback_data"])
    roll = await press(api, teacher, roll, button(roll, "2")["callback_data"])
    roll = await press(api, teacher, roll, button(roll, "60")["callback_data"])
    karimov = button(roll, "Каримов")["callback_data"]
    roll = await press(api, teacher, roll, karimov)
    marked = RollMarkCB.unpack(karimov)
    to_card = RollCB(
        action="card", exam_id=marked.exam_id, student_id=marked.student_id, page=marked.page
    )
    card_of = await press(api, teacher, roll, to_card.pack())
    await press(api, teacher, card_of, button(card_of, "good")["callback_data"])

    # An announcement to the victim's group.
    menu = await say(api, dean, "/announce")
    await press(api, dean, menu, button(menu, "Group 1102")["callback_data"])
    preview = await say(api, dean, "Консультация переносится на 15:00.")
    await press(api, dean, preview, button(preview, "Send")["callback_data"])
    return card, teacher


async def _hostile(api: FakeBotAPI, runner: BotRunner) -> dict[str, Hostile]:
    student = api.user(42_001, language_code="en")
    await link_student(api, student, "2611001", "Абдуллина")
    teacher = api.user(42_002, language_code="en")
    await join_by_invite(api, runner, teacher, InviteRole.TEACHER, "Смирнова Елена Викторовна")
    # Her own roll exists already: pressing at it is not what changes roll_entries.
    await _open_roll(api, teacher, "Анатомия")
    dean = api.user(42_003, language_code="en")
    dean_chat = await deanery_chat(api, runner, dean, "Педиатрический факультет", HOSTILE_DEAN_CHAT)
    stranger = api.user(42_004, language_code="en")

    made = {}
    for role, user in (
        ("student", student),
        ("teacher", teacher),
        ("dean", dean),
        ("stranger", stranger),
    ):
        group = (
            dean_chat
            if role == "dean"
            else {"id": -100_430 - user.id % 100, "type": "supergroup", "title": "Курс"}
        )
        made[role] = Hostile(
            user, await say(api, user, "/help"), await _in_group(api, user, group, "/help")
        )
    return made


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("authorisation")
    async with FakeBotAPI(token=TOKEN, bot_username="examinator_test_bot", pace=FAST_PACE) as api:
        settings = Settings(
            bot_token=TOKEN,
            telegram_api_url=api.base_url,
            database_url=f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
            admin_ids=frozenset({ADMIN_ID}),
            polling_timeout=1,
            institution_name="КГМУ",
            files_dir=tmp / "files",
            journal_dir=tmp / "journal",
            flood_limit=0,  # a few hundred presses in a row are the test, not a flood
            edit_interval=0,  # the roll redrawn at once, as in tests/e2e/conftest.py
            chat_interval=FAST_CHAT_INTERVAL,  # and the pace in a chat ten times faster
            _env_file=None,
        )
        runner = BotRunner(api, settings, MovableClock(NOW))
        await runner.start()
        try:
            await seed_samples(runner)
            card, teacher = await _victims(api, runner)
            hostile = await _hostile(api, runner)
            control = Hostile(teacher, await say(api, teacher, "/help"), {})
            await _quiet(runner)
            yield World(api, runner, await _ids(runner), card, control, hostile)
        finally:
            await runner.stop()


# --- checks --------------------------------------------------------------------------------


async def snapshot(runner: BotRunner) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but NOT_SNAPSHOT), in primary-key order."""
    tables = {}
    async with runner.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_SNAPSHOT:
                continue
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = await session.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}"))
            tables[table.name] = [tuple(row) for row in rows]
    return tables


def differences(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    found = []
    for name, rows in before.items():
        if rows != after[name]:
            gone = [r for r in rows if r not in after[name]]
            new = [r for r in after[name] if r not in rows]
            found.append(f"{name}: removed {gone[:3]}, added {new[:3]}")
    return found


def what_reached(api: FakeBotAPI, chats: set[int], after: int) -> list[str]:
    """Texts, captions and document contents the bot sent or edited into these chats."""
    seen = []
    for call in api.calls[after:]:
        if call.method.lower() == "getupdates" or str(call.chat_id) not in {str(c) for c in chats}:
            continue
        seen += [str(call.params.get(k)) for k in ("text", "caption") if call.params.get(k)]
        seen += [content.decode("utf-8", "ignore") for _name, content in call.files.values()]
    return seen


# --- the matrix ----------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "case"), list(_params()))
async def test_forged_press_changes_nothing(world: World, role: str, case: Case) -> None:
    api, runner = world.api, world.runner
    hostile = world.hostile[role]
    message = {"private": hostile.private, "group": hostile.group, "victims-chat": world.card}[
        case.where
    ]
    shown_before = _shown(api, message)
    data = case.data(world.ids)
    who = f"{ROLE_NAMES[role]} pressing {data!r} ({case.where})"

    before = await snapshot(runner)
    after = api.mark()
    update = hostile.user.click(message, data)
    await runner.settle()  # handled and committed; its replies were awaited by then

    changed = differences(before, await snapshot(runner))
    assert not changed, f"{who} changed the database:\n" + "\n".join(changed)
    answers = [
        c
        for c in api.calls[after:]
        if c.method == "answerCallbackQuery"
        and c.params.get("callback_query_id") == update["callback_query"]["id"]
    ]
    answer = answers[0].params if answers else None
    if role not in case.own:
        assert answer is None or answer.get("show_alert"), f"{who} was not refused: {answer}"
    chats = {hostile.user.id, int(hostile.group["chat"]["id"])}
    reached = [*what_reached(api, chats, after), str((answer or {}).get("text") or "")]
    leaked = [mark for mark in VICTIM_MARKS if any(mark in seen for seen in reached)]
    assert not leaked, f"{who} was shown the victims' {leaked}: {reached}"
    if case.where == "victims-chat":
        assert _shown(api, message) == shown_before, f"{who} edited the victims' card"


def _shown(api: FakeBotAPI, message: JsonDict) -> JsonDict | None:
    chat = int(message["chat"]["id"])
    return next((m for m in api.messages(chat) if m["message_id"] == message["message_id"]), None)


async def test_the_same_press_by_the_owner_does_count(world: World) -> None:
    """The control: the checks above would see a change. The victims' teacher marks
    Иванова absent with the very kind of press the others were refused."""
    api, runner = world.api, world.runner
    data = RollMarkCB(
        exam_id=world.ids["latin"], student_id=world.ids["ivanova"], page=0, mark="absent"
    ).pack()
    before = await snapshot(runner)
    update = world.teacher.user.click(world.teacher.private, data)
    answer = await api.callback_answer(update)
    await runner.settle()
    assert not answer.params.get("show_alert")
    changed = differences(before, await snapshot(runner))
    assert [line.split(":")[0] for line in changed] == ["roll_entries"]
