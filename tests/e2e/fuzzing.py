"""Hostile and odd updates for the fuzz test (tests/e2e/test_fuzz.py) and bench/fuzz.py.

- `updates()`: hypothesis strategies that draw what Telegram could deliver, and what a
  modified client could make it deliver: odd texts (empty, 10,000 characters, control
  characters, RTL, emoji, commands with junk arguments, /start with garbage), content
  types nobody handles (sticker, voice, location, contact, poll, dice…), edited
  messages, group chats and channels, button presses with random or half-valid data
  (real prefixes with junk fields, overlong, none at all, on a message the bot can no
  longer see), optional fields left out, users with and without a language.
- `FuzzWorld`: the real dispatcher, built as `python -m bot` builds it, fed in process
  (`Dispatcher.feed_update`) with the bot talking to the fake Bot API; the sample roster
  and schedule, one account of every role, and a statement to press buttons at.
- `FuzzWorld.check()`: what must hold in the database afterwards.

A draft update is plain JSON with a few blanks the world fills in when it feeds it (the
update id, file ids of uploaded bytes, the message a button is on): only the world knows
which messages and files exist by then.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from itertools import count
from pathlib import Path
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import StatesGroup
from aiogram.types import Update
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bot.app import Application, build_application
from bot.config import SUPPORTED_LOCALES, Settings
from bot.db.fsm import WROTE
from bot.db.models import (
    DeaneryChat,
    DeanMember,
    Exam,
    Faculty,
    FsmRecord,
    ProcessedUpdate,
    Student,
    Teacher,
    User,
)
from bot.domain.reminders import NoticeKind
from bot.domain.timezones import parse_timezone
from bot.handlers import states
from bot.keyboards import callbacks
from bot.services.imports import import_roster, import_schedule
from bot.services.outbox import Outbox
from bot.services.roll import RollRules, load_roll, own_exam
from bot.services.statements import announce_statement, submit
from tests.e2e.conftest import SAMPLES, MovableClock
from tests.e2e.fakeapi import FakeBotAPI

JsonDict = dict[str, Any]

# During the Latin exam of group 1102 (08:30 Moscow): the roll, works and statements are live.
NOW = datetime(2026, 12, 23, 6, 0, tzinfo=UTC)
ADMIN = 900_001
STUDENT = 31_001  # Каримов, group 1102 (Лечебный факультет)
OTHER_STUDENT = 31_002  # Фёдоров, group 2101 (Педиатрический факультет)
TEACHER = 31_003  # Николаева: Латинский язык, group 1102
DEAN = 31_004  # Лечебный факультет, with a bound dean's office chat
STRANGER = 31_005  # never linked
NEWCOMERS = range(31_100, 31_120)  # first seen during the run
ANONYMOUS_ADMIN = 1_087_968_824  # Telegram's GroupAnonymousBot: is_bot, in groups
SERVICE_USER = 777_000  # Telegram itself (channel posts forwarded to a linked group)
DEANERY_CHAT = -100_310
OTHER_GROUP = -100_320
CHANNEL = -100_330
KNOWN_USERS = (STUDENT, OTHER_STUDENT, TEACHER, DEAN, ADMIN, STRANGER)

COMMANDS = (
    "start", "help", "lang", "tz", "schedule", "calendar", "plan", "statement", "statements",
    "mydata", "exams", "cancel", "bind", "email", "inbox", "additional", "reports", "announce",
    "invite", "status", "semester", "unlock", "unknown", "START", "Start",
)  # fmt: skip
ODD_TEXTS = (
    "",
    " ",
    "\u202eevil\u202c",  # right-to-left override
    "שלום עולם",
    "مرحبا بالعالم",
    "👨‍👩‍👧‍👦🏳️‍🌈🇷🇺",
    "\x01\x02\x07\x1b[31m\x7f",
    "\ufeff\u200b\u200d",
    "<b>bold</b> <a href='javascript:alert(1)'>x</a> &amp; </i>",
    "{name} {0} %s %(x)s {{}}",
    "'; DROP TABLE students; --",
    "../../etc/passwd",
    "Иванова 7\nКаримов 3\n2611022 99",
    "24.12.2026 14:00",
    "UTC+14",
    "Asia/Vladivostok",
    "https://example.org/" + "a" * 300,
    "2611022",
    "Каримов",
)
# Heads of real files and of files that only pretend to be one.
MAGIC_HEADS = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"\x89PNG\r\n\x1a\n",
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
    b"MZ\x90\x00\x03\x00\x00\x00",
    b"PK\x03\x04\x14\x00",
    b"\x7fELF\x02\x01\x01",
    b"faculty,group,full_name,record_book\n\xd0\x9b,1101,x,1\n",
)
ROLL_ACTIONS = (
    "rest", "card", "tickets", "split", "written", "texts", "confirm", "sheet", "show",
    "mark", "cmark", "grade", "tk", "sp", "wr",  # the actions of an older version
)  # fmt: skip
FIELD_WORDS = (
    "link", "moodle", "approve", "reject", "more", "retime", "done", "send", "edit", "cancel",
    "skip", "zone", "file", "unlink", "confirm", "keep", "group", "faculty", "exam", "present",
    "absent", "excused", "outage", "resolved", "excellent", "pass", "fail", "random-10",
    "last_digit-10", "list-0", "2x20", "60", "last_digit", "list", "random", "unmarked",
    "failure", "good", "satisfactory", "not_passed", "passed", "timezone", "absence", "appeal",
    "illness", "ru", "en", "Europe/Moscow", "additional", "statements", "attendance", "1", "0",
    "true", "false",
)  # fmt: skip
CALLBACK_CLASSES = tuple(
    sorted(
        (
            cls
            for cls in vars(callbacks).values()
            if isinstance(cls, type) and issubclass(cls, CallbackData) and cls is not CallbackData
        ),
        key=lambda cls: cls.__prefix__,
    )
)
CALLBACK_PREFIXES = tuple(cls.__prefix__ for cls in CALLBACK_CLASSES)
FSM_STATES = frozenset(
    name
    for group in vars(states).values()
    if isinstance(group, type) and issubclass(group, StatesGroup) and group is not StatesGroup
    for name in group.__all_states_names__
)


# --- strategies ----------------------------------------------------------------------------


def any_text(min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Any text Telegram could deliver (valid UTF-8): every code point but lone surrogates and
    U+0000, which Telegram does not pass on (and which PostgreSQL could not store)."""
    chars = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
    return st.text(chars, min_size=min_size, max_size=max_size)


