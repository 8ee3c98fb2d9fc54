"""Language choice, link validation and the login-attempt window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.attempts import attempt_budget
from bot.domain.language import locale_for
from bot.domain.links import normalize_link


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("ru", "ru"),
        ("uk", "ru"),
        ("be", "ru"),
        ("kk", "ru"),
        ("ky", "ru"),
        ("tt", "ru"),
        ("ru-RU", "ru"),
        ("en", "en"),
        ("en-US", "en"),
        ("de", "ru"),
        ("", "ru"),
        (None, "ru"),
    ],
)
def test_first_language_from_telegram(code: str | None, locale: str) -> None:
    assert locale_for(code) == locale


@pytest.mark.parametrize(
    ("code", "locale"),
    [("de", "en"), ("fr-FR", "en"), ("", "en"), (None, "en"), ("ru", "ru"), ("kk", "ru")],
)
def test_other_languages_get_the_default_locale(code: str | None, locale: str) -> None:
    # DEFAULT_LOCALE=en: a German client is spoken to in it, a Russian one still in Russian.
    assert locale_for(code, "en") == locale


@pytest.mark.parametrize(
    "link",
    [
        "https://my.mts-link.ru/j/123/456",
        "http://moodle.kazangmu.ru/course/view.php?id=7",
        "HTTPS://Example.org",
        "http://localhost:8080/room",
    ],
)
def test_links_accepted(link: str) -> None:
    assert normalize_link(f"  {link} ") == link


@pytest.mark.parametrize(
    "text",
    [
        "",
        "my.mts-link.ru/j/123",
        "ftp://example.org/file",
        "javascript:alert(1)",
        "https://",
        "https://exa mple.org",
        "https://intranet/room",
        "https://example.org:99999/",
        "https://" + "a" * 2050 + ".org",
    ],
)
def test_links_refused(text: str) -> None:
    assert normalize_link(text) is None


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_budget_counts_only_the_last_hour() -> None:
    failures = [NOW - timedelta(minutes=m) for m in (1, 10, 59)] + [NOW - timedelta(minutes=61)]
    budget = attempt_budget(failures, NOW, limit=5, window=HOUR)
    assert budget.left == 2
    assert budget.retry_at is None


def test_budget_exhausted_frees_up_when_the_oldest_leaves_the_window() -> None:
    failures = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    budget = attempt_budget(failures, NOW, limit=5, window=HOUR)
    assert budget.left == 0
    assert budget.retry_at == NOW + timedelta(minutes=10)
    # Exactly an hour after the oldest failure it no longer counts.
    later = attempt_budget(failures, NOW + timedelta(minutes=10), limit=5, window=HOUR)
    assert later.left == 1
