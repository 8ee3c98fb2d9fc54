"""A request middleware: waits out 429 `retry_after` and retries brief server failures.

A reply that hits Telegram's flood limit is delayed, not lost. Long polling is left
alone: aiogram's polling loop has its own back-off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates, Response, TelegramMethod

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)


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