@cache  # built once: hypothesis validates a strategy anew each time it is made
def long_texts() -> st.SearchStrategy[str]:
    return st.builds(
        lambda piece, times: (piece * times)[:10_000],
        st.sampled_from(["я", "a", "👍", "\u202e", "/", "x y ", "\n"]),
        st.integers(1000, 10_000),
    )


@cache
def commands() -> st.SearchStrategy[str]:
    junk = st.one_of(st.just(""), any_text(max_size=60), st.sampled_from(ODD_TEXTS), long_texts())
    return st.builds(
        lambda name, mention, args: f"/{name}{mention}" + (f" {args}" if args else ""),
        st.sampled_from(COMMANDS),
        st.sampled_from(["", "@examinator_test_bot", "@other_bot"]),
        junk,
    )


@cache
def texts() -> st.SearchStrategy[str]:
    return st.one_of(
        any_text(max_size=200),
        st.sampled_from(ODD_TEXTS),
        st.text(
            st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"], exclude_characters="\x00"),
            max_size=30,
        ),
        long_texts(),
        commands(),
        commands(),
    )


@cache
def language_codes() -> st.SearchStrategy[str]:
    return st.sampled_from(["ru", "en", "uk", "tt", "en-US", "pt-br", "zh-hans", "", "xx"]) | (
        any_text(max_size=10)
    )


@cache
def users() -> st.SearchStrategy[JsonDict]:
    # Mostly the world's own accounts: their roles and dialogues reach the deep handlers.
    known = st.sampled_from(KNOWN_USERS)
    people = st.fixed_dictionaries(
        {
            "id": st.one_of(known, known, known, st.sampled_from(NEWCOMERS)),
            "is_bot": st.just(False),
            # Telegram's limits: a name has 1 to 64 characters.
            "first_name": any_text(min_size=1, max_size=64)
            | st.sampled_from([t for t in ODD_TEXTS if 0 < len(t) <= 64]),
        },
        optional={
            "last_name": any_text(max_size=64),
            "username": st.from_regex(r"[A-Za-z][A-Za-z0-9_]{3,31}", fullmatch=True),
            "language_code": language_codes(),
            "is_premium": st.booleans(),
        },
    )
    odd = st.sampled_from(
        [
            {
                "id": ANONYMOUS_ADMIN,
                "is_bot": True,
                "first_name": "Group",
                "username": "GroupAnonymousBot",
            },
            {"id": SERVICE_USER, "is_bot": False, "first_name": "Telegram"},
            {"id": 123_999, "is_bot": True, "first_name": "Other bot", "username": "other_bot"},
        ]
    )
    return st.one_of(people, people, people, people, odd)


