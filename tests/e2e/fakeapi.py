"""A fake Telegram Bot API server for end-to-end tests.

The bot under test talks to it over real HTTP exactly as it would talk to
api.telegram.org (``TelegramAPIServer.from_base(api.base_url)``), while the
test plays the Telegram users: it injects updates (messages, documents, button
clicks), then waits for and inspects what the bot sent back. Errors such as
flood control (429) or a user who blocked the bot (403) can be injected.

The server mimics the Telegram behaviours a bot most often trips over:
``editMessage*`` with unchanged content fails with "message is not modified",
``editMessageText`` without ``reply_markup`` drops the inline keyboard, HTML
``parse_mode`` is validated (bad markup -> "can't parse entities") and the
stored text is the rendered plain text, texts over 4096 / captions over 1024
characters and ``callback_data`` over 64 bytes are rejected, ``getFile`` refuses
files above 20 MB, and ``allowed_updates`` filters what ``getUpdates`` delivers.

``setWebhook`` is recorded (``webhook``, checked like Telegram: https URL, secret token
shape); while a webhook is set ``getUpdates`` answers 409, as Telegram does, until
``deleteWebhook``. Tests post webhook updates to the bot themselves.

``latency`` (seconds, jittered by ``jitter`` either way) delays every call as Telegram's
round trip does (50-300 ms in real life; the benchmarks use 100 ms).

For load tests and benchmarks it can also enforce Telegram's flood limits
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
import html
import itertools
import json
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
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji",
})
# fmt: on
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
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

    def send(self, text: str, chat: JsonDict | None = None) -> JsonDict:
        return self.api.send_message(self, text, chat=chat)

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
    per_group: int | None = None  # per group chat (negative id) and group_window
    group_window: float = 60.0


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


def _render_html(text: str) -> str:
    """Validate Telegram HTML like the real server and return the plain text."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while (start := text.find("<", pos)) != -1:
        out.append(text[pos:start])
        offset = len(text[:start].encode())
        match = _TAG_RE.match(text, start)
        if match is None or (not match[1] and match[2].lower() not in _HTML_TAGS):
            tag = match[2] if match else ""
            raise ApiError(
                400,
                "Bad Request: can't parse entities: Unsupported start tag "
                f'"{tag}" at byte offset {offset}',
            )
        tag = match[2].lower()
        if not match[1]:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: Unexpected end tag at byte offset {offset}",
            )
        pos = match.end()
    if stack:
        raise ApiError(
            400,
            "Bad Request: can't parse entities: Can't find end tag "
            f'corresponding to start tag "{stack[-1]}"',
        )
    out.append(text[pos:])
    return html.unescape("".join(out))


def _public(message: JsonDict) -> JsonDict:
    """What Telegram would show: helper keys starting with '_' removed."""
    return {k: copy.deepcopy(v) for k, v in message.items() if not k.startswith("_")}


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
    ) -> None:
        self.token = token
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
            "answercallbackquery": self._true,
            "sendchataction": self._true,
            "getfile": self._get_file,
            "getchat": self._get_chat,
            "setchatmenubutton": self._true,
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
        if limits is None or call.method.lower() not in _SENDING_LOWER:
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
        per_group: int | None = None,
        group_window: float = 60.0,
    ) -> None:
        """Enforce Telegram's flood limits until ``stop_enforcing``: a SENDING_METHODS call
        beyond ``global_per_second`` messages in the last second, or beyond
        ``per_chat_per_second`` to its chat_id, answers 429 "retry after ``retry_after``"
        and stores nothing; with ``per_group`` (Telegram: 20 a minute), likewise beyond
        that many in ``group_window`` seconds to a group chat (a negative id), retry
        after the seconds until one leaves the window. Edits are not limited. Counting
        starts afresh."""
        if global_per_second <= 0 or per_chat_per_second <= 0:
            raise ValueError("limits must be positive")
        self._limits = _Limits(
            global_per_second, per_chat_per_second, retry_after, per_group, group_window
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
        """Enqueue any update dict; ``update_id`` is assigned if missing."""
        update.setdefault("update_id", next(self._update_ids))
        self.last_update_id = max(self.last_update_id, int(update["update_id"]))
        return self._enqueue(update)

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

    def _user_message(self, user: FakeUser, chat: JsonDict | None, **fields: Any) -> JsonDict:
        target = chat or user.chat
        self._chats[int(target["id"])] = dict(target)
        message = self._new_message(int(target["id"]))
        message["from"] = copy.deepcopy(user.data)
        message.update({k: v for k, v in fields.items() if v is not None})
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

    def send_message(self, user: FakeUser, text: str, chat: JsonDict | None = None) -> JsonDict:
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
        return self._user_message(user, chat, text=text, entities=entities)

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
        query = {
            "id": f"cb{next(self._ids)}",
            "from": copy.deepcopy(user.data),
            "chat_instance": f"ci{chat_id}",
            "message": _public(current),
            "data": callback_data,
        }
        return self.enqueue_raw({"callback_query": query})

    # -- method handlers ---------------------------------------------------------------------

    async def _true(self, call: Call) -> bool:
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
        return dict(self.bot_user)

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
        for b in buttons({"reply_markup": markup}):
            if len(str(b.get("callback_data", "")).encode()) > 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
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
