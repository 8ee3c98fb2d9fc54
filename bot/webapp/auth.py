"""Who is asking: Telegram's initData, checked with the bot token (HMAC, as Telegram
signs it) and refused once older than WEBAPP_AUTH_MAX_AGE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram.utils.web_app import safe_parse_webapp_init_data

# Telegram's clocks and ours may differ a little: an auth_date this far ahead still counts.
CLOCK_SKEW = timedelta(minutes=5)


class AuthError(Exception):
    """The request does not prove who sent it; `reason` is for the log, not the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WebUser:
    id: int
    first_name: str
    username: str | None
    language_code: str | None


def authorization_data(header: str | None) -> str:
    """`Authorization: tma <initData>` -> the initData."""
    scheme, _sep, data = (header or "").strip().partition(" ")
    if scheme.lower() != "tma" or not data.strip():
        raise AuthError("no initData")
    return data.strip()


def check_init_data(token: str, init_data: str, now: datetime, *, max_age: timedelta) -> WebUser:
    """The user the initData was signed for; AuthError when forged, stale or userless."""
    try:
        parsed = safe_parse_webapp_init_data(token, init_data)
    except ValueError as exc:
        raise AuthError("initData signature does not match") from exc
    signed = parsed.auth_date
    if signed.tzinfo is None:
        raise AuthError("initData without a time zone")
    age = now - signed
    if age > max_age:
        raise AuthError("initData is too old")
    if age < -CLOCK_SKEW:
        raise AuthError("initData from the future")
    user = parsed.user
    if user is None:
        raise AuthError("initData without a user")
    return WebUser(
        id=user.id,
        first_name=user.first_name or "",
        username=user.username,
        language_code=user.language_code,
    )
