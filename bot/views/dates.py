"""Moments as people read them: the weekday, the date, the time and the zone's name.

«пн, 28 декабря, 10:00 МСК» / "Mon 28 Dec, 10:00 Moscow time", and, when the reader's own
zone shows another time, that time beside it: «…, 10:00 МСК, у вас 12:00 МСК+2». Every
date a chat message shows goes through `when`; a time alone in a sentence goes through
`clock` (with the zone) or, in a list of times of one day, `hhmm` (without).

Zones are named the way their readers say them: in Russian a zone of Russia by its
difference from Moscow («МСК», «МСК+4», «МСК-1»), in English by its city ("Moscow time",
"Yekaterinburg time"); a zone elsewhere by its city; and one that has no city in the
locale data (a fixed offset typed by a student, "Etc/GMT-5", a name the data does not
know) by its offset ("UTC+05:00"). Dates are in the locale's own words (Babel).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo

from babel.core import Locale, get_global
from babel.dates import format_date, format_datetime, format_time, get_timezone_location

from bot.domain.timezones import offset_name, resolve_timezone
from bot.i18n import gettext as _

MOSCOW = ZoneInfo("Europe/Moscow")

# Babel patterns: «пн, 28 декабря» / "Mon 28 Dec"; with the year for documents.
_DAY = {"ru": "EEE, d MMMM", "en": "EEE d MMM"}
_DAY_YEAR = {"ru": "EEE, d MMMM y", "en": "EEE d MMM y"}


def _language(locale: str) -> str:
    return "ru" if locale.split("_")[0] == "ru" else "en"


# Babel's locales, parsed once: given a name, every format call parses it again (a good
# part of a /schedule's CPU, a few dates on every line).
_BABEL = {language: Locale.parse(language) for language in ("ru", "en")}


@cache
def _city(key: str, language: str) -> str:
    """The zone's city in the language (CLDR data: the same for every call)."""
    return str(get_timezone_location(ZoneInfo(key), locale=_BABEL[language], return_city=True))


@cache
def _territory(key: str) -> str | None:
    territories: Mapping[str, str] = get_global("zone_territories")
    aliases: Mapping[str, str] = get_global("zone_aliases")
    territory = territories.get(key) or territories.get(aliases.get(key, key))
    return None if territory in (None, "ZZ", "001") else territory


def _offset(moment: datetime, zone: tzinfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def offset_label(moment: datetime, zone: tzinfo) -> str:
    """'UTC+05:30' (or 'UTC'): the zone's offset from UTC at this moment."""
    return offset_name(int(_offset(moment, zone).total_seconds() // 60))


def zone_name(moment: datetime, zone: tzinfo, locale: str) -> str:
    """The zone as its readers name it at this moment: 'МСК+2', 'Moscow time', 'UTC+05:00'."""
    key = zone.key if isinstance(zone, ZoneInfo) else None
    territory = _territory(key) if key else None
    if key is None or territory is None:
        return offset_label(moment, zone)
    language = _language(locale)
    if language == "ru" and territory == "RU":
        hours, rest = divmod(
            int((_offset(moment, zone) - _offset(moment, MOSCOW)).total_seconds()), 3600
        )
        if rest:
            return offset_label(moment, zone)
        return "МСК" if hours == 0 else f"МСК{hours:+d}"
    try:
        city = _city(key, language)
    except (LookupError, ValueError):  # pragma: no cover - CLDR knows every territory's zones
        return offset_label(moment, zone)
    if language == "ru":
        return f"({city})"
    return f"{city} time"


def zone_of(name: str | None) -> tzinfo | None:
    """A user's own zone from its stored name; None when unset or no longer known."""
    if not name:
        return None
    try:
        return resolve_timezone(name)
    except ValueError:
        return None


def _same_clock(moment: datetime, first: tzinfo, second: tzinfo) -> bool:
    return _offset(moment, first) == _offset(moment, second)


def day(moment: datetime, zone: tzinfo, locale: str, *, year: bool = False) -> str:
    """«пн, 28 декабря» / "Mon 28 Dec" in the zone (with the year for documents)."""
    patterns = _DAY_YEAR if year else _DAY
    language = _language(locale)
    return format_datetime(moment.astimezone(zone), patterns[language], locale=_BABEL[language])


def date_of(value: date, locale: str) -> str:
    """A day without a time (a plan's deadline): «пн, 28 декабря 2026» / "Mon 28 Dec 2026"."""
    language = _language(locale)
    return format_date(value, _DAY_YEAR[language], locale=_BABEL[language])


def hhmm(moment: datetime, zone: tzinfo, locale: str) -> str:
    """'10:00' in the zone: for a list of times whose zone is said once."""
    return format_time(moment.astimezone(zone), "HH:mm", locale=_BABEL[_language(locale)])


def clock(moment: datetime, zone: tzinfo, locale: str) -> str:
    """«10:00 МСК» / "10:00 Moscow time": a time in a sentence about today."""
    return f"{hhmm(moment, zone, locale)} {zone_name(moment, zone, locale)}"


def when(
    moment: datetime,
    zone: tzinfo,
    locale: str,
    *,
    own: tzinfo | None = None,
    year: bool = False,
    with_day: bool = True,
) -> str:
    """«пн, 28 декабря, 10:00 МСК», and the reader's own time beside it when `own` shows
    another: «…, у вас 12:00 МСК+2», with its date too when that is another day."""
    text = clock(moment, zone, locale)
    if with_day:
        text = f"{day(moment, zone, locale, year=year)}, {text}"
    if own is None or _same_clock(moment, zone, own):
        return text
    if moment.astimezone(own).date() == moment.astimezone(zone).date():
        theirs = clock(moment, own, locale)
    else:
        theirs = f"{day(moment, own, locale, year=year)}, {clock(moment, own, locale)}"
    return _("{when} (for you {own})").format(when=text, own=theirs)
