"""Time zones: reading what a student types, and showing a moment in a zone and locale."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import format_time, get_timezone_location

from bot.domain.imports import local_to_utc, parse_date, parse_time

# Offered as buttons; the Russian Federation's zones west to east, then the neighbours
# whose students most often sit exams at Russian universities remotely.
COMMON_ZONES: tuple[str, ...] = (
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Europe/Minsk",
    "Asia/Almaty",
    "Asia/Tashkent",
    "Asia/Bishkek",
)

_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-−])\s*(\d{1,2})(?:[:.]?(\d{2}))?$")


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def parse_timezone(text: str) -> str | None:
    """Canonical zone name for an IANA name or a UTC offset ("UTC+5", "+05:30", "GMT-3").

    Offsets become "UTC+05:30"-style names (fixed offsets, no DST); None if unreadable.
    """
    raw = text.strip()
    folded = raw.casefold().replace(" ", "")
    if folded in {"utc", "gmt", "z", "utc0", "utc+0", "gmt+0"}:
        return "UTC"
    name = _zones_by_folded_name().get(raw.casefold().replace(" ", "_"))
    if name is not None:
        return name
    match = _OFFSET.match(folded)
    if match is None:
        return None
    sign = -1 if match.group(1) in "-−" else 1
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if minutes not in (0, 15, 30, 45):
        return None
    total = sign * (hours * 60 + minutes)
    if not -12 * 60 <= total <= 14 * 60:
        return None
    return offset_name(total)


def offset_name(total_minutes: int) -> str:
    if total_minutes == 0:
        return "UTC"
    sign = "+" if total_minutes > 0 else "-"
    hours, minutes = divmod(abs(total_minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def resolve_timezone(name: str) -> tzinfo:
    """tzinfo for a name produced by parse_timezone (or a setting)."""
    if name == "UTC":
        return UTC
    if name.startswith("UTC") and len(name) == 9:
        sign = -1 if name[3] == "-" else 1
        delta = timedelta(hours=int(name[4:6]), minutes=int(name[7:9]))
        return timezone(sign * delta, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def format_clock(moment: datetime, zone: tzinfo, locale: str) -> str:
    return format_time(moment.astimezone(zone), "HH:mm", locale=locale)


def utc_offset_label(moment: datetime, zone: tzinfo) -> str:
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    return offset_name(int(offset.total_seconds() // 60))


def zone_label(name: str, moment: datetime, locale: str) -> str:
    """'Новосибирск (UTC+07:00)': the zone's city in the locale, and its offset then."""
    zone = resolve_timezone(name)
    if not isinstance(zone, ZoneInfo):
        return name
    city = get_timezone_location(zone, locale=locale, return_city=True)
    return f"{city} ({utc_offset_label(moment, zone)})"


def parse_moment(text: str, zone: tzinfo) -> datetime | None:
    """'24.12.2026 14:00' or '2026-12-24 14:00' in `zone`, as an aware UTC datetime."""
    parts = text.split()
    if len(parts) != 2:
        return None
    day, at = parse_date(parts[0]), parse_time(parts[1])
    if day is None or at is None or not isinstance(zone, ZoneInfo):
        return None
    return local_to_utc(day, at, zone)