def _file_id(kind: str) -> JsonDict:
    return {"file_id": f"{kind}-id", "file_unique_id": f"{kind}-unique"}


@cache
def contents() -> st.SearchStrategy[JsonDict]:
    """What a message carries. "_file" asks the world to upload the bytes (photo, document)."""
    short = any_text(min_size=1, max_size=40)
    caption = st.none() | texts()
    document = st.fixed_dictionaries(
        {"_file": st.binary(max_size=64) | st.sampled_from(MAGIC_HEADS)},
        optional={
            "file_name": st.sampled_from(
                ["справка.pdf", "roster.csv", "schedule.xlsx", "virus.exe", "a", "../../x.pdf"]
            )
            | any_text(max_size=80),
            "mime_type": st.sampled_from(
                ["application/pdf", "image/jpeg", "text/csv", "application/x-msdownload"]
            )
            | any_text(max_size=30),
            "file_size": st.integers(0, 60 * 1024 * 1024),
        },
    )
    return st.one_of(
        st.builds(lambda t: {"text": t}, texts()),
        st.builds(lambda t: {"text": t}, texts()),
        st.builds(lambda t: {"text": t}, commands()),
        st.builds(lambda d, c: {"document": d, "caption": c}, document, caption),
        st.builds(
            lambda b, c, g: {"photo": {"_file": b}, "caption": c, "media_group_id": g},
            st.binary(max_size=32) | st.sampled_from(MAGIC_HEADS),
            caption,
            st.none() | st.sampled_from(["album-1", "album-2"]),
        ),
        st.builds(
            lambda e: {
                "sticker": {
                    **_file_id("sticker"),
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": e,
                }
            },
            st.sampled_from(["😀", "🤬", "x"]),
        ),
        st.builds(lambda d: {"voice": {**_file_id("voice"), "duration": d}}, st.integers(0, 3600)),
        st.builds(
            lambda lat, lon: {"location": {"latitude": lat, "longitude": lon}},
            st.floats(-90, 90),
            st.floats(-180, 180),
        ),
        st.builds(
            lambda phone, name, uid: {
                "contact": {"phone_number": phone, "first_name": name, "user_id": uid}
            },
            short,
            short,
            st.none() | st.sampled_from(KNOWN_USERS),
        ),
        st.builds(
            lambda q: {
                "poll": {
                    "id": "poll-1",
                    "question": q,
                    "options": [
                        {"persistent_id": "a", "text": "да", "voter_count": 0},
                        {"persistent_id": "b", "text": "нет", "voter_count": 0},
                    ],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": False,
                    "members_only": False,
                }
            },
            short,
        ),
        st.builds(
            lambda emoji, value: {"dice": {"emoji": emoji, "value": value}},
            st.sampled_from(["🎲", "🎯", "🏀", "⚽", "🎳", "🎰"]),
            st.integers(1, 64),
        ),
        st.builds(
            lambda d: {"video": {**_file_id("video"), "width": 1, "height": 1, "duration": d}},
            st.integers(0, 100),
        ),
        st.builds(
            lambda d: {"video_note": {**_file_id("note"), "length": 240, "duration": d}},
            st.integers(0, 60),
        ),
        st.builds(
            lambda title: {
                "venue": {
                    "location": {"latitude": 55.79, "longitude": 49.12},
                    "title": title,
                    "address": "Казань",
                }
            },
            short,
        ),
        st.just({"new_chat_members": [{"id": 123456, "is_bot": True, "first_name": "Examinator"}]}),
        st.just({"left_chat_member": {"id": STUDENT, "is_bot": False, "first_name": "x"}}),
        st.builds(lambda t: {"new_chat_title": t}, short),
        st.just({"group_chat_created": True}),
    )


def chats(user: JsonDict) -> st.SearchStrategy[JsonDict]:
    private = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    return st.sampled_from(
        [
            private,
            private,
            {"id": DEANERY_CHAT, "type": "supergroup", "title": "Деканат"},
            {"id": OTHER_GROUP, "type": "group", "title": "Флуд"},
        ]
    )


