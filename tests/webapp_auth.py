"""initData as Telegram signs it, for tests of the Mini App (server and browser)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlencode


def sign_init_data(
    token: str,
    user_id: int,
    *,
    auth_date: datetime,
    first_name: str = "Test",
    language_code: str = "ru",
    username: str | None = None,
    extra: dict[str, str] | None = None,
) -> str:
    """The query string Telegram.WebApp.initData holds for this user, signed with `token`:
    hash = HMAC_SHA256(HMAC_SHA256("WebAppData", token), data_check_string)."""
    user: dict[str, object] = {
        "id": user_id,
        "first_name": first_name,
        "language_code": language_code,
    }
    if username is not None:
        user["username"] = username
    fields = {
        "auth_date": str(int(auth_date.timestamp())),
        "query_id": f"AAF{user_id}",
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
        **(extra or {}),
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def forge(init_data: str) -> str:
    """The same initData with its hash changed (one hex digit): a forgery."""
    head, _sep, digest = init_data.rpartition("hash=")
    flipped = ("1" if digest[0] != "1" else "2") + digest[1:]
    return f"{head}hash={flipped}"
