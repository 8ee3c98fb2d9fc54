"""Which language a new user is spoken to in."""

from __future__ import annotations

# Telegram clients in these languages are mostly used by Russian readers.
RUSSIAN_READERS = frozenset({"ru", "uk", "be", "kk", "ky", "tt"})


def locale_for(language_code: str | None, default: str = "ru") -> str:
    """ru for a Russian reader's client, en for an English one, and `default` (the
    DEFAULT_LOCALE setting) for any other language or none."""
    if not language_code:
        return default
    primary = language_code.replace("_", "-").split("-")[0].lower()
    if primary in RUSSIAN_READERS:
        return "ru"
    return "en" if primary == "en" else default
