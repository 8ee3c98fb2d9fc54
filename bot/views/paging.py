"""Lists that grow: split into several messages (read-only text) or paged with ◀ n/N ▶
buttons (lists a user acts on). Nothing is ever cut off.

Lengths are measured on the HTML as sent, which is never shorter than the text Telegram
counts against its limits, so a part that fits here fits there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain.reminders import split_text
from bot.keyboards.callbacks import Listing, PageCB
from bot.views.html import Html, join_lines
from bot.views.screen import Screen

# Telegram's limits: 4096 characters a message, 1024 a caption.
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
# Several messages at line breaks (see split_text); the notices' sender splits the same way.
split_html = split_text
# A page of a list leaves room for its heading and the page line.
PAGE_BUDGET = 3500


def pages_of(
    items: Sequence[str], budget: int = PAGE_BUDGET, *, max_items: int | None = None
) -> list[range]:
    """Index ranges of the items on each page: as many as fit the budget (a newline
    each), at most ``max_items``, at least one. Always at least one page."""
    pages: list[range] = []
    start = size = 0
    for index, item in enumerate(items):
        full = max_items is not None and index - start >= max_items
        if index > start and (size + len(item) + 1 > budget or full):
            pages.append(range(start, index))
            start, size = index, 0
        size += len(item) + 1
    pages.append(range(start, len(items)))
    return pages


def clamp(page: int, pages: int) -> int:
    return min(max(page, 0), max(pages - 1, 0))


def pager_row(
    page: int, pages: int, data: Callable[[int], CallbackData]
) -> list[InlineKeyboardButton]:
    """◀ n/N ▶ for a list of ``pages`` pages; empty when there is one. ``data(p)`` is the
    typed callback data that shows page p."""
    if pages <= 1:
        return []
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(text="◀️", callback_data=data(page - 1).pack()))
    row.append(InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data=data(page).pack()))
    if page + 1 < pages:
        row.append(InlineKeyboardButton(text="▶️", callback_data=data(page + 1).pack()))
    return row


def paged(
    head: Sequence[object],
    items: Sequence[Html],
    page: int,
    *,
    data: Callable[[int], CallbackData],
    max_items: int | None = None,
) -> tuple[Html, InlineKeyboardMarkup | None, range]:
    """One page of a list under its heading, the ◀ n/N ▶ row, and which items the page
    shows (a page past the end shows the last one: the list may have shrunk since the
    button was sent)."""
    top = join_lines(head)
    ranges = pages_of(items, PAGE_BUDGET - len(top), max_items=max_items)
    page = clamp(page, len(ranges))
    text = join_lines([top, *(items[i] for i in ranges[page])])
    row = pager_row(page, len(ranges), data)
    return text, InlineKeyboardMarkup(inline_keyboard=[row]) if row else None, ranges[page]


# Telegram's limit is 4096 characters a message; cards are split between messages below it.
CARDS_BUDGET = 3800


def cards_in_messages(head: str, cards: Iterable[str], tail: str | None = None) -> list[str]:
    """Whole cards (a blank line apart) in as few messages as fit, the head first and the
    tail last; a card alone may still outgrow one (a long place, escaped): the sender
    splits it too (bot.handlers.replies.answer_long)."""
    messages = []
    chunk: list[str] = [head]
    for card in cards:
        if sum(len(c) + 2 for c in chunk) + len(card) > CARDS_BUDGET:
            messages.append("\n\n".join(chunk))
            chunk = []
        chunk.append(card)
    if tail is not None:
        chunk.append(tail)
    messages.append("\n\n".join(chunk))
    return messages


def pager_screen(listing: Listing, page: int, pages: int, *, text: str) -> Screen | None:
    """◀ n/N ▶ under the last message of a list sent a message an item (`text` says which
    items these are), or None when the list has one page."""
    row = pager_row(page, pages, lambda p: PageCB(listing=listing, page=p))
    if not row:
        return None
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=[row]))
