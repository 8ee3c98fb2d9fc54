"""Gettext without the Telegram stack: the `_()` of services and of the command line.

Importing anything from aiogram costs seconds and ~150 MB (its types are loaded whole), so
code that a CLI command reaches takes `gettext` from here. In the running bot the
current language is aiogram's I18n context (set per update by its middleware, and by the
outbox for each notice) and `gettext` defers to it; a CLI command sets its own with
`Catalogs(...).use(locale)`, and aiogram is never imported. Both read the same compiled
catalogs.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

LOCALES = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"

_active: ContextVar[tuple[Catalogs, str] | None] = ContextVar("bot_catalogs", default=None)
_aiogram: Callable[..., str] | None = None


def compile_catalogs(path: Path = LOCALES) -> None:
    """Compiles .po to .mo where the .mo is missing or older (cheap; done at start-up)."""
    for po_path in path.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        # Babel's catalog modules take a while to import; most starts need none of them.
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        # Written beside and renamed into place: several processes may start at once (the
        # test workers, a CLI command next to the bot), and one that opened a half-written
        # .mo failed to parse it. A rename shows a reader no file or a whole one.
        fd, written = tempfile.mkstemp(prefix=f".{DOMAIN}.", suffix=".mo", dir=mo_path.parent)
        try:
            with os.fdopen(fd, "wb") as mo_file:
                write_mo(mo_file, catalog)
            Path(written).replace(mo_path)
        except BaseException:
            Path(written).unlink(missing_ok=True)
            raise


class Catalogs:
    """Every compiled locale under `path`, looked up as aiogram's I18n does."""

    def __init__(self, path: Path = LOCALES, domain: str = DOMAIN) -> None:
        compile_catalogs(path)
        self.locales: dict[str, stdlib_gettext.GNUTranslations] = {}
        for mo_path in path.glob(f"*/LC_MESSAGES/{domain}.mo"):
            with mo_path.open("rb") as mo_file:
                self.locales[mo_path.parent.parent.name] = stdlib_gettext.GNUTranslations(mo_file)

    def gettext(
        self, singular: str, plural: str | None = None, n: int = 1, *, locale: str = ""
    ) -> str:
        translator = self.locales.get(locale)
        if translator is None:
            return singular if n == 1 or plural is None else plural
        if plural is None:
            return translator.gettext(singular)
        return translator.ngettext(singular, plural, n)

    @contextmanager
    def use(self, locale: str) -> Iterator[None]:
        """`gettext` speaks `locale` inside (a CLI command's whole run)."""
        token = _active.set((self, locale))
        try:
            yield
        finally:
            _active.reset(token)


def gettext(
    singular: str, plural: str | None = None, n: int = 1, *, locale: str | None = None
) -> str:
    active = _active.get()
    if active is not None:
        catalogs, current = active
        return catalogs.gettext(singular, plural, n, locale=locale or current)
    return _aiogram_gettext()(singular, plural, n, locale)


def _aiogram_gettext() -> Callable[..., str]:
    # Only the running bot gets here, and it has imported aiogram long before.
    global _aiogram
    if _aiogram is None:
        from aiogram.utils.i18n import gettext as aiogram_gettext

        _aiogram = aiogram_gettext
    return _aiogram


def ngettext(singular: str, plural: str, n: int, *, locale: str | None = None) -> str:
    """`gettext` of a count: the plural form that `n` takes in the active language."""
    return gettext(singular, plural, n, locale=locale)
