"""Where a button opens the Mini App: the page as a query parameter, never the fragment
(Telegram passes its launch data there)."""

from __future__ import annotations

from bot.domain.app_links import app_page


def test_the_page_is_a_query_parameter() -> None:
    assert (
        app_page("https://desk.example.org/app/", roll=7) == "https://desk.example.org/app/?roll=7"
    )
    assert (
        app_page("https://desk.example.org", statement=3) == "https://desk.example.org/?statement=3"
    )


def test_the_base_keeps_its_own_parameters_and_loses_a_fragment() -> None:
    assert (
        app_page("https://desk.example.org/app/?v=2#top", roll=7)
        == "https://desk.example.org/app/?v=2&roll=7"
    )
