"""Where a button opens the Mini App: its base URL (WEBAPP_URL) with the page to show
as a query parameter (`?roll=<exam id>`, `?statement=<statement id>`). Not the fragment:
Telegram passes the launch data in the fragment of a web app's URL."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit


def app_page(base: str, **page: int) -> str:
    """`base` with the page's parameters added to any it has."""
    parts = urlsplit(base)
    query = "&".join(q for q in (parts.query, urlencode(page)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))
