"""The browser tests' faculty: one group of 40 whose names, like the faculty, the group, the
discipline and the teacher, carry & < > " ' (a page that built markup from them would
break or run them), and one exam today; a tiny valid PNG for the photos."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime

from bot.services.imports import import_roster, import_schedule
from tests.e2e.conftest import BotRunner
from tests.e2e.hostile import ROSTER_HEADER, SCHEDULE_HEADER, table

FACULTY = "Лечебный & <факультет> \"Л\" 'О'"
GROUP = '1101 <&> "б"'
DISCIPLINE = "Анатомия & <гистология> \"1\" 'А'"
TEACHER = "Смирнова & <Елена> \"Викторовна\" 'О'"
_BASES = ("Белов", "Чернов", "Зайцев", "Орлов", "Соколов", "Волков", "Лебедев", "Козлов")
_ENDINGS = ("", "ский", "ченко", "ин", "ец")
SURNAMES = tuple(base + ending for ending in _ENDINGS for base in _BASES)  # 40 distinct
NAMES = tuple(f'{s} Артём & <{n:02d}> "О\'Нил"' for n, s in enumerate(SURNAMES, 1))
BOOKS = tuple(f"26{n:05d}" for n in range(1, 41))
# The clock starts at 12:00 Moscow; the exam is at 13:00 today.
EXAM_START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


async def seed(runner: BotRunner) -> None:
    roster = table(
        ROSTER_HEADER,
        [(FACULTY, GROUP, name, book) for name, book in zip(NAMES, BOOKS, strict=True)],
    )
    schedule = table(
        SCHEDULE_HEADER,
        [
            (
                FACULTY,
                GROUP,
                DISCIPLINE,
                "exam",
                "oral",
                "2026-12-01",
                "13:00",
                "90",
                TEACHER,
                "",
                "",
            )
        ],
    )
    async with runner.sessionmaker.begin() as session:
        assert (await import_roster(session, "roster.csv", roster)).ok
        assert (await import_schedule(session, "schedule.csv", schedule, tz=runner.settings.tz)).ok


def png(rgb: tuple[int, int, int], size: int = 48) -> bytes:
    """A `size`×`size` PNG of one colour (what a phone's photo is, to the page)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )
