"""A fake Telegram Bot API server for end-to-end tests.

The bot under test talks to it over real HTTP exactly as it would talk to
api.telegram.org (``TelegramAPIServer.from_base(api.base_url)``), while the
test plays the Telegram users: it injects updates (messages, documents, button
clicks), then waits for and inspects what the bot sent back. Errors such as
flood control (429) or a user who blocked the bot (403) can be injected.

It is as strict as Telegram, by default (the suite knows no kinder fake), and refuses
what Telegram refuses:
``editMessage*`` with unchanged content fails with "message is not modified",
``editMessageText`` without ``reply_markup`` drops the inline keyboard; HTML
``parse_mode`` is parsed as Telegram does (``_HtmlParser``: its tags and attributes only,
closed in order, ``&`` and ``<`` only as entities or tags, else "can't parse entities")
and the stored text is the visible text; texts over 4096 / captions over 1024 visible
characters, inline keyboards over 100 buttons or 8 a row, ``callback_data`` over 64
bytes are rejected; ``answerCallbackQuery`` a second time or later than
``callback_timeout`` (15 s) after the press answers "query is too old"; ``getFile``
refuses files above 20 MB; ``allowed_updates`` filters what ``getUpdates`` delivers.
Sends and edits are paced like Telegram (``Pace``: 429 with ``retry_after``), and with
``privacy_mode`` (on, as Telegram's default) group messages other than commands, replies
to the bot, mentions of it and service messages are withheld (``withheld``).

``setWebhook`` is recorded (``webhook``, checked like Telegram: https URL, secret token
shape); while a webhook is set ``getUpdates`` answers 409, as Telegram does, until
``deleteWebhook``. Tests post webhook updates to the bot themselves.

``latency`` (seconds, jittered by ``jitter`` either way) delays every call as Telegram's
round trip does (50-300 ms in real life; the benchmarks use 100 ms).

For load tests and benchmarks it can also enforce exact flood limits on top of the pace
(``enforce_limits``: 429 beyond N messages per second globally / per chat), simulate
an outage of the API (``outage``: 500s, hanging requests, dropped connections or 429s,
getUpdates included or not) and
count what was actually delivered (``delivered``, ``sent_count``). Nothing on the
send path is O(number of previous calls), so ~10,000 messages stay cheap.
"""

# The waiters take a ``timeout`` rather than leaving it to asyncio.timeout() because on
# expiry they raise an AssertionError that dumps the recent calls.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import mimetypes
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Self

from aiohttp import web

JsonDict = dict[str, Any]
# fmt: off
MESSAGE_METHODS = frozenset({
    "sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup",
    "editMessageCaption",
})
# Methods that deliver a new message: rate-limited by enforce_limits() and counted by
# delivered() / sent_count. Edits are not among them, as in Telegram.
SENDING_METHODS = frozenset({
    "sendMessage", "sendDocument", "sendPhoto", "sendMediaGroup", "copyMessage",
    "forwardMessage",
})
_SENDING_LOWER = frozenset(m.lower() for m in SENDING_METHODS)
# Paced per chat together with sends (Pace): Telegram counts an edit like a message there.
_EDITING_LOWER = frozenset({
    "editmessagetext", "editmessagereplymarkup", "editmessagecaption", "editmessagemedia",
})
# What a bot with privacy mode on still receives from a group without a command, a reply
# to it or a mention: service messages.
_SERVICE_KEYS = frozenset({
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo",
    "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
    "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message",
    "message_auto_delete_timer_changed", "chat_shared", "users_shared",
    "video_chat_started", "video_chat_ended", "forum_topic_created",
})
_GROUP_TYPES = frozenset({"group", "supergroup"})
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
OUTAGE_MODES = frozenset({"500", "timeout", "refuse", "429"})
# What copyMessage / forwardMessage take over from the source message.
_CONTENT_KEYS = (
    "text", "entities", "caption", "caption_entities", "document", "photo", "video", "audio",
    "voice", "animation", "sticker",
)
# Form fields that aiogram sends as raw strings; everything else is JSON-encoded
# by aiogram, and decoding e.g. a text "123" as JSON would turn it into an int.
_STRING_FIELDS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "file_id", "url",
    "description", "short_description", "title", "action", "language_code", "name",
    "message_effect_id", "business_connection_id", "document", "photo", "thumbnail", "video",
    "audio", "animation", "voice", "sticker", "emoji", "query", "payload",
})
_DEFAULT_UPDATE_TYPES_EXCLUDED = frozenset({
    "chat_member", "message_reaction", "message_reaction_count",
})
_SEND_PREFIXES = ("send", "edit", "copy", "forward")
_HTML_TAGS = frozenset({
    "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "code", "pre", "blockquote", "tg-emoji", "tg-time",
})
# fmt: on
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024


class ApiError(Exception):
    """A Telegram error answer; raised inside handlers, turned into the HTTP reply."""

    def __init__(
        self, code: int, description: str | None = None, retry_after: int | None = None
    ) -> None:
        defaults = {
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden: bot was blocked by the user",
            404: "Not Found",
            409: "Conflict: terminated by other getUpdates request; make sure that "
            "only one bot instance is running",
            429: f"Too Many Requests: retry after {retry_after}",
        }
        super().__init__(description)
        self.code = code
        self.description = description or defaults.get(code, "Internal Server Error")
        self.retry_after = retry_after

    def payload(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class Call:
    """One request the bot made; ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    params: JsonDict
    files: dict[str, tuple[str, bytes]]
    at: float
    result: Any = None
    error: JsonDict | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")


@dataclass
class FakeUser:
    """A Telegram user the test acts as; shortcuts delegate to the server."""

    api: FakeBotAPI
    data: JsonDict

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def chat(self) -> JsonDict:
        chat = {"id": self.id, "type": "private", "first_name": self.data["first_name"]}
        if self.data.get("username"):
            chat["username"] = self.data["username"]
        return chat

    def send(
        self, text: str, chat: JsonDict | None = None, reply_to: JsonDict | None = None
    ) -> JsonDict:
        return self.api.send_message(self, text, chat=chat, reply_to=reply_to)

    def reply(self, message: JsonDict, text: str) -> JsonDict:
        """Answers ``message`` (e.g. a bot's ForceReply prompt) in its chat."""
        return self.api.send_message(self, text, chat=message["chat"], reply_to=message)

    def click(self, message: JsonDict, callback_data: str) -> JsonDict:
        return self.api.click(self, message, callback_data)


@dataclass
class _File:
    file_id: str
    unique_id: str
    path: str
    content: bytes
    size: int


@dataclass
class _Queued:
    update: JsonDict
    forced: bool = False  # redelivered: ignores the confirmed offset once
    delivered: bool = False


@dataclass
class _Failure:
    method: str
    error: ApiError
    count: int
    chat_id: Any = None


@dataclass
class _Limits:
    global_per_second: float
    per_chat_per_second: float
    retry_after: int
    edits: bool = False
    per_group: int | None = None  # per group chat (negative id) and group_window
    group_window: float = 60.0


@dataclass(frozen=True)
class Pace:
    """Telegram's flood limits, on by default (``FakeBotAPI(pace=...)``; ``None`` turns
    them off). Each is a token bucket, so a short burst passes as with Telegram, which
    tolerates one: per chat ``chat_per_second`` messages or edits with up to
    ``chat_burst`` at once; per group or supergroup ``group_per_minute`` messages (a full
    minute's worth at once); ``global_per_second`` messages in all. A call that finds a
    bucket empty answers 429 with ``retry_after`` = the seconds until it holds one again
    (at least 1), stores nothing and uses up nothing."""

    chat_per_second: float = 1.0
    chat_burst: float = 10.0
    group_per_minute: float = 20.0
    global_per_second: float = 30.0


class _Bucket:
    """A token bucket: ``capacity`` tokens, refilled at ``rate`` per second."""

    __slots__ = ("at", "capacity", "rate", "tokens")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.at = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0 if it is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class _Query:
    pressed: float  # time.monotonic()
    answered: bool = False


@dataclass
class _Outage:
    mode: str
    until: float  # time.monotonic()
    over: asyncio.Event  # set when it ends early (or is replaced); releases hung requests
    updates: bool = False  # getUpdates fails too
    retry_after: int = 5  # the "429" mode's retry_after


def _same_chat(a: Any, b: Any) -> bool:
    return a is not None and b is not None and str(a) == str(b)


def _decode_field(key: str, value: str) -> Any:
    if key in _STRING_FIELDS:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    # aiogram never JSON-encodes a top-level string, so a decoded str means the
    # raw value merely looked like JSON (e.g. '"quoted"') and must stay as sent.
    return value if isinstance(decoded, str) else decoded


_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]*));")
_SPACE = " \t\r\n\f\v"


