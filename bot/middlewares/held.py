"""Commit, then speak: what a handler says to Telegram is held until its update commits.

A request middleware on the bot's session (`HoldReplies`, put first, before the retries
and any rate limiter) takes every send, edit, callback answer and deletion made while a
unit of work holds an update's replies (`held_replies`, set by
bot.middlewares.unit_of_work), and answers at once with `NOT_SENT`. After the commit the
unit of work releases them in order (`release`); on a rollback they are dropped, so a
rolled-back update never told anyone anything.

- The messages and edited texts of an update that wrote something are kept in the
  outbox in its own transaction (bot.notify.stored_replies): `durable()` says which,
  and the unit of work ties each to its chat's notice (`_Reply.kept`). Sent after the
  commit as usual, each is reported to the store (`accepted`), which deletes the notice
  once all are out; if Telegram fails one (5xx, network, 429 beyond the retries), the notice is
  handed back to the outbox sender with the rest of that chat's messages, in order. A
  process killed after the commit leaves the notice to the next start's sender: the
  user still learns that their statement is kept.
- A message or an edited text of an update that only read, failed likewise, goes to
  the outbox then, with the texts after it to that chat.
- A failed edit, callback answer or deletion is logged: what the update recorded stays.
- Edits made inside `latest_state()` go to an `EditCoalescer` (bot.notify.edits), which
  sends only the latest state of each message at Telegram's pace for the chat.
- A handler that needs what Telegram returns (a message id to edit later) does that
  call in a step of its own, `after_commit(step)`, run in order with the replies (not
  held: it may read the result) and storing what it learns in its own transaction.

Other requests (getFile, getMe, getChat) are not held: a handler needs their answer. Nor
is a chat action ("sending a file…"): it means something only while the work runs, and
bot.handlers.busy sends it from a task of its own, so no transaction waits on it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    CopyMessage,
    DeleteMessage,
    EditMessageCaption,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageText,
    ForwardMessage,
    Response,
    SendDocument,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)

from bot.notify.retry import not_modified

if TYPE_CHECKING:
    from aiogram import Bot

    from bot.notify.stored_replies import KeptReply

log = logging.getLogger(__name__)

SPOKEN: tuple[type[TelegramMethod[Any]], ...] = (
    SendMessage,
    SendPhoto,
    SendDocument,
    SendMediaGroup,
    CopyMessage,
    ForwardMessage,
    EditMessageText,
    EditMessageReplyMarkup,
    EditMessageCaption,
    EditMessageMedia,
    AnswerCallbackQuery,
    DeleteMessage,
)
EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption, EditMessageMedia)


class NotSent:
    """What a held request returns: it has not gone out yet, so there is no result."""

    def __repr__(self) -> str:
        return "NOT_SENT"

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"a held reply has no {name!r} before the commit: "
            "use after_commit() for a request whose result is needed"
        )


NOT_SENT = NotSent()
Step = Callable[[], Awaitable[None]]


@dataclass
class _Reply:
    bot: Bot
    method: TelegramMethod[Any]
    latest_state: bool = False
    # The outbox notice this message is kept in (an update that wrote something).
    kept: KeptReply | None = None


@dataclass
class HeldReplies:
    """What one update says, in order, until its commit."""

    items: list[_Reply | Step] = field(default_factory=list)
    open: bool = True


held_replies: ContextVar[HeldReplies | None] = ContextVar("held_replies", default=None)
# Set by the polling runner for each update it starts (bot.polling.Runner): gives back the
# update's running slot once its work is done and only its answers are on their way, so
# Telegram's round trip holds no slot that another update's work could use.
work_done: ContextVar[Callable[[], None] | None] = ContextVar("work_done", default=None)
_latest_state: ContextVar[bool] = ContextVar("latest_state", default=False)


class EditSink(Protocol):
    def submit(self, bot: Bot, method: TelegramMethod[Any]) -> None: ...


class Outbox(Protocol):
    """Where the messages go that must not be lost (bot.notify.stored_replies.ReplyStore)."""

    async def keep(self, bot: Bot, messages: list[SendMessage]) -> None:
        """Stores the messages for the outbox sender (in order, one notice)."""

    def holding(self, kept: KeptReply) -> AbstractContextManager[None]:
        """Keeps `kept`'s claim while one of its messages is on its way."""

    def accepted(self, kept: KeptReply) -> None:
        """The next of the kept messages went out (or was refused for good)."""

    async def hand_back(self, kept: KeptReply, error: Exception) -> None:
        """Telegram failed one of them: the outbox sender delivers it and the rest."""


