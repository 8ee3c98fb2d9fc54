"""The first word with the Bot API at start-up: is the token right and Telegram there?

Without this check a wrong token, an unreachable Telegram or a `TELEGRAM_API_URL` that
points at something else shows up as a traceback deep in aiogram (or, while polling, as
an endless "getUpdates failed; retrying"). Here it becomes one line saying which of them
it is and what to check; `python -m bot run` prints it and exits non-zero.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)

from bot.config import Settings

# getMe answers in well under a second; a Telegram that takes longer at start is not there.
CHECK_TIMEOUT = 15
OFFICIAL = "https://api.telegram.org"


class BotApiUnavailable(Exception):
    """The Bot API cannot be used at start-up; the message is one line for the operator."""


def _where(settings: Settings) -> str:
    if settings.telegram_api_url:
        return f"TELEGRAM_API_URL ({settings.telegram_api_url})"
    return f"the Bot API ({OFFICIAL})"


def explain(error: Exception, settings: Settings) -> str:
    """One line naming what failed and what to check. Never the token: it is in the
    request's URL, so only the base address is named."""
    where = _where(settings)
    custom = bool(settings.telegram_api_url)
    if isinstance(error, TelegramUnauthorizedError):
        return (
            "Telegram refused the bot token (401 Unauthorized): check BOT_TOKEN "
            "(copy it again from @BotFather; a revoked token stops working)"
        )
    if isinstance(error, TelegramNotFound):
        if custom:
            return (
                f"{where} does not answer as the Bot API (404 Not Found for getMe): "
                "check TELEGRAM_API_URL (the server's base address, without /bot…)"
            )
        return "Telegram does not know this bot token (404 Not Found): check BOT_TOKEN"
    if isinstance(error, ClientDecodeError):
        check = (
            "check TELEGRAM_API_URL"
            if custom
            else "check for a proxy or a firewall page in the way"
        )
        return f"{where} answered something that is not the Bot API (not its JSON): {check}"
    if isinstance(error, TelegramNetworkError):
        check = (
            "the network and the address in TELEGRAM_API_URL"
            if custom
            else "the network, DNS and proxy (or set TELEGRAM_API_URL to a Bot API you can reach)"
        )
        return f"Cannot reach {where}: {error.message}; check {check}"
    if isinstance(error, TelegramAPIError):
        return f"{where} refused getMe ({error.message}): check BOT_TOKEN and TELEGRAM_API_URL"
    return f"{where} failed at start-up ({type(error).__name__}: {error})"


async def check_bot_api(bot: Bot, settings: Settings) -> None:
    """getMe once (the request session's own retries apply). Raises BotApiUnavailable."""
    try:
        await bot.get_me(request_timeout=CHECK_TIMEOUT)
    except (TelegramAPIError, ClientDecodeError) as exc:
        raise BotApiUnavailable(explain(exc, settings)) from exc
