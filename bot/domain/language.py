"""Which language a new user is spoken to in."""

from __future__ import annotations

# Telegram clients in these languages are mostly used by Russian readers.
RUSSIAN_READERS = frozenset({"ru", "uk", "be", "kk", "ky", "tt"})


def locale_for(language_code: str | None) -> str:
    if not language_code:
        return "ru"
    primary = language_code.replace("_", "-").split("-")[0].lower()
    return "ru" if primary in RUSSIAN_READERS else "en"