@st.composite
def messages(draw: st.DrawFn) -> JsonDict:
    user = draw(users())
    message: JsonDict = {"chat": draw(chats(user)), "from": user, **draw(contents())}
    if draw(st.booleans()) and message["chat"]["type"] == "supergroup":
        message["sender_chat"] = message["chat"]  # an anonymous admin writes as the group
    return {k: v for k, v in message.items() if v is not None}


@cache
def callback_data() -> st.SearchStrategy[str | None]:
    real = st.integers(0, 12)  # the sample's exams, statements, students, groups, faculties
    absurd = st.sampled_from([-1, 2**31 - 1, 2**31, 2**63, -(2**63), 10**30])
    ids = st.one_of(real, real, absurd)
    words = st.sampled_from(ROLL_ACTIONS + FIELD_WORDS) | any_text(max_size=12)
    fields = st.one_of(ids.map(str), words)

    def shaped(cls: type[CallbackData]) -> st.SearchStrategy[str]:
        """The class's own shape, each field of its type: real values to absurd ones."""
        parts = [
            st.sampled_from(["0", "1", "", "2", "yes"])
            if info.annotation is bool
            else ids.map(str) | words
            if info.annotation is int
            else words
            for info in cls.model_fields.values()
        ]
        return st.tuples(*parts).map(lambda values: ":".join([cls.__prefix__, *values]))

    half_valid = st.builds(
        lambda prefix, rest: ":".join([prefix, *rest]),
        st.sampled_from(CALLBACK_PREFIXES),
        st.lists(fields, max_size=6),
    )
    roll = st.builds(
        lambda action, exam, student, page: f"rl:{action}:{exam}:{student}:{page}",
        st.sampled_from(ROLL_ACTIONS) | any_text(max_size=8),
        ids,
        ids,
        ids,
    )
    overlong = st.builds(
        lambda prefix, n: f"{prefix}:" + "9" * n,
        st.sampled_from(CALLBACK_PREFIXES),
        st.integers(60, 400),
    )
    return st.one_of(
        *(shaped(cls) for cls in CALLBACK_CLASSES),
        half_valid,
        roll,
        overlong,
        any_text(max_size=80),
        st.none(),
    )


