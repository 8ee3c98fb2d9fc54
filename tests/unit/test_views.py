"""The view layer's rules: escaping once, splitting and paging without losing an item."""

from __future__ import annotations

import pytest

from bot.domain.reminders import split_text
from bot.keyboards.callbacks import Listing, PageCB
from bot.views.html import Html, bold, code, esc, fmt, join, join_lines, link, plain
from bot.views.paging import clamp, pager_row, pages_of

HOSTILE = "Белов Артём <мл.> & \"Акушерство\" 'гинекология'"


def test_values_are_escaped_once_and_templates_are_html() -> None:
    text = fmt("<b>{name}</b>, {count:d}, {mb:g} MB", name=HOSTILE, count=3, mb=2.5)
    assert text == ("<b>Белов Артём &lt;мл.&gt; &amp; \"Акушерство\" 'гинекология'</b>, 3, 2.5 MB")
    assert isinstance(text, Html)
    # Html passes through every helper as it is: never escaped a second time.
    assert fmt("{}", text) == text and esc(text) is text
    assert join_lines([text, HOSTILE]) == text + "\n" + esc(HOSTILE)
    assert plain(join_lines([bold(HOSTILE), code("a<b")])) == f"{HOSTILE}\na<b"


def test_concatenation_escapes_the_plain_side() -> None:
    assert "a<b " + fmt("<i>{}</i>", "&") == "a&lt;b <i>&amp;</i>"
    assert fmt("<b>x</b>") + " & y" == "<b>x</b> &amp; y"
    assert isinstance("x" + bold("y"), Html) and isinstance(bold("y") + "x", Html)
    assert join(" · ", ["<", bold(">")]) == "&lt; · <b>&gt;</b>"


def test_a_link_escapes_its_quotes() -> None:
    assert link('https://x.org/?a="1"&b=2', "<go>") == (
        '<a href="https://x.org/?a=&quot;1&quot;&amp;b=2">&lt;go&gt;</a>'
    )


@pytest.mark.parametrize("limit", [10, 17, 50])
def test_split_never_cuts_a_tag_or_an_entity(limit: int) -> None:
    line = "<b>ab</b>" + "&amp;x" * 20 + "<i>z</i>"
    parts = split_text("head\n" + line, limit=limit)
    assert "".join(parts).replace("\n", "") == "head" + line
    for part in parts:
        assert len(part) <= limit
        assert part.count("<") == part.count(">")
        assert all(chunk.startswith(("amp;", "x")) for chunk in part.split("&")[1:])


def test_pages_hold_every_item_within_budget_and_count() -> None:
    items = [f"line {i:03d} " + "x" * (i % 50) for i in range(200)]
    ranges = pages_of(items, 300, max_items=7)
    assert [i for r in ranges for i in r] == list(range(200))
    for r in ranges:
        assert 1 <= len(r) <= 7
        assert sum(len(items[i]) + 1 for i in r) <= 300
    # An item longer than the budget still gets a page of its own; no items, one page.
    assert pages_of(["y" * 500, "z"], 100) == [range(0, 1), range(1, 2)]
    assert pages_of([], 100) == [range(0, 0)]


def test_pager_row_and_clamp() -> None:
    def data(page: int) -> PageCB:
        return PageCB(listing=Listing.INBOX, page=page)

    assert pager_row(0, 1, data) == []
    first = pager_row(0, 3, data)
    assert [b.text for b in first] == ["1/3", "▶️"]
    assert first[1].callback_data == "pg:inbox:1"
    assert [b.text for b in pager_row(1, 3, data)] == ["◀️", "2/3", "▶️"]
    assert [b.text for b in pager_row(2, 3, data)] == ["◀️", "3/3"]
    assert (clamp(-4, 3), clamp(9, 3), clamp(5, 0)) == (0, 2, 0)
