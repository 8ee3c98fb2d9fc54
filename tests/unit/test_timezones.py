"""Time zones: what a student may type, and how a moment is shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain.timezones import (
    parse_timezone,
    resolve_timezone,
    utc_offset_label,
    zone_label,
)


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Europe/Moscow", "Europe/Moscow"),
        ("asia/novosibirsk", "Asia/Novosibirsk"),
        ("  Asia/Ho Chi Minh ", "Asia/Ho_Chi_Minh"),
        ("UTC", "UTC"),
        ("gmt+0", "UTC"),
        ("UTC+5", "UTC+05:00"),
        ("+5", "UTC+05:00"),
        ("utc +05:30", "UTC+05:30"),
        ("GMT-3", "UTC-03:00"),
        ("−4", "UTC-04:00"),  # a typographic minus, as phones type it
        ("+0545", "UTC+05:45"),
        ("UTC+14", "UTC+14:00"),
        ("UTC-12", "UTC-12:00"),
    ],
)
def test_parse_accepts_names_and_offsets(typed: str, zone: str) -> None:
    assert parse_timezone(typed) == zone


@pytest.mark.parametrize("typed", ["", "Mars/Olympus", "UTC+15", "UTC-13", "+5:20", "five", "+"])
def test_parse_refuses_the_rest(typed: str) -> None:
    assert parse_timezone(typed) is None


def test_fixed_offset_resolves_without_dst() -> None:
    zone = resolve_timezone("UTC+05:30")
    winter = datetime(2026, 1, 15, 12, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 12, tzinfo=UTC)
    assert winter.astimezone(zone).utcoffset() == timedelta(hours=5, minutes=30)
    assert summer.astimezone(zone).utcoffset() == timedelta(hours=5, minutes=30)
    assert resolve_timezone("UTC-03:00").utcoffset(None) == -timedelta(hours=3)
    assert resolve_timezone("UTC") is UTC


def test_unknown_zone_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        resolve_timezone("Nowhere/Town")


def test_moscow_and_berlin_differ_by_dst_season() -> None:
    moscow, berlin = resolve_timezone("Europe/Moscow"), resolve_timezone("Europe/Berlin")
    assert utc_offset_label(datetime(2026, 1, 10, tzinfo=UTC), berlin) == "UTC+01:00"
    assert utc_offset_label(datetime(2026, 7, 10, tzinfo=UTC), berlin) == "UTC+02:00"
    # Berlin switches to summer time at 01:00 UTC on 2026-03-29.
    assert utc_offset_label(datetime(2026, 3, 29, 0, 59, tzinfo=UTC), berlin) == "UTC+01:00"
    assert utc_offset_label(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), berlin) == "UTC+02:00"
    assert utc_offset_label(datetime(2026, 7, 10, tzinfo=UTC), moscow) == "UTC+03:00"


def test_zone_label_uses_the_city_in_the_locale() -> None:
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    assert zone_label("Asia/Novosibirsk", moment, "ru") == "Новосибирск (UTC+07:00)"
    assert zone_label("Asia/Novosibirsk", moment, "en") == "Novosibirsk (UTC+07:00)"
    assert zone_label("UTC-03:00", moment, "en") == "UTC-03:00"


def test_offset_label_for_negative_half_hours() -> None:
    zone = timezone(-timedelta(hours=3, minutes=30))
    assert utc_offset_label(datetime(2026, 1, 1, tzinfo=UTC), zone) == "UTC-03:30"