class HoldReplies(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        held = held_replies.get()
        if held is None or not held.open or not isinstance(method, SPOKEN):
            return await make_request(bot, method)
        held.items.append(_Reply(bot, method, _latest_state.get() and isinstance(method, EDITS)))
        return cast("Response[Any]", NOT_SENT)  # a string: Response[Any] costs at run time


def hold_replies(bot: Bot) -> None:
    """Makes `HoldReplies` the first of the bot's request middlewares (once): a held
    request must not take a rate limiter's slot or wait out a 429 before the commit."""
    manager = bot.session.middleware
    if manager and isinstance(manager[0], HoldReplies):
        return
    others = [m for m in manager if not isinstance(m, HoldReplies)]
    for middleware in list(manager):
        manager.unregister(middleware)
    manager.register(HoldReplies())
    for middleware in others:
        manager.register(middleware)


def after_commit(step: Step) -> None:
    """Runs `step` after the update's commit, in order with its replies (its requests are
    not held). A step that fails is logged; what the update committed stays."""
    held = held_replies.get()
    if held is None or not held.open:
        raise RuntimeError("after_commit() outside an update's unit of work")
    held.items.append(step)


@contextlib.contextmanager
def latest_state() -> Iterator[None]:
    """Edits made inside go out as the latest state of their message, at the chat's pace
    (a console tapped faster than Telegram lets a message be edited)."""
    token = _latest_state.set(True)
    try:
        yield
    finally:
        _latest_state.reset(token)


def unavailable(error: BaseException) -> bool:
    """The Bot API failed the request as a whole (not this request's content)."""
    return isinstance(error, TelegramServerError | TelegramNetworkError | TelegramRetryAfter)


def durable(held: HeldReplies) -> list[tuple[_Reply, SendMessage]]:
    """What is kept in the outbox when the update wrote something: its messages and
    edited texts (as messages), not the roll's latest-state edits, files or answers."""
    return [
        (item, message)
        for item in held.items
        if isinstance(item, _Reply)
        and not item.latest_state
        and (message := as_message(item.method)) is not None
    ]


async def release(
    held: HeldReplies, *, outbox: Outbox | None = None, edits: EditSink | None = None
) -> None:
    """Says what the update held, in order, after its commit. Never raises."""
    held.open = False
    done = work_done.get()
    if done is not None:
        done()
    items = held.items
    for index, item in enumerate(items):
        if not isinstance(item, _Reply):
            try:
                await item()
            except Exception:
                log.exception("a step after the commit failed; what was committed stays")
            continue
        if item.latest_state and edits is not None:
            edits.submit(item.bot, item.method)
            continue
        kept = item.kept
        if kept is not None:
            assert outbox is not None  # kept by it
            if not kept.handed_back:  # else the outbox sender says it, after the others
                await _say_kept(item, kept, outbox)
            continue
        try:
            await item.bot(item.method)
        except Exception as exc:
            message = as_message(item.method)
            if message is not None and unavailable(exc) and outbox is not None:
                await _to_outbox(
                    item, message, items[index + 1 :], error=exc, outbox=outbox, edits=edits
                )
                return
            _log_failure(item.method, exc)


async def _say_kept(item: _Reply, kept: KeptReply, outbox: Outbox) -> None:
    try:
        with outbox.holding(kept):
            await item.bot(item.method)
    except Exception as exc:
        if unavailable(exc):
            await outbox.hand_back(kept, exc)
            return
        _log_failure(item.method, exc)  # refused for good: not tried again either
    outbox.accepted(kept)


def as_message(method: TelegramMethod[Any]) -> SendMessage | None:
    """What the outbox sends instead of a reply Telegram failed: the message itself, or
    an edited text as a new message (the edit acknowledged something: a statement
    submitted); None for what has no text to say later (a callback answer, a file)."""
    if isinstance(method, SendMessage):
        return method
    if isinstance(method, EditMessageText) and method.chat_id is not None and method.text:
        return SendMessage(
            chat_id=method.chat_id,
            text=method.text,
            parse_mode=method.parse_mode,
            entities=method.entities,
            link_preview_options=method.link_preview_options,
            reply_markup=method.reply_markup,
        )
    return None


async def _to_outbox(
    failed: _Reply,
    message: SendMessage,
    rest: list[_Reply | Step],
    *,
    error: Exception,
    outbox: Outbox,
    edits: EditSink | None,
) -> None:
    """This message and the later texts to the same chat go through the outbox (so they
    keep their order); the rest is said as usual."""
    chat = message.chat_id
    later = [
        (r, text)
        for r in rest
        if isinstance(r, _Reply)
        and not r.latest_state
        and r.kept is None
        and (text := as_message(r.method)) is not None
        and text.chat_id == chat
    ]
    log.warning(
        "%s to chat %s failed after the commit (%s): %d message(s) go through the outbox",
        failed.method.__api_method__,
        chat,
        error.__class__.__name__,
        1 + len(later),
    )
    try:
        await outbox.keep(failed.bot, [message, *(text for _r, text in later)])
    except Exception:
        log.exception("the replies to chat %s could not be stored in the outbox: lost", chat)
    others = [r for r in rest if not any(r is kept for kept, _text in later)]
    await release(HeldReplies(others), outbox=outbox, edits=edits)


def _log_failure(method: TelegramMethod[Any], error: Exception) -> None:
    if isinstance(error, TelegramBadRequest) and (
        not_modified(error) or "query is too old" in error.message
    ):
        # A double tap, or a press answered too late: nothing to say that was not said.
        log.info("%s after the commit: %s", method.__api_method__, error.message)
        return
    log.warning(
        "%s failed after the commit (%s: %s); what the update recorded stays",
        method.__api_method__,
        error.__class__.__name__,
        error,
    )
