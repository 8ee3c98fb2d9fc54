"""The one date formatter (bot/views/dates.py): weekday, date, time and the zone's name,
and the reader's own time beside it, at the edges (midnight, zones without DST, zones the
locale data does not name)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from bot.domain.timezones import resolve_timezone
from bot.i18n import Catalogs
from bot.views import dates

MOSCOW = ZoneInfo("Europe/Moscow")
CATALOGS = Catalogs()


def when(moment: datetime, locale: str, own: tzinfo | None = None) -> str:
    with CATALOGS.use(locale):
        return dates.when(moment, MOSCOW, locale, own=own)


def test_the_issue_examples() -> None:
    moment = datetime(2026, 12, 28, 7, 0, tzinfo=UTC)
    assert when(moment, "ru") == "пн, 28 декабря, 10:00 МСК"
    assert when(moment, "en") == "Mon 28 Dec, 10:00 Moscow time"


def test_midnight_belongs_to_the_next_day_in_each_zone() -> None:
    # 20:59 UTC is 23:59 in Moscow; a minute later it is Friday there, 1 January.
    assert when(datetime(2026, 12, 31, 20, 59, tzinfo=UTC), "ru") == "чт, 31 декабря, 23:59 МСК"
    assert when(datetime(2026, 12, 31, 21, 0, tzinfo=UTC), "ru") == "пт, 1 января, 00:00 МСК"
    # The reader in Vladivostok (МСК+7) is already in the next day: their date is shown.
    vladivostok = ZoneInfo("Asia/Vladivostok")
    assert when(datetime(2026, 12, 31, 18, 0, tzinfo=UTC), "ru", vladivostok) == (
        "чт, 31 декабря, 21:00 МСК, у вас пт, 1 января, 04:00 МСК+7"
    )
    assert when(datetime(2026, 12, 31, 18, 0, tzinfo=UTC), "en", vladivostok) == (
        "Thu 31 Dec, 21:00 Moscow time (for you Fri 1 Jan, 04:00 Vladivostok time)"
    )


def test_own_zone_only_when_its_clock_differs() -> None:
    moment = datetime(2026, 12, 28, 7, 0, tzinfo=UTC)
    # Minsk shows Moscow's clock: one time is enough, whatever the zone is called.
    assert when(moment, "ru", ZoneInfo("Europe/Minsk")) == "пн, 28 декабря, 10:00 МСК"
    assert when(moment, "ru", resolve_timezone("UTC+03:00")) == "пн, 28 декабря, 10:00 МСК"
    assert when(moment, "ru", ZoneInfo("Asia/Yekaterinburg")) == (
        "пн, 28 декабря, 10:00 МСК, у вас 12:00 МСК+2"
    )
    assert when(moment, "ru", ZoneInfo("Europe/Kaliningrad")) == (
        "пн, 28 декабря, 10:00 МСК, у вас 09:00 МСК-1"
    )
    assert when(moment, "ru", ZoneInfo("Asia/Almaty")) == (
        "пн, 28 декабря, 10:00 МСК, у вас 12:00 (Алматы)"
    )
    assert when(moment, "en", ZoneInfo("Asia/Almaty")) == (
        "Mon 28 Dec, 10:00 Moscow time (for you 12:00 Almaty time)"
    )


@pytest.mark.parametrize(
    ("zone", "ru", "en"),
    [
        # Fixed offsets typed by a student, and zones with no city in the locale data.
        (resolve_timezone("UTC+05:30"), "UTC+05:30", "UTC+05:30"),
        (timezone(-timedelta(hours=3, minutes=30)), "UTC-03:30", "UTC-03:30"),
        (ZoneInfo("Etc/GMT-5"), "UTC+05:00", "UTC+05:00"),
        (UTC, "UTC", "UTC"),
        (ZoneInfo("UTC"), "UTC", "UTC"),
        # An old alias is named by its current zone's city.
        (ZoneInfo("Asia/Calcutta"), "(Kolkata)", "Kolkata time"),
    ],
)
def test_zones_without_a_name_fall_back_to_their_offset(
    zone: timezone | ZoneInfo, ru: str, en: str
) -> None:
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert dates.zone_name(moment, zone, "ru") == ru
    assert dates.zone_name(moment, zone, "en") == en


def test_dst_less_zones_and_a_dst_zone_across_the_switch() -> None:
    # Moscow has no DST: МСК all year; Berlin moves from МСК-2 to МСК-1 at 01:00 UTC on
    # 29 March 2026, and is named by its city, not by Moscow.
    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    after = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert dates.zone_name(before, MOSCOW, "ru") == dates.zone_name(after, MOSCOW, "ru") == "МСК"
    assert dates.clock(before, berlin, "en") == "01:59 Berlin time"
    assert dates.clock(after, berlin, "en") == "03:00 Berlin time"
    samara = ZoneInfo("Europe/Samara")
    assert dates.clock(after, samara, "ru") == "05:00 МСК+1"


def test_year_for_documents_and_dates_without_a_time() -> None:
    moment = datetime(2026, 12, 28, 7, 0, tzinfo=UTC)
    assert dates.when(moment, MOSCOW, "ru", year=True) == "пн, 28 декабря 2026, 10:00 МСК"
    assert dates.when(moment, MOSCOW, "en", year=True) == "Mon 28 Dec 2026, 10:00 Moscow time"
    assert dates.date_of(date(2027, 1, 11), "ru") == "пн, 11 января 2027"
    assert dates.date_of(date(2027, 1, 11), "en") == "Mon 11 Jan 2027"
    # Any other locale is shown in English (the bot speaks ru and en).
    assert dates.day(moment, MOSCOW, "de") == "Mon 28 Dec"


def test_zone_of_a_stored_name() -> None:
    assert dates.zone_of(None) is None
    assert dates.zone_of("") is None
    assert dates.zone_of("Nowhere/Town") is None
    assert dates.zone_of("UTC+05:00") == resolve_timezone("UTC+05:00")
    assert dates.zone_of("Asia/Omsk") == ZoneInfo("Asia/Omsk")
