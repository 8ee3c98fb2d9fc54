"""A request middleware: waits out 429 `retry_after` and retries brief server failures.

A reply that hits Telegram's flood limit is delayed, not lost. Long polling is left
alone: aiogram's polling loop has its own back-off.

An edit Telegram refuses as "message is not modified" is done, always: the message
already says this (a double tap, or a request repeated after a timeout that Telegram had
in fact carried out). This is the one place that recognises it, so no handler does, and
the handler goes on to answer its button press (no endless spinner) and commit.

A callback answer repeated after a timeout that Telegram had in fact carried out comes
back "query is too old": done too. (An update handled again after an outage repeats
nothing: its first run's replies were held and dropped with its rollback,
bot.middlewares.held.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    Response,
    TelegramMethod,
)

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

_EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption, EditMessageMedia)


def not_modified(error: TelegramBadRequest) -> bool:
    return "message is not modified" in error.message


def done_before(method: TelegramMethod[Any], error: TelegramBadRequest, repeated: bool) -> bool:
    """Telegram refuses a request because what it asks is the case already: an edit into
    what the message says, or the same callback answer sent again here after a timeout that
    Telegram had in fact carried out (`repeated`)."""
    if isinstance(method, _EDITS):
        return not_modified(error)
    if not repeated:
        return False
    if isinstance(method, AnswerCallbackQuery):
        return "query is too old" in error.message or "query ID is invalid" in error.message
    return False


class RetryMiddleware(BaseRequestMiddleware):
    def __init__(self, attempts: int = 3, max_wait: float = 60.0, backoff: float = 0.5) -> None:
        self._attempts = attempts
        self._max_wait = max_wait
        self._backoff = backoff

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        if isinstance(method, GetUpdates):
            return await make_request(bot, method)
        for attempt in range(1, self._attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramBadRequest as exc:
                if not done_before(method, exc, repeated=attempt > 1):
                    raise
                log.info("%s: done before (%s)", method.__api_method__, exc.message)
                return cast(Response[Any], True)  # what an edit or a callback answer returns
            except TelegramRetryAfter as exc:
                if attempt == self._attempts or exc.retry_after > self._max_wait:
                    raise
                log.warning("%s: flood limit, waiting %ss", method.__api_method__, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError):
                if attempt == self._attempts:
                    raise
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # the loop returns or raises