@st.composite
def callback_queries(draw: st.DrawFn) -> JsonDict:
    user = draw(users())
    query: JsonDict = {"from": user, "chat_instance": "ci", "data": draw(callback_data())}
    where = draw(st.sampled_from(["private", "private", "deanery", "inaccessible", "inline"]))
    if where == "inline":
        query["inline_message_id"] = "inline-1"
    else:
        chat = (
            {"id": DEANERY_CHAT, "type": "supergroup", "title": "Деканат"}
            if where == "deanery"
            else {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        )
        query["_message"] = {"chat": chat, "inaccessible": where == "inaccessible"}
    return {k: v for k, v in query.items() if v is not None}


@st.composite
def member_updates(draw: st.DrawFn) -> JsonDict:
    user = draw(users())
    statuses = st.sampled_from(["member", "kicked", "left"])
    old, new = draw(statuses), draw(statuses)
    chat = draw(chats(user))
    bot = {"id": 123456, "is_bot": True, "first_name": "Examinator"}

    def member(status: str) -> JsonDict:
        made: JsonDict = {"status": status, "user": bot}
        if status == "kicked":
            made["until_date"] = 0
        return made

    return {
        "chat": chat,
        "from": user,
        "date": 1_800_000_000,
        "old_chat_member": member(old),
        "new_chat_member": member(new),
    }


@cache
def updates() -> st.SearchStrategy[JsonDict]:
    """One draft update (see the module docstring)."""
    message = messages()
    channel_post = st.builds(
        lambda content: {
            "chat": {"id": CHANNEL, "type": "channel", "title": "Новости"},
            "sender_chat": {"id": CHANNEL, "type": "channel", "title": "Новости"},
            **content,
        },
        contents(),
    )
    return st.one_of(
        message.map(lambda m: {"message": m}),
        message.map(lambda m: {"message": m}),
        message.map(lambda m: {"message": m}),
        message.map(lambda m: {"edited_message": {**m, "edit_date": 1_800_000_100}}),
        channel_post.map(lambda m: {"channel_post": m}),
        channel_post.map(lambda m: {"edited_channel_post": {**m, "edit_date": 1_800_000_100}}),
        callback_queries().map(lambda q: {"callback_query": q}),
        callback_queries().map(lambda q: {"callback_query": q}),
        callback_queries().map(lambda q: {"callback_query": q}),
        member_updates().map(lambda m: {"my_chat_member": m}),
        st.builds(
            lambda user, query: {
                "inline_query": {"id": "iq", "from": user, "query": query, "offset": ""}
            },
            users(),
            any_text(max_size=60),
        ),
        st.builds(
            lambda user: {
                "poll_answer": {
                    "poll_id": "poll-1",
                    "option_ids": [0],
                    "option_persistent_ids": ["a"],
                    "user": user,
                }
            },
            users(),
        ),
    )


def press(user_id: int, data: str) -> JsonDict:
    """A draft: the user presses `data` on the latest message of the bot in their chat."""
    user = {"id": user_id, "is_bot": False, "first_name": "Fuzz", "language_code": "en"}
    chat = {"id": user_id, "type": "private", "first_name": "Fuzz"}
    return {
        "callback_query": {
            "from": user,
            "chat_instance": "ci",
            "data": data,
            "_message": {"chat": chat, "inaccessible": False},
        }
    }


def say(user: JsonDict, text: str, chat: JsonDict | None = None) -> JsonDict:
    """A draft: the user sends `text` (in their private chat unless `chat` is given)."""
    where = chat or {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    return {"message": {"chat": where, "from": user, "text": text}}


HUGE = "9" * 30
LATIN = 4  # the sample schedule's fourth row: Николаева's exam
# What the fuzzing found once, fed every time (hypothesis' explicit examples).
REGRESSIONS = (
    # GroupAnonymousBot (is_bot) in a group: no actor, and every handler needs one.
    say(
        {"id": ANONYMOUS_ADMIN, "is_bot": True, "first_name": "Group"},
        "/bind",
        {"id": DEANERY_CHAT, "type": "supergroup", "title": "Деканат"},
    ),
    # Ids past what a database integer holds broke the queries (OverflowError).
    press(STUDENT, f"st-wd:{HUGE}"),
    press(TEACHER, f"rl:show:{HUGE}:0:0"),
    # ...and a forged huge gap broke timedelta() before the service could refuse it.
    press(TEACHER, f"rs:{LATIN}:0:2:{HUGE}"),
    press(TEACHER, f"rw:{LATIN}:0:{HUGE}"),
    say({"id": ADMIN, "is_bot": False, "first_name": "Admin"}, f"/unlock {HUGE}"),
    # A double tap: the second identical edit is "message is not modified".
    press(STUDENT, "my:keep"),
    press(STUDENT, "my:keep"),
)


# --- the world -----------------------------------------------------------------------------


class _Errors(logging.Handler):
    """Every ERROR logged while the world runs: the error router's "update N failed" and
    anything else that went wrong unhandled."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        kind = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        self.records.append(f"{record.name}: {record.getMessage()} {kind}".strip())


def fuzz_settings(api: FakeBotAPI, database_url: str, files_dir: Path) -> Settings:
    return Settings(
        bot_token=api.token,
        telegram_api_url=api.base_url,
        database_url=database_url,
        admin_ids=frozenset({ADMIN}),
        institution_name="КГМУ",
        files_dir=files_dir,
        journal_dir=files_dir.parent / "journal",
        flood_limit=0,  # the point is to reach the handlers, not the flood guard
        _env_file=None,
    )


@dataclass
class FuzzReport:
    fed: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


class FuzzWorld:
    """The dispatcher of a real Application, fed drafts from `updates()` one at a time."""

    def __init__(self, app: Application, api: FakeBotAPI) -> None:
        self.app = app
        self.api = api
        self.report = FuzzReport()
        self._update_ids = count(1)
        self._message_ids = count(1)
        self._errors = _Errors()
        # Updates that committed a write: each must be recorded as handled. One that only
        # read is not (handled again, it would only answer again).
        self._wrote_ids: list[int] = []
        self._wrote = False

    def _committed(self, session: Session) -> None:
        if session.info.get(WROTE):  # the unit of work's session of an update that wrote
            self._wrote = True

    @classmethod
    async def open(cls, settings: Settings, api: FakeBotAPI) -> FuzzWorld:
        app = build_application(settings, clock=MovableClock(NOW))
        await app.prepare()
        world = cls(app, api)
        await world._seed()
        logging.getLogger().addHandler(world._errors)
        event.listen(Session, "after_commit", world._committed)
        return world

    async def close(self) -> None:
        event.remove(Session, "after_commit", self._committed)
        logging.getLogger().removeHandler(self._errors)
        await self.app.bot.session.close()
        await self.app.close()

    async def _seed(self) -> None:
        settings = self.app.settings
        async with self.app.sessionmaker.begin() as session:
            roster = (SAMPLES / "roster.csv").read_bytes()
            schedule = (SAMPLES / "schedule.csv").read_bytes()
            assert (await import_roster(session, "roster.csv", roster)).ok
            assert (await import_schedule(session, "schedule.csv", schedule, tz=settings.tz)).ok
        async with self.app.sessionmaker.begin() as session:
            for user_id in (STUDENT, OTHER_STUDENT, TEACHER, DEAN):
                session.add(User(id=user_id, first_name="Fuzz", locale="ru", is_active=True))
            await session.flush()
            students = {s.record_book: s for s in await session.scalars(select(Student))}
            students["2611022"].user_id = STUDENT
            students["2621001"].user_id = OTHER_STUDENT
            teacher = await session.scalar(
                select(Teacher).where(Teacher.full_name == "Николаева Ольга Петровна")
            )
            assert teacher is not None
            teacher.user_id = TEACHER
            faculty = await session.scalar(
                select(Faculty).where(Faculty.name == "Лечебный факультет")
            )
            assert faculty is not None
            session.add(DeanMember(user_id=DEAN, faculty_id=faculty.id))
            session.add(
                DeaneryChat(
                    chat_id=DEANERY_CHAT,
                    faculty_id=faculty.id,
                    title="Деканат",
                    bound_by=DEAN,
                    bound_at=NOW,
                )
            )
            await session.flush()
            # Something to press at: Karimov's absence statement about Latin, and its roll.
            latin = await session.scalar(
                select(Exam.id).where(Exam.teacher_id == teacher.id, Exam.kind == "exam")
            )
            assert latin is not None
            # An absence comes with a document (bot.domain.statements.documents_problem).
            scan = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
            pdf = self.api.register_file(scan, "справка.pdf")
            draft = {
                "exam_id": latin,
                "kind": "absence",
                "reason": "illness",
                "text": "ОРВИ",
                "files": [
                    {
                        "kind": "document",
                        "file_id": pdf.file_id,
                        "file_unique_id": pdf.unique_id,
                        "file_name": "справка.pdf",
                        "mime_type": "application/pdf",
                        "size": len(scan),
                    }
                ],
            }
            result = await submit(session, students["2611022"], draft, now=NOW, settings=settings)
            assert result.statement is not None, result.outcome
            await announce_statement(
                session, result.statement, NOW, settings=settings, outbox=Outbox()
            )
            exam = await own_exam(session, teacher, latin)
            assert exam is not None
            await load_roll(session, exam, NOW, rules=RollRules.of(settings))

    def materialise(self, draft: JsonDict) -> JsonDict:
        """Fills the draft's blanks: ids, uploaded files, the message a button is on."""
        update: JsonDict = copy.deepcopy(draft)
        update["update_id"] = next(self._update_ids)
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if (message := update.get(kind)) is not None:
                message["message_id"] = next(self._message_ids)
                message["date"] = 1_800_000_000
                self._upload(message)
        if (query := update.get("callback_query")) is not None:
            query["id"] = f"cb{update['update_id']}"
            self.api.pressed(query["id"])  # fed past the fake, which must know the press
            where = query.pop("_message", None)
            if where is not None:
                query["message"] = self._pressed_message(where["chat"], where["inaccessible"])
        return update

    def _upload(self, message: JsonDict) -> None:
        if isinstance(photo := message.get("photo"), dict):
            entry = self.api.register_file(photo["_file"], folder="photos")
            message["photo"] = [
                {
                    "file_id": entry.file_id,
                    "file_unique_id": entry.unique_id,
                    "width": 1280,
                    "height": 960,
                    "file_size": entry.size,
                }
            ]
        if isinstance(document := message.get("document"), dict):
            name = str(document.get("file_name") or "file")
            entry = self.api.register_file(document.pop("_file"), name)
            document.update(file_id=entry.file_id, file_unique_id=entry.unique_id)

    def _pressed_message(self, chat: JsonDict, inaccessible: bool) -> JsonDict:
        shown = self.api.messages(chat["id"])
        if inaccessible or not shown:
            # Too old to be seen (or never sent): Telegram sends date 0 and nothing else.
            return {"chat": chat, "message_id": next(self._message_ids), "date": 0}
        return shown[-1]

    async def feed(self, draft: JsonDict) -> list[str]:
        """Feeds one update; returns what went wrong unhandled (empty if nothing)."""
        data = self.materialise(draft)
        update = Update.model_validate(data, context={"bot": self.app.bot})
        before = len(self._errors.records)
        began = time.perf_counter()
        failures: list[str] = []
        self._wrote = False
        try:
            await self.app.dispatcher.feed_update(self.app.bot, update)
        except Exception as exc:  # not even the error router took it
            failures.append(f"feed_update raised {exc.__class__.__name__}: {exc}")
        self.report.seconds += time.perf_counter() - began
        self.report.fed += 1
        if self._wrote:
            self._wrote_ids.append(update.update_id)
        failures += self._errors.records[before:]
        if failures:
            shown = json.dumps(data, ensure_ascii=False)[:1500]
            self.report.failures += [f"{f}\n    update: {shown}" for f in failures]
        return failures

    async def check(self) -> list[str]:
        """What must hold whatever was fed; returns the problems found."""
        problems: list[str] = []
        queries = {
            "students linked to a missing user": (
                "SELECT s.id FROM students s LEFT JOIN users u ON u.id = s.user_id "
                "WHERE s.user_id IS NOT NULL AND u.id IS NULL"
            ),
            "teachers linked to a missing user": (
                "SELECT t.id FROM teachers t LEFT JOIN users u ON u.id = t.user_id "
                "WHERE t.user_id IS NOT NULL AND u.id IS NULL"
            ),
            "dean's office members without a user": (
                "SELECT d.id FROM dean_members d LEFT JOIN users u ON u.id = d.user_id "
                "WHERE u.id IS NULL"
            ),
            "notices owed to no chat": (
                "SELECT id FROM notices WHERE status IN ('pending', 'claimed') "
                f"AND chat_id = 0 AND kind != '{NoticeKind.STATEMENT_EMAIL.value}'"
            ),
            "statements about another group's exam": (
                "SELECT st.id FROM statements st JOIN students s ON s.id = st.student_id "
                "JOIN exams e ON e.id = st.exam_id WHERE s.group_id != e.group_id"
            ),
            "roll entries of a student of another group": (
                "SELECT r.id FROM roll_entries r JOIN students s ON s.id = r.student_id "
                "JOIN exams e ON e.id = r.exam_id WHERE s.group_id != e.group_id"
            ),
            "subgroup members of another group": (
                "SELECT m.id FROM subgroup_members m JOIN students s ON s.id = m.student_id "
                "JOIN exams e ON e.id = m.exam_id WHERE s.group_id != e.group_id"
            ),
            "students linked twice": (
                "SELECT user_id FROM students WHERE user_id IS NOT NULL "
                "GROUP BY user_id HAVING COUNT(*) > 1"
            ),
        }
        async with self.app.sessionmaker() as session:
            for what, sql in queries.items():
                rows = list(await session.scalars(sql_text(sql)))
                if rows:
                    problems.append(f"{what}: {rows[:10]}")
            for user in await session.scalars(select(User)):
                if user.locale not in SUPPORTED_LOCALES:
                    problems.append(f"user {user.id}: unknown locale {user.locale!r}")
                if user.tz is not None and parse_timezone(user.tz) is None:
                    problems.append(f"user {user.id}: unknown time zone {user.tz!r}")
            for record in await session.scalars(select(FsmRecord)):
                if record.state is not None and record.state not in FSM_STATES:
                    problems.append(f"FSM {record.key}: unknown state {record.state!r}")
                if not isinstance(record.data, dict) or json.loads(json.dumps(record.data)) != (
                    record.data
                ):
                    problems.append(f"FSM {record.key}: data is not plain JSON")
                if len(record.key.split(":")) < 4:
                    problems.append(f"FSM {record.key}: the key does not parse")
            handled = set(await session.scalars(select(ProcessedUpdate.update_id)))
        lost = [u for u in self._wrote_ids if u not in handled]
        if lost:
            problems.append(f"updates that wrote but were never recorded as handled: {lost[:10]}")
        return problems