def _entity_error(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {reason}")


class _HtmlParser:
    """Telegram's HTML parse mode, after tdlib's ``parse_html`` (the parser behind the Bot
    API): only the documented tags, each closed in order (``</>`` closes the innermost),
    unknown attributes ignored, ``span`` only as ``class="tg-spoiler"``, ``tg-emoji`` only
    with a numeric ``emoji-id``. Stricter than tdlib in one point, as the Bot API's
    "Formatting options" demand: a ``&`` that does not start ``&lt;`` ``&gt;`` ``&amp;``
    ``&quot;`` or a numeric entity is refused (tdlib would keep it as text), so a bot
    that forgets to escape a user's "&" fails here and not only on some names."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.out: list[str] = []
        self.stack: list[str] = []

    def offset(self, i: int) -> int:
        return len(self.text[:i].encode())

    def entity(self, i: int) -> tuple[str, int]:
        """The character an entity at ``i`` stands for, and where it ends."""
        match = _ENTITY_RE.match(self.text, i)
        char: str | None = None
        if match is not None:
            if match[3] is not None:
                char = _NAMED_ENTITIES.get(match[3])
            else:
                code = int(match[1], 10) if match[1] else int(match[2], 16)
                char = chr(code) if 0 < code <= 0x10FFFF else None
        if match is None or char is None:
            raise _entity_error(
                'Character "&" is reserved and must be escaped as "&amp;" '
                f"at byte offset {self.offset(i)}"
            )
        return char, match.end()

    def run(self) -> str:
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c == "&":
                char, self.i = self.entity(self.i)
                self.out.append(char)
            elif c == "<":
                self.tag()
            else:
                self.out.append(c)
                self.i += 1
        if self.stack:
            raise _entity_error(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1]}"'
            )
        return "".join(self.out)

    def scan(self, stop: str) -> str:
        """Characters from here up to (not including) one of ``stop`` or the end."""
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in stop:
            self.i += 1
        return self.text[start : self.i]

    def scan_while_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _SPACE:
            self.i += 1

    def at_end(self, begin: int, tag: str = "") -> None:
        if self.i >= len(self.text):
            named = f' "{tag}"' if tag else ""
            raise _entity_error(f"Unclosed start tag{named} at byte offset {self.offset(begin)}")

    def tag(self) -> None:
        begin = self.i
        if self.text.startswith("</", begin):
            self.end_tag(begin)
            return
        self.i += 1
        name = self.scan(_SPACE + ">").lower()
        self.at_end(begin)
        if name not in _HTML_TAGS:
            raise _entity_error(
                f'Unsupported start tag "{name}" at byte offset {self.offset(begin)}'
            )
        attributes = self.attributes(name, begin)
        self.check_attributes(name, attributes, begin)
        self.i += 1  # the ">"
        self.stack.append(name)

    def attributes(self, tag: str, begin: int) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        while True:
            self.scan_while_space()
            self.at_end(begin, tag)
            if self.text[self.i] == ">":
                return found
            name_at = self.i
            name = self.scan(_SPACE + "=>").lower()
            if not name:
                raise _entity_error(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self.offset(name_at)}'
                )
            self.scan_while_space()
            self.at_end(begin, tag)
            if self.text[self.i] != "=":
                found[name] = None  # a bare attribute, as in <blockquote expandable>
                continue
            self.i += 1
            self.scan_while_space()
            self.at_end(begin, tag)
            found[name] = self.attribute_value(begin, tag)

    def attribute_value(self, begin: int, tag: str) -> str:
        quote = self.text[self.i]
        if quote not in "\"'":
            return self.scan(_SPACE + ">")
        self.i += 1
        value: list[str] = []
        while self.i < len(self.text) and self.text[self.i] != quote:
            if self.text[self.i] == "&":
                char, self.i = self.entity(self.i)
                value.append(char)
            else:
                value.append(self.text[self.i])
                self.i += 1
        self.at_end(begin, tag)
        self.i += 1  # the closing quote
        return "".join(value)

    def check_attributes(self, tag: str, attributes: dict[str, str | None], begin: int) -> None:
        at = self.offset(begin)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise _entity_error(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        if tag == "tg-emoji" and not str(attributes.get("emoji-id") or "").isdigit():
            raise _entity_error("Invalid custom emoji identifier specified")
        if tag == "tg-time" and not str(attributes.get("unix") or "").isdigit():
            raise _entity_error(f'Tag "tg-time" must have attribute "unix" at byte offset {at}')

    def end_tag(self, begin: int) -> None:
        at = self.offset(begin)
        if not self.stack:
            raise _entity_error(f"Unexpected end tag at byte offset {at}")
        self.i += 2
        name = self.scan(_SPACE + ">").lower()
        self.scan_while_space()
        if self.i >= len(self.text) or self.text[self.i] != ">":
            raise _entity_error(f"Unclosed end tag at byte offset {at}")
        self.i += 1
        expected = self.stack.pop()
        if name and name != expected:
            raise _entity_error(
                f'Unmatched end tag at byte offset {at}, expected "</{expected}>", '
                f'found "</{name}>"'
            )


def _render_html(text: str) -> str:
    """Validate Telegram HTML like the real server and return the plain text."""
    return _HtmlParser(text).run()


def _public(message: JsonDict) -> JsonDict:
    """What Telegram would show: helper keys starting with '_' removed."""
    return {k: copy.deepcopy(v) for k, v in message.items() if not k.startswith("_")}


# fmt: off
_BUTTON_ACTIONS = frozenset({
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
})
# fmt: on
MAX_KEYBOARD_BUTTONS = 100  # Telegram's limits for an inline keyboard
MAX_ROW_BUTTONS = 8


def _check_button(b: JsonDict) -> None:
    actions = _BUTTON_ACTIONS.intersection(b)
    if not actions:
        raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise ApiError(
            400,
            "Bad Request: can't parse inline keyboard button: exactly one of the optional "
            "fields must be used",
        )
    if "callback_data" in b and not 1 <= len(str(b["callback_data"]).encode()) <= 64:
        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    if "url" in b and not re.match(r"(https?|tg)://[^\s/?#]+", str(b["url"])):
        raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")


def _check_inline_keyboard(markup: JsonDict) -> None:
    """Telegram's limits: 100 buttons, 8 per row, each with one action, callback data of
    1-64 bytes, an http(s) or tg URL."""
    rows = markup.get("inline_keyboard")
    if rows is None:
        return
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array of Array')
    if sum(len(row) for row in rows) > MAX_KEYBOARD_BUTTONS or any(
        len(row) > MAX_ROW_BUTTONS for row in rows
    ):
        raise ApiError(400, "Bad Request: reply markup is too long")
    for row in rows:
        for b in row:
            _check_button(b)


def buttons(message: JsonDict) -> list[JsonDict]:
    """All inline keyboard buttons of a message, row by row."""
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def button(message: JsonDict, text_contains: str) -> JsonDict:
    """The first inline button whose text contains ``text_contains``."""
    for candidate in buttons(message):
        if text_contains in candidate.get("text", ""):
            return candidate
    texts = [b.get("text") for b in buttons(message)]
    raise AssertionError(f"no button containing {text_contains!r}; buttons: {texts}")


class FakeBotAPI:
    """In-process fake of api.telegram.org; see the module docstring."""

    buttons = staticmethod(buttons)
    button = staticmethod(button)

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "examinator_test_bot",
        *,
        latency: float = 0.0,
        jitter: float = 0.5,
        seed: int | None = None,
        privacy_mode: bool = True,
        pace: Pace | None = Pace(),  # frozen: one shared default is safe
        callback_timeout: float = 15.0,
    ) -> None:
        self.token = token
        # As for a bot whose privacy mode is on (Telegram's default): in groups only
        # commands, replies to the bot's messages, @mentions of it and service messages
        # reach it. Others are kept in ``withheld``, never delivered.
        self.privacy_mode = privacy_mode
        self.withheld: list[JsonDict] = []
        self.pace = pace
        self._buckets: dict[str, _Bucket] = {}
        # answerCallbackQuery later than this after the press is refused, as in Telegram.
        self.callback_timeout = callback_timeout
        self._queries: dict[str, _Query] = {}
        # Telegram answers in 50-300 ms: every call (getUpdates included) waits this long
        # before it is served, times a factor drawn from [1 - jitter, 1 + jitter].
        self.latency = latency
        self.jitter = jitter
        self._rng = random.Random(seed)
        self.bot_user: JsonDict = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Examinator",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.commands: dict[str, list[JsonDict]] = {}
        # setMyDescription / setMyShortDescription: {(field, language_code or ""): text}.
        self.descriptions: dict[tuple[str, str], str] = {}
        self._queue: list[_Queued] = []
        self._update_ids = itertools.count(1)
        self.last_update_id = 0  # the newest update handed to the bot (tests wait on it)
        self._ids = itertools.count(1)  # file ids, callback ids
        self._allowed: list[str] | None = None
        self.webhook: JsonDict | None = None  # the last setWebhook's parameters, while set
        self._poll_seq = 0
        self._chats: dict[int, JsonDict] = {}
        self._msg_ids: dict[int, int] = {}
        self._store: dict[int, dict[int, JsonDict]] = {}
        self._files: dict[str, _File] = {}
        self._paths: dict[str, _File] = {}
        self._user_store: dict[tuple[int, int], JsonDict] = {}  # for copy/forward
        self._failures: list[_Failure] = []
        self._blocked: set[str] = set()
        self._cursor: dict[str, int] = {}
        # What the bot said while handling an update, as its side tells (note_answer):
        # {(chat id, message id, method): update id}, the first call for each.
        self._answers: dict[tuple[int, int, str], int] = {}
        self.throttled = 0  # 429 answers, whether from enforce_limits() or fail_next()
        self.sent_count = 0  # successful SENDING_METHODS calls
        self._delivered: list[Call] = []
        self._delivered_by_chat: dict[str, list[Call]] = {}
        self._limits: _Limits | None = None
        # Send times within the last second; per chat keyed by str(chat_id).
        self._window: deque[float] = deque()
        self._chat_windows: dict[str, deque[float]] = {}
        self._group_windows: dict[str, deque[float]] = {}
        self._outage: _Outage | None = None
        # Replaced by a fresh Event on each signal, so waiters never miss a wake-up.
        self._updates_ev = asyncio.Event()
        self._calls_ev = asyncio.Event()
        self._inflight = 0
        self._hung: list[Call] = []  # held by a "timeout" outage
        self._last_activity = time.monotonic()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._handlers: dict[str, Callable[[Call], Awaitable[Any]]] = {
            "getme": self._get_me,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_cmds,
            "deletemycommands": self._del_cmds,
            "getmycommands": self._get_cmds,
            "sendmessage": self._send_message,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "sendmediagroup": self._send_media_group,
            "copymessage": self._copy_message,
            "forwardmessage": self._forward_message,
            "editmessagetext": self._edit,
            "editmessagereplymarkup": self._edit,
            "editmessagecaption": self._edit,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._true,
            "getfile": self._get_file,
            "getchat": self._get_chat,
            "setchatmenubutton": self._true,
            "setmydescription": self._set_description,
            "getmydescription": self._get_description,
            "setmyshortdescription": self._set_description,
            "getmyshortdescription": self._get_description,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # Cancel handlers when the client hangs up: a long poll abandoned by a stopped
        # bot must not swallow updates meant for its successor.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._closing = True
        self.outage_over()  # release requests hung by a "timeout" outage
        self._signal_updates()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def hung(self, method: str | None = None) -> list[Call]:
        """The calls (of ``method``) a "timeout" outage holds now, params parsed."""
        return [c for c in self._hung if method is None or c.method == method]

    @property
    def base_url(self) -> str:
        assert self._port, "FakeBotAPI is not started"
        return f"http://127.0.0.1:{self._port}"

    # -- HTTP plumbing -----------------------------------------------------------------------

    async def _parse(self, request: web.Request) -> tuple[JsonDict, dict[str, tuple[str, bytes]]]:
        params: JsonDict = {k: _decode_field(k, v) for k, v in request.query.items()}
        raw_files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            params.update(body or {})
        elif request.can_read_body:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    raw_files[key] = (value.filename, value.file.read())
                else:
                    params[key] = _decode_field(key, str(value))
        # aiogram names file parts by random keys referenced as "attach://<key>";
        # re-key them by the parameter name so tests can ask for files["document"].
        refs = {
            key: value.removeprefix("attach://")
            for key, value in params.items()
            if isinstance(value, str) and value.startswith("attach://")
        }
        files = {key: raw_files.pop(ref) for key, ref in refs.items() if ref in raw_files}
        files.update(raw_files)
        return params, files

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        polling = method.lower() == "getupdates"
        if (outage := self._current_outage()) is not None and (not polling or outage.updates):
            return await self._serve_outage(request, method, outage)
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401).payload(), status=401)
        call = Call(method, {}, {}, time.monotonic())
        if not polling:
            self._inflight += 1
        try:
            if self.latency > 0:
                await asyncio.sleep(self.round_trip())
            call.params, call.files = await self._parse(request)
            self._check_failures(call)
            self._check_rate(call)
            self._check_pace(call)
            if polling:
                call.result = await self._get_updates(call)
            else:
                call.result = await self._handlers.get(method.lower(), self._true)(call)
        except ApiError as e:
            call.error = e.payload()
        except Exception as e:  # a bug in the fake must show up in the dump, not hang a test
            call.error = ApiError(500, f"Internal Server Error: fake API {e!r}").payload()
        finally:
            if not polling:
                self._inflight -= 1
        self._record(call, polling)
        if call.error is not None:
            return web.json_response(call.error, status=call.error["error_code"])
        return web.json_response({"ok": True, "result": call.result})

    def _record(self, call: Call, polling: bool = False) -> None:
        """Recorded on completion so waiters always see the result or error. O(1): this
        is on the send path of benchmarks."""
        self.calls.append(call)
        if call.error is not None:
            if call.error.get("error_code") == 429:
                self.throttled += 1
        elif call.method.lower() in _SENDING_LOWER:
            self.sent_count += 1
            self._delivered.append(call)
            self._delivered_by_chat.setdefault(str(call.chat_id), []).append(call)
        if not polling:
            self._last_activity = time.monotonic()
        self._calls_ev, ev = asyncio.Event(), self._calls_ev
        ev.set()

    async def _serve_outage(
        self, request: web.Request, method: str, outage: _Outage
    ) -> web.Response:
        call = Call(method, {}, {}, time.monotonic())
        if outage.mode == "429":
            error = ApiError(429, retry_after=outage.retry_after).payload()
        else:
            error = ApiError(500).payload()
        self._inflight += 1
        try:
            with contextlib.suppress(Exception):  # recorded for inspection only
                call.params, call.files = await self._parse(request)
            if outage.mode == "timeout":
                self._hung.append(call)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(outage.over.wait(), outage.until - time.monotonic())
            elif outage.mode == "refuse":
                error["description"] = "fake outage: connection closed without a response"
                if request.transport is not None:
                    request.transport.close()
                # aiohttp notices the closed connection and cancels this handler
                # (handler_cancellation=True); the response below is never sent.
                await asyncio.sleep(1)
        except asyncio.CancelledError:
            if outage.mode == "timeout":
                error["description"] = "fake outage: the client gave up waiting"
            raise
        finally:
            self._inflight -= 1
            if call in self._hung:
                self._hung.remove(call)
            call.error = error
            self._record(call)
        return web.json_response(error, status=error["error_code"])

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401).payload(), status=401)
        entry = self._paths.get(request.match_info["path"])
        if entry is not None:
            return web.Response(body=entry.content, content_type="application/octet-stream")
        return web.json_response(ApiError(404).payload(), status=404)

    def _check_failures(self, call: Call) -> None:
        chat = call.params.get("chat_id")
        if str(chat) in self._blocked and call.method.lower().startswith(_SEND_PREFIXES):
            raise ApiError(403)
        for failure in self._failures:
            if failure.method.lower() == call.method.lower() and (
                failure.chat_id is None or _same_chat(failure.chat_id, chat)
            ):
                failure.count -= 1
                if failure.count <= 0:
                    self._failures.remove(failure)
                raise failure.error

    def _check_rate(self, call: Call) -> None:
        """Sliding one-second windows, globally and per chat; amortised O(1)."""
        limits = self._limits
        if limits is None:
            return
        method = call.method.lower()
        if method not in _SENDING_LOWER and not (limits.edits and method in _EDITING_LOWER):
            return
        now = time.monotonic()
        horizon = now - 1.0
        window = self._window
        while window and window[0] <= horizon:
            window.popleft()
        chat = call.chat_id
        key = None if chat is None else str(chat)
        chat_window = None if key is None else self._chat_windows.get(key)
        if chat_window is not None:
            while chat_window and chat_window[0] <= horizon:
                chat_window.popleft()
        if len(window) >= limits.global_per_second or (
            chat_window is not None and len(chat_window) >= limits.per_chat_per_second
        ):
            raise ApiError(429, retry_after=limits.retry_after)
        self._check_group(limits, chat, now)
        # A request that passes the check uses up its slot even if it then fails (400).
        window.append(now)
        if key is not None:
            if chat_window is None:
                chat_window = self._chat_windows[key] = deque()
            chat_window.append(now)

    def _bucket(self, key: str, capacity: float, rate: float, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, rate, now)
        return bucket

    def _check_pace(self, call: Call) -> None:
        """Telegram's flood limits (see Pace): all buckets must hold a token, or 429."""
        pace = self.pace
        method = call.method.lower()
        sending = method in _SENDING_LOWER
        if pace is None or not (sending or method in _EDITING_LOWER):
            return
        now = time.monotonic()
        chat = str(call.chat_id or call.params.get("inline_message_id"))
        buckets = [self._bucket(f"chat:{chat}", pace.chat_burst, pace.chat_per_second, now)]
        if sending:
            buckets.append(self._bucket("all", pace.global_per_second, pace.global_per_second, now))
            if chat.startswith("-"):  # groups, supergroups and channels have ids below 0
                per_minute = pace.group_per_minute
                buckets.append(self._bucket(f"group:{chat}", per_minute, per_minute / 60, now))
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            raise ApiError(429, retry_after=max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.tokens -= 1

    def _check_group(self, limits: _Limits, chat: Any, now: float) -> None:
        """`per_group` messages per `group_window` to a group chat (enforce_limits)."""
        if limits.per_group is None or chat is None or not str(chat).startswith("-"):
            return
        sent = self._group_windows.setdefault(str(chat), deque())
        while sent and sent[0] <= now - limits.group_window:
            sent.popleft()
        if len(sent) >= limits.per_group:
            raise ApiError(429, retry_after=int(sent[0] + limits.group_window - now) + 1)
        sent.append(now)

    def _current_outage(self) -> _Outage | None:
        outage = self._outage
        if outage is not None and time.monotonic() >= outage.until:
            self.outage_over()
            return None
        return outage

    # -- failure injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int = 1,
        description: str | None = None,
        count: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (for ``chat_id`` only, if given)
        with a Telegram error; ``retry_after`` only applies to 429."""
        error = ApiError(status, description, retry_after if status == 429 else None)
        self._failures.append(_Failure(method, error, count, chat_id))

    def clear_failures(self) -> None:
        """Forget every failure still queued by fail_next."""
        self._failures.clear()

    def block(self, chat_id: int | str) -> None:
        """Every send*/edit*/copy*/forward* to the chat answers 403 until ``unblock``."""
        self._blocked.add(str(chat_id))

    def unblock(self, chat_id: int | str) -> None:
        self._blocked.discard(str(chat_id))

    def round_trip(self) -> float:
        """One call's delay: ``latency`` jittered by ``jitter`` either way."""
        spread = self.latency * self.jitter
        return max(0.0, self.latency + self._rng.uniform(-spread, spread))

    def enforce_limits(
        self,
        global_per_second: float = 30,
        per_chat_per_second: float = 1,
        retry_after: int = 1,
        *,
        edits: bool = False,
        per_group: int | None = None,
        group_window: float = 60.0,
    ) -> None:
        """Enforce Telegram's flood limits until ``stop_enforcing``: a SENDING_METHODS call
        beyond ``global_per_second`` messages in the last second, or beyond
        ``per_chat_per_second`` to its chat_id, answers 429 "retry after ``retry_after``"
        and stores nothing. Edits are limited only with ``edits=True``: then they count
        in the same windows as sends (Telegram paces edits in a chat as it paces
        messages). With ``per_group`` (Telegram: 20 a minute), likewise beyond that many
        in ``group_window`` seconds to a group chat (a negative id), retry after the
        seconds until one leaves the window. Counting starts afresh."""
        if global_per_second <= 0 or per_chat_per_second <= 0:
            raise ValueError("limits must be positive")
        self._limits = _Limits(
            global_per_second, per_chat_per_second, retry_after, edits, per_group, group_window
        )
        self._window.clear()
        self._chat_windows.clear()
        self._group_windows.clear()

    def stop_enforcing(self) -> None:
        self._limits = None
        self._window.clear()
        self._chat_windows.clear()
        self._group_windows.clear()

    def outage(
        self, mode: str, seconds: float, *, updates: bool = False, retry_after: int = 5
    ) -> None:
        """For ``seconds``, every method but getUpdates (and getUpdates too with
        ``updates=True``, as when the whole Bot API is down) fails: ``"500"`` answers 500
        at once, ``"timeout"`` hangs until the outage ends and then answers 500,
        ``"refuse"`` closes the connection without a response, ``"429"`` answers 429 "retry
        after ``retry_after``" at once (flood control that lasts, whatever the client
        waits). ``outage_over`` ends it early. Affected calls are recorded with an
        ``error`` (error_code 500, or 429: counted in ``throttled``); updates enqueued
        meanwhile wait for the first getUpdates after it."""
        if mode not in OUTAGE_MODES:
            raise ValueError(f"outage mode must be one of {sorted(OUTAGE_MODES)}, not {mode!r}")
        if retry_after < 1:
            raise ValueError("retry_after must be at least 1")
        self.outage_over()
        self._outage = _Outage(
            mode, time.monotonic() + seconds, asyncio.Event(), updates, retry_after
        )

    def outage_over(self) -> None:
        """End the outage now; requests hung by a "timeout" outage answer 500."""
        if self._outage is not None:
            self._outage.over.set()
            self._outage = None

    # -- updates -----------------------------------------------------------------------------

    def _signal_updates(self) -> None:
        self._updates_ev, ev = asyncio.Event(), self._updates_ev
        ev.set()

    def _allowed_type(self, update: JsonDict) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed is None:
            return kind not in _DEFAULT_UPDATE_TYPES_EXCLUDED
        return kind in self._allowed

    def _take_updates(self, offset: int | None, limit: int) -> list[JsonDict]:
        if offset is not None:
            self._queue = [q for q in self._queue if q.forced or q.update["update_id"] >= offset]
        batch: list[_Queued] = []
        for queued in list(self._queue):
            if len(batch) >= limit:
                break
            if not self._allowed_type(queued.update):
                self._queue.remove(queued)  # Telegram silently drops filtered updates
                continue
            batch.append(queued)
        for queued in batch:
            queued.delivered = True
            if queued.forced:
                self._queue.remove(queued)
        return [copy.deepcopy(q.update) for q in batch]

    async def _get_updates(self, call: Call) -> list[JsonDict]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        params = call.params
        if "allowed_updates" in params:  # persists across calls, like in Telegram
            self._allowed = list(params["allowed_updates"]) or None
        offset = params.get("offset")
        limit = max(1, min(int(params.get("limit") or 100), 100))
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        self._poll_seq += 1
        seq = self._poll_seq
        self._signal_updates()  # wakes an older poll so it can fail with 409
        while True:
            ev = self._updates_ev
            if seq != self._poll_seq:
                raise ApiError(409)
            batch = self._take_updates(None if offset is None else int(offset), limit)
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), remaining)

    def _enqueue(self, update: JsonDict, forced: bool = False) -> JsonDict:
        self._queue.append(_Queued(update, forced=forced))
        self._signal_updates()
        return update

    def enqueue_raw(self, update: JsonDict) -> JsonDict:
        """Enqueue any update dict; ``update_id`` is assigned if missing. A group message
        that privacy mode keeps from the bot is not enqueued but added to ``withheld``
        (and gets no ``update_id``): Telegram never sends it."""
        message = update.get("message")
        if isinstance(message, dict) and not self.reaches_bot(message):
            self.withheld.append(update)
            return update
        update.setdefault("update_id", next(self._update_ids))
        self.last_update_id = max(self.last_update_id, int(update["update_id"]))
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self.pressed(str(query["id"]))
        return self._enqueue(update)

    def pressed(self, query_id: str) -> None:
        """A button press the test hands to the bot itself (fed to the dispatcher, posted
        to a webhook): its answerCallbackQuery is then accepted, once, for
        ``callback_timeout``. ``click`` and ``enqueue_raw`` do this themselves."""
        self._queries[query_id] = _Query(time.monotonic())

    def reaches_bot(self, message: JsonDict) -> bool:
        """Whether Telegram delivers a message to this bot: everything in private chats;
        in groups with privacy mode on only commands (``/cmd`` or ``/cmd@thisbot``, not
        ``/cmd@otherbot``), replies to the bot's messages, @mentions of the bot and
        service messages."""
        chat_type = (message.get("chat") or {}).get("type")
        if not self.privacy_mode or chat_type not in _GROUP_TYPES:
            return True
        if _SERVICE_KEYS.intersection(message):
            return True
        replied = message.get("reply_to_message") or {}
        if (replied.get("from") or {}).get("id") == self.bot_user["id"]:
            return True
        text = str(message.get("text") or message.get("caption") or "")
        username = str(self.bot_user["username"])
        if text.startswith("/"):
            _, _, addressee = text.split(maxsplit=1)[0].partition("@")
            return not addressee or addressee.lower() == username.lower()
        mention = rf"(?<![\w@])@{re.escape(username)}(?!\w)"
        return re.search(mention, text, flags=re.IGNORECASE) is not None

    def redeliver(self, update: JsonDict) -> JsonDict:
        """Deliver an update again, as Telegram does after a restart with an unconfirmed
        offset: the next getUpdates returns it even if its id was confirmed."""
        return self._enqueue(copy.deepcopy(update), forced=True)

    @property
    def pending_updates(self) -> int:
        """Updates enqueued but not yet returned by getUpdates."""
        return sum(not q.delivered for q in self._queue)

    def _new_message(self, chat_id: int) -> JsonDict:
        self._msg_ids[chat_id] = self._msg_ids.get(chat_id, 0) + 1
        return {
            "message_id": self._msg_ids[chat_id],
            "date": int(time.time()),
            "chat": copy.deepcopy(self._chat(chat_id)),
        }

    def _user_message(
        self,
        user: FakeUser,
        chat: JsonDict | None,
        reply_to: JsonDict | None = None,
        **fields: Any,
    ) -> JsonDict:
        target = chat or user.chat
        self._chats[int(target["id"])] = dict(target)
        message = self._new_message(int(target["id"]))
        message["from"] = copy.deepcopy(user.data)
        message.update({k: v for k, v in fields.items() if v is not None})
        if reply_to is not None:
            message["reply_to_message"] = self._replied(reply_to)
        self._user_store[int(target["id"]), int(message["message_id"])] = message
        return self.enqueue_raw({"message": message})

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        language_code: str | None = "ru",
        username: str | None = None,
    ) -> FakeUser:
        data: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            data["language_code"] = language_code
        if username:
            data["username"] = username
        fake = FakeUser(self, data)
        self._chats[user_id] = fake.chat
        return fake

    def _replied(self, message: JsonDict) -> JsonDict:
        """``reply_to_message`` as Telegram gives it: the message as stored now, without
        its own reply_to_message."""
        chat_id = int(message["chat"]["id"])
        message_id = int(message["message_id"])
        current = (
            self._store.get(chat_id, {}).get(message_id)
            or self._user_store.get((chat_id, message_id))
            or message
        )
        replied = _public(current)
        replied.pop("reply_to_message", None)
        return replied

    def send_message(
        self,
        user: FakeUser,
        text: str,
        chat: JsonDict | None = None,
        reply_to: JsonDict | None = None,
    ) -> JsonDict:
        """A text message from the user (in ``chat``, else their private chat), as a reply
        to ``reply_to`` if given. Subject to privacy mode in groups (see reaches_bot)."""
        entities = None
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = [
                {
                    "type": "bot_command",
                    "offset": 0,
                    "length": len(command.encode("utf-16-le")) // 2,
                }
            ]
        return self._user_message(user, chat, reply_to, text=text, entities=entities)

    def register_file(
        self,
        content: bytes,
        filename: str = "file",
        file_size: int | None = None,
        folder: str = "documents",
    ) -> _File:
        """Make bytes downloadable via getFile + /file/...; returns the file entry."""
        n = next(self._ids)
        suffix = PurePosixPath(filename).suffix
        entry = _File(
            f"FILE-{folder}-{n}",
            f"U{n}",
            f"{folder}/file_{n}{suffix}",
            content,
            len(content) if file_size is None else file_size,
        )
        self._files[entry.file_id] = entry
        self._paths[entry.path] = entry
        return entry

    def send_document(
        self,
        user: FakeUser,
        filename: str,
        *,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: JsonDict | None = None,
        file_size: int | None = None,
    ) -> JsonDict:
        """``file_size`` overrides the advertised size, e.g. to fake a huge upload."""
        entry = self.register_file(content, filename, file_size)
        document = {
            "file_id": entry.file_id,
            "file_unique_id": entry.unique_id,
            "file_name": filename,
            "file_size": entry.size,
            "mime_type": mime_type
            or mimetypes.guess_type(filename)[0]
            or "application/octet-stream",
        }
        return self._user_message(user, chat, document=document, caption=caption)

    def _photo_sizes(self, content: bytes, file_size: int | None = None) -> list[JsonDict]:
        sizes = []
        for width, height in ((90, 67), (1280, 960)):
            entry = self.register_file(content, "photo.jpg", file_size, folder="photos")
            sizes.append(
                {
                    "file_id": entry.file_id,
                    "file_unique_id": entry.unique_id,
                    "width": width,
                    "height": height,
                    "file_size": entry.size,
                }
            )
        return sizes

    def send_photo(
        self,
        user: FakeUser,
        content: bytes,
        caption: str | None = None,
        media_group_id: str | None = None,
        chat: JsonDict | None = None,
    ) -> JsonDict:
        return self._user_message(
            user,
            chat,
            photo=self._photo_sizes(content),
            caption=caption,
            media_group_id=media_group_id,
        )

    def click(self, user: FakeUser, message: JsonDict, callback_data: str) -> JsonDict:
        """Press an inline button of a bot message (as stored now, if still stored)."""
        chat_id = int(message["chat"]["id"])
        current = self._store.get(chat_id, {}).get(int(message["message_id"]), message)
        query_id = f"cb{next(self._ids)}"
        query = {
            "id": query_id,
            "from": copy.deepcopy(user.data),
            "chat_instance": f"ci{chat_id}",
            "message": _public(current),
            "data": callback_data,
        }
        return self.enqueue_raw({"callback_query": query})

    # -- method handlers ---------------------------------------------------------------------

    async def _true(self, call: Call) -> bool:
        return True

    async def _answer_callback_query(self, call: Call) -> bool:
        query = self._queries.get(str(call.params.get("callback_query_id")))
        if (
            query is None
            or query.answered
            or time.monotonic() - query.pressed > self.callback_timeout
        ):
            raise ApiError(400, TOO_OLD)
        query.answered = True
        return True

    async def _set_webhook(self, call: Call) -> bool:
        url = str(call.params.get("url") or "")
        if not url:  # an empty URL removes the webhook, as in Telegram
            self.webhook = None
            return True
        if not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = call.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = dict(call.params)
        if "allowed_updates" in call.params:
            self._allowed = list(call.params["allowed_updates"]) or None
        return True

    async def _delete_webhook(self, call: Call) -> bool:
        self.webhook = None
        return True

    async def _get_webhook_info(self, call: Call) -> JsonDict:
        info: JsonDict = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": self.pending_updates,
        }
        if self.webhook and "allowed_updates" in self.webhook:
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _get_me(self, call: Call) -> JsonDict:
        return {**self.bot_user, "can_read_all_group_messages": not self.privacy_mode}

    def _scope_key(self, params: JsonDict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    async def _set_cmds(self, call: Call) -> bool:
        self.commands[self._scope_key(call.params)] = list(call.params.get("commands") or [])
        return True

    async def _del_cmds(self, call: Call) -> bool:
        self.commands.pop(self._scope_key(call.params), None)
        return True

    async def _get_cmds(self, call: Call) -> list[JsonDict]:
        return self.commands.get(self._scope_key(call.params), [])

    @staticmethod
    def _description_field(call: Call) -> str:
        return "short_description" if "short" in call.method.lower() else "description"

    async def _set_description(self, call: Call) -> bool:
        field = self._description_field(call)
        text = str(call.params.get(field) or "")
        if len(text) > (120 if field == "short_description" else 512):
            raise ApiError(400, f"Bad Request: {field.upper()}_TOO_LONG")
        key = (field, str(call.params.get("language_code") or ""))
        if text:
            self.descriptions[key] = text
        else:  # an empty text removes the language's own (Telegram falls back to the default)
            self.descriptions.pop(key, None)
        return True

    async def _get_description(self, call: Call) -> JsonDict:
        field = self._description_field(call)
        key = (field, str(call.params.get("language_code") or ""))
        return {field: self.descriptions.get(key, "")}

    def _chat(self, chat_id: Any) -> JsonDict:
        try:
            key = int(chat_id)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        # Chats the test never introduced still get a plausible shape.
        unknown = (
            {"id": key, "type": "private", "first_name": "?"}
            if key > 0
            else {"id": key, "type": "group", "title": "?"}
        )
        return self._chats.setdefault(key, unknown)

    async def _get_chat(self, call: Call) -> JsonDict:
        return {
            **self._chat(call.params.get("chat_id")),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
            },
        }

    def _render(self, params: JsonDict, key: str, limit: int) -> str | None:
        raw = params.get(key)
        if raw is None:
            return None
        text = (
            _render_html(str(raw)) if str(params.get("parse_mode")).upper() == "HTML" else str(raw)
        )
        if key == "text" and not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > limit:
            what = "message caption" if key == "caption" else "message"
            raise ApiError(400, f"Bad Request: {what} is too long")
        return text

    def _apply_markup(self, message: JsonDict, params: JsonDict) -> None:
        markup = params.get("reply_markup")
        message.pop("reply_markup", None)
        message.pop("_reply_keyboard", None)
        if not isinstance(markup, dict):
            return
        _check_inline_keyboard(markup)
        # Message.reply_markup can only be an inline keyboard; reply keyboards are kept
        # under a helper key for inspection, never echoed back to the bot.
        if "inline_keyboard" in markup:
            if markup["inline_keyboard"]:
                message["reply_markup"] = markup
        else:
            message["_reply_keyboard"] = markup

    def _store_bot_message(self, params: JsonDict, **fields: Any) -> JsonDict:
        chat_id = int(self._chat(params.get("chat_id"))["id"])
        message = self._new_message(chat_id)
        message["from"] = dict(self.bot_user)
        message.update({k: v for k, v in fields.items() if v is not None})
        reply = params.get("reply_parameters") or {}
        if isinstance(reply, dict) and reply.get("message_id") is not None:
            replied_id = int(reply["message_id"])
            replied = self._user_store.get((chat_id, replied_id)) or self._store.get(
                chat_id, {}
            ).get(replied_id)
            if replied is not None:
                message["reply_to_message"] = self._replied(replied)
        self._apply_markup(message, params)
        self._store.setdefault(chat_id, {})[message["message_id"]] = message
        return _public(message)

    async def _send_message(self, call: Call) -> JsonDict:
        return self._store_bot_message(call.params, text=self._render(call.params, "text", 4096))

    def _input_file(self, call: Call, key: str, folder: str) -> _File:
        if key in call.files:
            filename, content = call.files[key]
            return self.register_file(content, filename, folder=folder)
        if (entry := self._files.get(str(call.params.get(key)))) is not None:
            return entry
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    @staticmethod
    def _document(entry: _File, name: str) -> JsonDict:
        return {
            "file_id": entry.file_id,
            "file_unique_id": entry.unique_id,
            "file_name": PurePosixPath(name).name,
            "file_size": entry.size,
            "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
        }

    async def _send_document(self, call: Call) -> JsonDict:
        caption = self._render(call.params, "caption", 1024)
        entry = self._input_file(call, "document", "documents")
        name = call.files["document"][0] if "document" in call.files else entry.path
        document = self._document(entry, name)
        return self._store_bot_message(call.params, document=document, caption=caption)

    async def _send_photo(self, call: Call) -> JsonDict:
        caption = self._render(call.params, "caption", 1024)
        entry = self._input_file(call, "photo", "photos")
        return self._store_bot_message(
            call.params, photo=self._photo_sizes(entry.content), caption=caption
        )

    def _media_item(self, call: Call, item: Any) -> JsonDict:
        if not isinstance(item, dict):
            raise ApiError(400, "Bad Request: can't parse InputMedia: media is not an object")
        kind = str(item.get("type"))
        ref = str(item.get("media"))
        attached = ref.removeprefix("attach://")
        if ref.startswith("attach://") and attached in call.files:
            name, content = call.files[attached]
            entry = self.register_file(content, name, folder=f"{kind}s")
        elif (found := self._files.get(ref)) is not None:
            name, entry = found.path, found
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        content_fields: JsonDict = {"caption": self._render(item, "caption", 1024)}
        if kind == "photo":
            content_fields["photo"] = self._photo_sizes(entry.content)
        else:  # document, video, audio: stored with a document's fields
            content_fields[kind] = self._document(entry, name)
        return content_fields

    async def _send_media_group(self, call: Call) -> list[JsonDict]:
        media = call.params.get("media")
        if not isinstance(media, list) or not media:
            raise ApiError(400, 'Bad Request: parameter "media" is required')
        items = [self._media_item(call, item) for item in media]  # all valid, or none stored
        group = f"mg{next(self._ids)}"
        return [self._store_bot_message(call.params, media_group_id=group, **i) for i in items]

    def _source(self, params: JsonDict, verb: str) -> JsonDict:
        """The message to copy/forward: a bot message or one a fake user sent."""
        chat_id = int(self._chat(params.get("from_chat_id"))["id"])
        message_id = int(params.get("message_id") or 0)
        message = self._store.get(chat_id, {}).get(message_id) or self._user_store.get(
            (chat_id, message_id)
        )
        if message is None:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        origin = message.get("forward_origin") or {  # a forward keeps the first origin
            "type": "user",
            "sender_user": message.get("from") or self.bot_user,
            "date": message["date"],
        }
        fields = {k: message[k] for k in _CONTENT_KEYS if k in message}
        return copy.deepcopy({**fields, "_origin": origin})

    async def _copy_message(self, call: Call) -> JsonDict:
        fields = self._source(call.params, "copy")
        fields.pop("_origin")
        if "caption" in call.params:  # a new caption replaces the original
            fields.pop("caption_entities", None)
            fields["caption"] = self._render(call.params, "caption", 1024)
        message = self._store_bot_message(call.params, **fields)
        return {"message_id": message["message_id"]}

    async def _forward_message(self, call: Call) -> JsonDict:
        fields = self._source(call.params, "forward")
        return self._store_bot_message(call.params, forward_origin=fields.pop("_origin"), **fields)

    def _stored(self, params: JsonDict, verb: str) -> JsonDict:
        chat_id = int(self._chat(params.get("chat_id"))["id"])
        message = self._store.get(chat_id, {}).get(int(params.get("message_id") or 0))
        if message is None:
            raise ApiError(400, f"Bad Request: message to {verb} not found")
        return message

    async def _edit(self, call: Call) -> JsonDict:
        message = self._stored(call.params, "edit")
        updated = copy.deepcopy(message)
        method = call.method.lower()
        if method == "editmessagetext":
            if "text" not in message:
                raise ApiError(400, "Bad Request: there is no text in the message to edit")
            updated["text"] = self._render(call.params, "text", 4096)
        elif method == "editmessagecaption":
            updated.pop("caption", None)
            if (caption := self._render(call.params, "caption", 1024)) is not None:
                updated["caption"] = caption
        # Like Telegram, any edit without reply_markup removes the inline keyboard.
        self._apply_markup(updated, call.params)
        updated.pop("edit_date", None)
        if updated == {k: v for k, v in message.items() if k != "edit_date"}:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message "
                "content and reply markup are exactly the same as a current "
                "content and reply markup of the message",
            )
        message.clear()
        message.update(updated, edit_date=int(time.time()))
        return _public(message)

    async def _delete_message(self, call: Call) -> bool:
        message = self._stored(call.params, "delete")
        del self._store[int(message["chat"]["id"])][int(message["message_id"])]
        return True

    async def _get_file(self, call: Call) -> JsonDict:
        entry = self._files.get(str(call.params.get("file_id")))
        if entry is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if entry.size > MAX_DOWNLOAD_SIZE:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": entry.file_id,
            "file_unique_id": entry.unique_id,
            "file_size": entry.size,
            "file_path": entry.path,
        }

    # -- inspection and waiting --------------------------------------------------------------

    def mark(self) -> int:
        """Current number of recorded calls, to pass as ``after``."""
        return len(self.calls)

    def delivered(self, chat_id: int | str | None = None) -> list[Call]:
        """Successful SENDING_METHODS calls in arrival order (to ``chat_id`` only, if
        given); edits, failures and throttled calls are left out."""
        if chat_id is None:
            return list(self._delivered)
        return list(self._delivered_by_chat.get(str(chat_id), []))

    def messages(self, chat_id: int | str) -> list[JsonDict]:
        """Bot messages currently in the chat (edited in place, deleted ones gone)."""
        return [_public(m) for m in self._store.get(int(chat_id), {}).values()]

    def _dump(self, last: int = 15) -> str:
        lines = [
            f"  {c.method} {'' if c.ok else c.error} "
            f"{json.dumps(c.params, ensure_ascii=False, default=str)[:300]}"
            for c in self.calls[-last:]
            if c.method.lower() != "getupdates"
        ]
        return "\n".join(lines) or "  (no calls)"

    async def _wait(self, find: Callable[[], Any], limit: float, what: str) -> Any:
        deadline = time.monotonic() + limit
        while True:
            ev = self._calls_ev
            if (found := find()) is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {limit}s waiting for {what}; last calls:\n{self._dump()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), remaining)

    def _find(
        self,
        methods: Iterable[str],
        chat_id: Any,
        predicate: Callable[[Call], bool] | None,
        after: int,
        ok_only: bool = False,
    ) -> int | None:
        for i in range(after, len(self.calls)):
            c = self.calls[i]
            if (
                c.method in methods
                and (chat_id is None or _same_chat(c.chat_id, chat_id))
                and (not ok_only or c.ok)
                and (predicate is None or predicate(c))
            ):
                return i
        return None

    async def wait_for(
        self,
        method: str | Iterable[str],
        chat_id: int | str | None = None,
        predicate: Callable[[Call], bool] | None = None,
        after: int = 0,
        timeout: float = 5.0,
    ) -> Call:
        """First call (successful or failed) of ``method`` at or after index ``after``."""
        methods = {method} if isinstance(method, str) else set(method)

        def find() -> Call | None:
            i = self._find(methods, chat_id, predicate, after)
            return None if i is None else self.calls[i]

        found: Call = await self._wait(find, timeout, f"{sorted(methods)} chat={chat_id}")
        return found

    async def next_message(
        self, chat_id: int | str, after: int | None = None, timeout: float = 5.0
    ) -> JsonDict:
        """The next message the bot sent or edited into the chat, as of that call, with a
        ``_method`` key. Without ``after`` it continues after the last one returned."""
        key = str(chat_id)
        start = self._cursor.get(key, 0) if after is None else after

        def find() -> int | None:
            return self._find(MESSAGE_METHODS, chat_id, None, start, ok_only=True)

        i: int = await self._wait(find, timeout, f"a message to chat {chat_id}")
        self._cursor[key] = i + 1
        return {**copy.deepcopy(self.calls[i].result), "_method": self.calls[i].method}

    def note_answer(self, update_id: int, chat_id: int, message_id: int, method: str) -> None:
        """The bot's side (tests/e2e/conftest.py): it sent or edited that message with
        `method` while handling update `update_id` (its reply, not a notice)."""
        self._answers.setdefault((int(chat_id), message_id, method.lower()), update_id)
        self._calls_ev, ev = asyncio.Event(), self._calls_ev
        ev.set()

    def _answers_update(self, call: Call, update: JsonDict) -> bool:
        result = call.result if isinstance(call.result, dict) else {}
        message_id = result.get("message_id")
        if message_id is None or not isinstance(result.get("chat"), dict):
            return False
        if call.method.lower() in _EDITING_LOWER:
            pressed = update.get("callback_query", {}).get("message", {})
            if pressed.get("message_id") == message_id and _same_chat(
                pressed.get("chat", {}).get("id"), call.chat_id
            ):
                return True  # the pressed message edited: its answer, whoever sent it
        key = (int(result["chat"]["id"]), message_id, call.method.lower())
        return bool(self._answers.get(key) == update["update_id"])

    async def answer(
        self, update: JsonDict, chat_id: int | str, after: int, timeout: float = 5.0
    ) -> JsonDict:
        """The bot's answer to `update` in the chat, as next_message returns it: the first
        edit of the pressed message (a button press) or message sent or edited while
        handling that update, at or after index `after`. A notice the outbox sends in
        between is not taken for it."""
        key = str(chat_id)

        def find() -> int | None:
            for i in range(after, len(self.calls)):
                c = self.calls[i]
                if (
                    c.method in MESSAGE_METHODS
                    and c.ok
                    and _same_chat(c.chat_id, chat_id)
                    and self._answers_update(c, update)
                ):
                    return i
            return None

        what = f"the answer to update {update['update_id']} in chat {chat_id}"
        i: int = await self._wait(find, timeout, what)
        self._cursor[key] = i + 1
        return {**copy.deepcopy(self.calls[i].result), "_method": self.calls[i].method}

    async def callback_answer(self, update: JsonDict, timeout: float = 5.0) -> Call:
        """The answerCallbackQuery call for a ``click`` update."""
        query_id = update["callback_query"]["id"]
        return await self.wait_for(
            "answerCallbackQuery",
            timeout=timeout,
            predicate=lambda c: c.params.get("callback_query_id") == query_id,
        )

    async def idle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until every update was fetched, no request is in flight and no call
        (other than getUpdates) completed for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if (
                not self.pending_updates
                and not self._inflight
                and now - self._last_activity >= quiet
            ):
                return
            if now >= deadline:
                raise AssertionError(
                    f"bot not idle after {timeout}s ({self.pending_updates} "
                    f"updates pending); last calls:\n{self._dump()}"
                )
            await asyncio.sleep(min(0.02, quiet))
