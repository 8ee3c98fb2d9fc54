"""The Mini App's initData check: Telegram's HMAC with the bot token, and its age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.webapp.auth import AuthError, authorization_data, check_init_data
from tests.webapp_auth import forge, sign_init_data

TOKEN = "123456:TEST-token"
NOW = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_good_init_data_names_the_user() -> None:
    data = sign_init_data(
        TOKEN, 41_001, auth_date=NOW - timedelta(minutes=5), first_name="Ольга & <Co>"
    )
    user = check_init_data(TOKEN, data, NOW, max_age=HOUR)
    assert (user.id, user.first_name, user.language_code) == (41_001, "Ольга & <Co>", "ru")


def test_forged_hash_is_refused() -> None:
    data = sign_init_data(TOKEN, 41_001, auth_date=NOW)
    with pytest.raises(AuthError, match="signature"):
        check_init_data(TOKEN, forge(data), NOW, max_age=HOUR)


def test_signed_with_another_token_is_refused() -> None:
    data = sign_init_data("654321:OTHER-token", 41_001, auth_date=NOW)
    with pytest.raises(AuthError, match="signature"):
        check_init_data(TOKEN, data, NOW, max_age=HOUR)


def test_changed_user_is_refused() -> None:
    """Another user id put into genuine initData breaks the signature."""
    data = sign_init_data(TOKEN, 41_001, auth_date=NOW)
    with pytest.raises(AuthError, match="signature"):
        check_init_data(TOKEN, data.replace("41001", "41002"), NOW, max_age=HOUR)


def test_stale_init_data_is_refused() -> None:
    data = sign_init_data(TOKEN, 41_001, auth_date=NOW - HOUR - timedelta(seconds=1))
    with pytest.raises(AuthError, match="too old"):
        check_init_data(TOKEN, data, NOW, max_age=HOUR)
    # Exactly the allowed age still counts.
    assert (
        check_init_data(TOKEN, sign_init_data(TOKEN, 7, auth_date=NOW - HOUR), NOW, max_age=HOUR).id
        == 7
    )


def test_init_data_from_the_future_is_refused() -> None:
    data = sign_init_data(TOKEN, 41_001, auth_date=NOW + timedelta(hours=1))
    with pytest.raises(AuthError, match="future"):
        check_init_data(TOKEN, data, NOW, max_age=HOUR)


@pytest.mark.parametrize("header", [None, "", "tma", "tma   ", "Bearer abc", "abc"])
def test_missing_init_data_is_refused(header: str | None) -> None:
    with pytest.raises(AuthError, match="no initData"):
        authorization_data(header)


def test_missing_or_empty_data_is_refused() -> None:
    for data in ("", "hash=", "user=%7B%7D", "auth_date=1&hash=00"):
        with pytest.raises(AuthError):
            check_init_data(TOKEN, data, NOW, max_age=HOUR)


def test_header_carries_the_data() -> None:
    assert authorization_data("tma query_id=1&hash=ab") == "query_id=1&hash=ab"
