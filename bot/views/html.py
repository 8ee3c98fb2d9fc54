"""Telegram HTML: the one place where a value from a user or a file is escaped.

A message is built from trusted templates (our own gettext strings, which may hold tags)
and values (names, groups, disciplines, statement texts, links, file names …), which are
text. ``fmt`` and ``join`` escape every value that is not already ``Html``, so a value
is escaped exactly once whichever way it travels, and a call site never escapes by hand.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from decimal import Decimal

_TAG = re.compile(r"<[^<>]*>")


class Html(str):
    """A string that already is Telegram HTML (a rendered template or fragment)."""

    __slots__ = ()

    # Concatenation keeps it HTML and escapes a plain operand, as markupsafe's Markup
    # does: "\n• " + fmt(...) and fmt(...) + name are both safe.
    def __add__(self, other: str) -> Html:
        return Html(str.__add__(self, esc(other)))

    def __radd__(self, other: str) -> Html:
        return Html(str.__add__(esc(other), self))


def esc(value: object) -> Html:
    """A value as Telegram HTML text: ``&``, ``<`` and ``>`` become entities (as aiogram's
    own ``html_decoration.quote`` does; quotes need no escaping outside attributes)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=False))


def _value(value: object) -> object:
    # Numbers stay numbers so that format specs ({mb:g}) keep working; they hold no markup.
    if isinstance(value, Html | bool | int | float | Decimal):
        return value
    return esc(value)


def fmt(template: str, /, *args: object, **values: object) -> Html:
    """``template.format(...)`` with every value escaped; the template itself is HTML."""
    return Html(
        template.format(*map(_value, args), **{key: _value(v) for key, v in values.items()})
    )


def join(separator: str, parts: Iterable[object]) -> Html:
    """Parts joined by a (trusted) separator; a part that is not ``Html`` is escaped."""
    return Html(separator.join(esc(part) for part in parts))


def join_lines(parts: Iterable[object]) -> Html:
    return join("\n", parts)


def bold(value: object) -> Html:
    return fmt("<b>{}</b>", value)


def code(value: object) -> Html:
    return fmt("<code>{}</code>", value)


def link(url: str, label: object) -> Html:
    """An <a> tag: the URL is an attribute, so its quotes are escaped too."""
    return Html(f'<a href="{html.escape(url, quote=True)}">{esc(label)}</a>')


def plain(text: str) -> str:
    """What a reader of the HTML sees: tags dropped, entities decoded (for the CLI)."""
    return html.unescape(_TAG.sub("", text))
