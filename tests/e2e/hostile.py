"""Hostile data for the e2e walks: every text field carries & < > " ' and is as long as the
importers allow, and the checks that Telegram would refuse nothing and show it intact."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from bot.domain.imports import MAX_GROUP_LEN, MAX_NAME_LEN, MAX_PLACE_TIME_LEN, MAX_RECORD_BOOK_LEN
from bot.domain.links import MAX_LINK_LENGTH
from tests.e2e.fakeapi import Call, FakeBotAPI

MARKUP = "& <мл.> \"к\" 'а'"
# Telegram's HTML: '&' only as an entity, '<' only as one of these tags (its own docs).
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_TAG = re.compile(
    r"</?(?:b|strong|i|em|u|ins|s|strike|del|span|tg-spoiler|a|code|pre|blockquote|tg-emoji)"
    r"(?:\s[^<>]*)?>"
)


def hostile(base: str, length: int) -> str:
    """``base``, the markup characters, then padding (no spaces, which imports collapse) up
    to exactly ``length`` characters."""
    value = f"{base} {MARKUP} "
    return (value + "ж&<>\"'" * length)[:length]


def record_book(n: int) -> str:
    # Upper case and no spaces: what the importer normalises a record book to.
    return (f"{n}&<>\"'" + "9" * MAX_RECORD_BOOK_LEN)[:MAX_RECORD_BOOK_LEN]


FACULTY = hostile("Факультет", MAX_NAME_LEN)
GROUP = hostile("Гр", MAX_GROUP_LEN)
SURNAMES = ("Белов", "Чернов", "Зайцев")
NAMES = tuple(hostile(f"{s} Артём", MAX_NAME_LEN) for s in SURNAMES)
BOOKS = tuple(record_book(n) for n in (1, 2, 3))
DISCIPLINE = hostile("Акушерство", MAX_NAME_LEN)
TEACHER = hostile("Смирнова Елена", MAX_NAME_LEN)
DEPARTMENT = hostile("Кафедра", MAX_NAME_LEN)
PLACE = hostile("Ауд.", MAX_PLACE_TIME_LEN)
PLAN_DISCIPLINE = hostile("Гистология", MAX_NAME_LEN)
LINK = ("https://conf.example.org/j?a=1&b=<2>&c=\"3\"&d='4'&e=" + "x&" * MAX_LINK_LENGTH)[
    :MAX_LINK_LENGTH
]
MOODLE = ("https://moodle.example.org/c?id=1&x=<y>&q=\"'" + "m&" * MAX_LINK_LENGTH)[
    :MAX_LINK_LENGTH
]


# The import files' headers as the importers read them.
ROSTER_HEADER = ("faculty", "group", "full_name", "record_book")
SCHEDULE_HEADER = (
    "faculty",
    "group",
    "discipline",
    "kind",
    "form",
    "date",
    "start",
    "duration_min",
    "teacher",
    "link",
    "moodle_url",
)
PLAN_HEADER = (
    "record_book",
    "discipline",
    "department",
    "ects",
    "lecture_hours",
    "lab_hours",
    "practice_hours",
    "distance_hours",
    "place_time",
    "deadline",
    "teacher",
)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def roster_csv() -> bytes:
    return table(
        ROSTER_HEADER,
        [(FACULTY, GROUP, name, book) for name, book in zip(NAMES, BOOKS, strict=True)],
    )


def schedule_csv(day: str, start: str) -> bytes:
    return table(
        SCHEDULE_HEADER,
        [(FACULTY, GROUP, DISCIPLINE, "exam", "oral", day, start, "90", TEACHER, LINK, MOODLE)],
    )


def plan_csv(deadline: str) -> bytes:
    return table(
        PLAN_HEADER,
        [
            (book, PLAN_DISCIPLINE, DEPARTMENT, "3", "10", "0", "10", "5", PLACE, deadline, TEACHER)
            for book in BOOKS
        ],
    )


def html_problems(text: str) -> list[str]:
    """What Telegram's strict parser would refuse: a bare '&' or a '<' that is no tag."""
    problems = []
    for match in re.finditer("&", text):
        if not _ENTITY.match(text, match.start()):
            problems.append(
                f"bare & at {match.start()}: {text[match.start() : match.start() + 20]!r}"
            )
    for match in re.finditer("<", text):
        if not _TAG.match(text, match.start()):
            problems.append(
                f"bare < at {match.start()}: {text[match.start() : match.start() + 20]!r}"
            )
    return problems


def _sent_texts(call: Call) -> list[str]:
    texts = [str(call.params[key]) for key in ("text", "caption") if call.params.get(key)]
    media = call.params.get("media")
    if isinstance(media, list):
        texts += [str(m["caption"]) for m in media if isinstance(m, dict) and m.get("caption")]
    return texts


def refusals(api: FakeBotAPI) -> list[str]:
    """Every call Telegram refused or would refuse: failed calls other than flood control,
    and HTML a strict parser rejects."""
    found = []
    for call in api.calls:
        # Flood control (429) refuses no content: the request waits and goes again.
        if not call.ok and (call.error or {}).get("error_code") != 429:
            found.append(f"{call.method}: {call.error} {str(call.params)[:200]}")
        elif str(call.params.get("parse_mode")).upper() == "HTML":
            found += [f"{call.method}: {p}" for t in _sent_texts(call) for p in html_problems(t)]
    return found


def shown(api: FakeBotAPI) -> list[str]:
    """What users saw: the rendered text or caption of every message and edit, and every
    button's label."""
    seen = []
    for call in api.calls:
        results = call.result if isinstance(call.result, list) else [call.result]
        for result in results:
            if not call.ok or not isinstance(result, dict):
                continue
            seen += [str(result[k]) for k in ("text", "caption") if result.get(k)]
            markup = result.get("reply_markup") or {}
            seen += [b.get("text", "") for row in markup.get("inline_keyboard", []) for b in row]
    return seen


def double_escaped(texts: Iterable[str]) -> list[str]:
    """Entities a user would see: the hostile values hold none, so any is a second escape."""
    return [t[:120] for t in texts if re.search(r"&(?:lt|gt|amp|quot|#x?[0-9a-f]+);", t)]
