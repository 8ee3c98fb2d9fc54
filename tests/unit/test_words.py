"""Words people read: counts agree with their nouns (ngettext, both languages), and the
Russian catalog says «студент» throughout, without «(а)» gender brackets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from bot.i18n import Catalogs, ngettext
from bot.views.html import Html
from bot.views.notices import countdown

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = Catalogs()
SENDING = (
    "📤 Announcement №{number}: sending to {total} recipient…",
    "📤 Announcement №{number}: sending to {total} recipients…",
)


@pytest.mark.parametrize(
    ("count", "ru", "en"),
    [
        (1, "отправляется 1 получателю", "sending to 1 recipient…"),
        (2, "отправляется 2 получателям", "sending to 2 recipients…"),
        (5, "отправляется 5 получателям", "sending to 5 recipients…"),
        (11, "отправляется 11 получателям", "sending to 11 recipients…"),
        (21, "отправляется 21 получателю", "sending to 21 recipients…"),
    ],
)
def test_a_count_agrees_in_both_languages(count: int, ru: str, en: str) -> None:
    for locale, expected in (("ru", ru), ("en", en)):
        with CATALOGS.use(locale):
            text = ngettext(*SENDING, count).format(number=7, total=count)
        assert expected in text, (locale, text)


@pytest.mark.parametrize(
    ("count", "ru"),
    [(1, "1 подгруппа"), (3, "3 подгруппы"), (5, "5 подгрупп"), (22, "22 подгруппы")],
)
def test_subgroup_buttons(count: int, ru: str) -> None:
    with CATALOGS.use("ru"):
        assert ngettext("{count} subgroup", "{count} subgroups", count).format(count=count) == ru


def test_minutes_left_agree() -> None:
    forms = (
        "⏳ {title}: {left} minute left (time is up at {ends}).",
        "⏳ {title}: {left} minutes left (time is up at {ends}).",
    )
    with CATALOGS.use("ru"):
        said = {n: ngettext(*forms, n).format(title="T", left=n, ends="11:00") for n in (1, 5)}
    assert said[1] == "⏳ T: осталась 1 минута (время истекает в 11:00)."
    assert said[5] == "⏳ T: осталось 5 минут (время истекает в 11:00)."
    with CATALOGS.use("en"):
        assert "1 minute left" in ngettext(*forms, 1).format(title="T", left=1, ends="11:00")


def _russian() -> list[str]:
    with (ROOT / "locales" / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="ru")
    texts: list[str] = []
    for message in catalog:
        if message.id:
            value = message.string
            texts.extend([value] if isinstance(value, str) else list(value or ()))
    return texts


def test_no_gender_brackets_in_russian() -> None:
    bracketed = [t for t in _russian() if re.search(r"[а-яё]\((а|ла|ась|ен|на)\)", t)]
    assert not bracketed, bracketed


def test_one_word_for_the_student_in_russian() -> None:
    # «студент» throughout; «обучающийся» (the regulation's word) only where the
    # regulation is quoted word for word, which the catalog is not.
    other = [t for t in _russian() if re.search(r"обучающ", t, re.IGNORECASE)]
    assert not other, other


def test_the_join_call_counts_the_minutes_left() -> None:
    start = datetime(2026, 12, 28, 7, 0, tzinfo=UTC)
    moscow, omsk = ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Omsk")
    title = Html("Анатомия — экзамен")

    def said(before: timedelta, locale: str, own: ZoneInfo | None = None) -> str:
        with CATALOGS.use(locale):
            return str(
                countdown(title, start, start - before, uni_tz=moscow, user_tz=own, locale=locale)
            )

    assert said(timedelta(minutes=15), "ru") == (
        "⏰ <b>Подключайтесь</b>: Анатомия — экзамен начнётся в 10:00 МСК, через 15 минут."
    )
    assert "через 1 минуту" in said(timedelta(seconds=30), "ru")  # rounded up
    assert "через 21 минуту" in said(timedelta(minutes=21), "ru")
    assert "через 3 минуты" in said(timedelta(minutes=3), "ru")
    assert "в 10:00 МСК, у вас 13:00 МСК+3, через 15 минут" in said(
        timedelta(minutes=15), "ru", omsk
    )
    assert said(timedelta(minutes=1), "en").endswith("starts at 10:00 Moscow time, in 1 minute.")
    assert "has started (10:00 Moscow time)" in said(timedelta(minutes=-2), "en")
