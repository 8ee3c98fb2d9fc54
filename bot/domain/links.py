"""Conference and Moodle links: what the bot accepts as a link."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_LINK_LENGTH = 2048


def normalize_link(text: str) -> str | None:
    """The link if it is an absolute http(s) URL with a host, else None."""
    candidate = text.strip()
    if not candidate or len(candidate) > MAX_LINK_LENGTH or any(c.isspace() for c in candidate):
        return None
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        return None
    if "." not in host and host != "localhost":
        return None
    return candidate
