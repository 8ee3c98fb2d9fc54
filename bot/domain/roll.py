"""The roll call of an exam held by video call, and what the teacher says and files around it.

Pure rules, no I/O, from the regulation's table:
- attendance marks, and a technical outage that turns into "absent with a valid reason"
  when it is not fixed within the wait (15 minutes by the regulation, the caller passes it);
- grades on the 5-point and the pass/fail scales;
- the texts the teacher says aloud at the opening and at the closing of the recording, and
  the name of the recording file;
- tickets by the last digit of the record book, by a list, or at random;
- splitting a group into subgroups with staggered starts;
- the window of a written work and the "time left" reminders.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.exams import ExamForm

# --- attendance ---------------------------------------------------------------------------


class Mark(StrEnum):
    UNMARKED = "unmarked"
    PRESENT = "present"
    ABSENT = "absent"  # absent, no valid reason
    EXCUSED = "excused"  # absent, valid reason (documents / approved statement)
    OUTAGE = "outage"  # technical outage, the clock is running
    FAILURE = "failure"  # outage not fixed within the wait: absent, valid reason (tech failure)


VALID_REASON: frozenset[Mark] = frozenset({Mark.EXCUSED, Mark.FAILURE})


class MarkAction(StrEnum):
    """What a teacher may set on the roll: a mark, or "resolved" (the outage is over: the
    student is present again). UNMARKED and FAILURE are never set by hand."""

    PRESENT = "present"
    ABSENT = "absent"
    EXCUSED = "excused"
    OUTAGE = "outage"
    RESOLVED = "resolved"


def outage_deadline(since: datetime, wait: timedelta) -> datetime:
    """When a running outage stops being "wait" and becomes a failure."""
    return since + wait


def effective_mark(
    mark: Mark, outage_since: datetime | None, now: datetime, *, wait: timedelta
) -> Mark:
    """The mark as it stands at `now`: an outage whose wait has run out is a failure.

    The stored mark stays OUTAGE until somebody writes; computing the failure on read means
    no timer has to fire for the roll to be right. An outage with no start time cannot have
    run out, so it stays as it is.
    """
    if (
        mark is Mark.OUTAGE
        and outage_since is not None
        and outage_deadline(outage_since, wait) <= now
    ):
        return Mark.FAILURE
    return mark


# The stored marks that are, or may turn into, a valid reason: what a query for the
# additional session's list reads before `additional_reason` judges each row.
MAYBE_VALID_REASON: tuple[Mark, ...] = (Mark.EXCUSED, Mark.FAILURE, Mark.OUTAGE)


def additional_reason(
    mark: Mark, outage_since: datetime | None, now: datetime, *, wait: timedelta
) -> Mark | None:
    """Why the student sits this exam in the additional session (the PRODUCT's list: absent
    for a valid reason — an approved statement — or a technical failure whose wait has run
    out), or None. `/additional` and the report of that name both ask this."""
    current = effective_mark(mark, outage_since, now, wait=wait)
    return current if current in VALID_REASON else None


# --- grades -------------------------------------------------------------------------------


class Grade(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    SATISFACTORY = "satisfactory"
    FAIL = "fail"
    PASSED = "passed"
    NOT_PASSED = "not_passed"


# The official wording of the record book and the statement, whatever the user's language.
GRADE_RU: dict[Grade, str] = {
    Grade.EXCELLENT: "отлично",
    Grade.GOOD: "хорошо",
    Grade.SATISFACTORY: "удовлетворительно",
    Grade.FAIL: "неудовлетворительно",
    Grade.PASSED: "зачтено",
    Grade.NOT_PASSED: "не зачтено",
}


def grades_for(pass_fail: bool) -> tuple[Grade, ...]:
    """The grades that may be given, best first (the order of the keyboard)."""
    if pass_fail:
        return (Grade.PASSED, Grade.NOT_PASSED)
    return (Grade.EXCELLENT, Grade.GOOD, Grade.SATISFACTORY, Grade.FAIL)


# --- counts and the texts said aloud ------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    total: int
    present: int
    excused: int  # EXCUSED and FAILURE: both are "не явились по уважительной причине"
    absent: int
    unmarked: int
    outage: int  # outages still within the wait: not yet decided


def count(marks: Iterable[Mark]) -> Counts:
    """Count marks as given: pass effective marks (see `effective_mark`) so that an outage
    past its wait is counted as a valid reason."""
    tally = dict.fromkeys(Mark, 0)
    for mark in marks:
        tally[mark] += 1
    return Counts(
        total=sum(tally.values()),
        present=tally[Mark.PRESENT],
        excused=tally[Mark.EXCUSED] + tally[Mark.FAILURE],
        absent=tally[Mark.ABSENT],
        unmarked=tally[Mark.UNMARKED],
        outage=tally[Mark.OUTAGE],
    )


# "форму проведения – устный опрос", "выполнение письменной работы", "компьютерное
# тестирование": the regulation's words. It names no wording for the combined form.
_FORM_SAID: dict[ExamForm, str] = {
    ExamForm.ORAL: "устный опрос",
    ExamForm.WRITTEN: "выполнение письменной работы",
    ExamForm.TEST: "компьютерное тестирование",
    ExamForm.COMBINED: "комбинированная",
}


def opening_text(
    form: ExamForm, discipline: str, starts_local: datetime, *, subgroup: int | None, present: int
) -> str:
    """What the teacher says at the start of the recording: date, time, discipline, kind of
    assessment, form, whether the whole group or a subgroup is present, and how many."""
    who = "вся группа" if subgroup is None else f"подгруппа {subgroup}"
    return (
        f"Сегодня {starts_local:%d.%m.%Y}, {starts_local:%H:%M}. "
        f"Дисциплина «{discipline}». "
        "Вид промежуточной аттестации: экзамен. "
        f"Форма проведения: {_FORM_SAID[form]}. "
        f"Присутствует {who}, численность обучающихся: {present} чел."
    )


def closing_text(form: ExamForm, counts: Counts) -> str | None:
    """What the teacher says at the end, word for word as in the regulation; None for a
    computer test, whose procedure in the table prescribes no closing text (the conference
    ends after the roll call, before the test itself).

    The regulation's «не явились по уважительной причине (без уважительной причины)» puts
    the count without a valid reason in the brackets: "(Z — без уважительной причины)", as
    the product's spec words it. N is everybody on the list; students still unmarked or in
    a running outage are in N but in none of X, Y, Z, so the caller should settle them first.
    """
    x, y, z, n = counts.present, counts.excused, counts.absent, counts.total
    if form is ExamForm.TEST:
        return None
    if form is ExamForm.WRITTEN:
        return (
            f"На экзамене письменную работу выполнили {x} чел. из {n} чел., "
            f"{y} чел. не явились по уважительной причине ({z} — без уважительной причины)."
        )
    return (
        f"На экзамене устное собеседование прошли {x} чел., {y} чел. не явились по "
        f"уважительной причине ({z} — без уважительной причины). Всего по списку {n} чел."
    )


# --- the recording file name --------------------------------------------------------------

MAX_FILE_NAME = 200
_SEPARATOR = " _ "
_INVALID_IN_NAME = re.compile(r'[<>:"/\\|?*]')
# Windows refuses these as a name, even with an extension ("CON.mp4"); the superscript
# variants are reserved too (Microsoft's "Naming Files, Paths, and Namespaces").
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"{device}{n}" for device in ("com", "lpt") for n in (*"0123456789", "¹", "²", "³")}
)


def _clean_part(text: str) -> str:
    # Invalid characters become spaces rather than vanish, so "Анатомия/Физиология" stays two
    # words; the whitespace is collapsed afterwards.
    text = _INVALID_IN_NAME.sub(" ", text)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(text.split())


def recording_file_name(
    discipline: str,
    starts_local: datetime,
    group: str,
    *,
    teacher: str,
    form: ExamForm = ExamForm.ORAL,
) -> str:
    """«Дисциплина _ дата _ экзамен _ время начала _ группа _ ФИО преподавателя» (the oral
    procedure's format), safe as a Windows file name, without an extension (the recorder
    adds its own). Written work has its own format in the table, with no «экзамен» part:
    «Дисциплина _ дата промежуточной аттестации _ время промежуточной аттестации _ группа _
    ФИО преподавателя».

    The time is "09.00": a colon is not allowed in Windows names. A part left empty by the
    cleaning becomes "-" so that the structure stays readable.
    """
    label = None if form is ExamForm.WRITTEN else "экзамен"
    return _file_name(discipline, starts_local, group, teacher=teacher, label=label)


def sheet_file_name(discipline: str, starts_local: datetime, group: str, *, teacher: str) -> str:
    """The attendance sheet's file name: the recording's, with «ведомость» in the middle."""
    return _file_name(discipline, starts_local, group, teacher=teacher, label="ведомость")


def _file_name(
    discipline: str, starts_local: datetime, group: str, *, teacher: str, label: str | None
) -> str:
    parts = [
        _clean_part(discipline) or "-",
        f"{starts_local:%d.%m.%Y}",
        *([label] if label else []),
        f"{starts_local:%H.%M}",
        _clean_part(group) or "-",
        _clean_part(teacher) or "-",
    ]
    # The last two parts are the group and the teacher, whatever comes before them.
    teacher_at, group_at = len(parts) - 1, len(parts) - 2
    # Shorten the discipline first (the longest and the least needed to find the file), then
    # the teacher, then the group; each keeps at least one character.
    for index in (0, teacher_at, group_at):
        excess = len(_SEPARATOR.join(parts)) - MAX_FILE_NAME
        if excess <= 0:
            break
        keep = max(1, len(parts[index]) - excess)
        parts[index] = parts[index][:keep].rstrip(" .") or parts[index][:1]
    name = _SEPARATOR.join(parts).rstrip(" .")
    # Windows compares the part before the first dot, trailing spaces dropped.
    if name.split(".", 1)[0].rstrip(" ").casefold() in _RESERVED:
        name = "_" + name
        if len(name) > MAX_FILE_NAME:
            # Only a name cut to the limit can get here; one character less is still sane.
            name = name[:MAX_FILE_NAME].rstrip(" .")
    return name


# --- tickets ------------------------------------------------------------------------------


# The most tickets an exam hands out: a bound on what a teacher's list may number.
MAX_TICKETS = 500


class TicketMethod(StrEnum):
    LAST_DIGIT = "last_digit"
    LIST = "list"
    RANDOM = "random"


_LAST_DIGIT = re.compile(r"[0-9](?=[^0-9]*$)")


def _check_tickets(tickets: int) -> None:
    if tickets < 1:
        raise ValueError(f"the number of tickets must be at least 1, not {tickets}")


def tickets_by_last_digit(record_books: Mapping[int, str], tickets: int) -> dict[int, int]:
    """Student id -> ticket by the last digit of the record book, 0 meaning ticket 10.

    With fewer than 10 tickets the digits wrap round: ((d - 1) mod tickets) + 1. The last
    digit is looked for anywhere, so a trailing letter ("12345А") does not stop it.
    """
    _check_tickets(tickets)
    result: dict[int, int] = {}
    for student_id, record_book in record_books.items():
        found = _LAST_DIGIT.search(record_book)
        if found is None:
            raise ValueError(f"record book {record_book!r} has no digit")
        digit = int(found.group()) or 10
        result[student_id] = digit if tickets >= 10 else (digit - 1) % tickets + 1
    return result


def tickets_random(student_ids: Sequence[int], tickets: int, seed: int) -> dict[int, int]:
    """Student id -> ticket at random, reproducible from the seed.

    The ids are sorted, so the same seed gives the same draw whatever order the caller
    read them in. Tickets are dealt in shuffled rounds: every ticket goes once before any is
    given again, so there are no repeats while there are enough tickets.
    """
    _check_tickets(tickets)
    rng = random.Random(seed)
    result: dict[int, int] = {}
    deck: list[int] = []
    for student_id in sorted(set(student_ids)):
        if not deck:
            deck = list(range(1, tickets + 1))
            rng.shuffle(deck)
        result[student_id] = deck.pop()
    return result


def _norm(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").split())


# "<who> <sep> <number>": the number is the last token; the separator is a dash, a colon, a
# semicolon or whitespace. `who` is lazy, so hyphenated names and record books stay whole.
_LIST_LINE = re.compile(r"^(?P<who>.+?)(?:\s*[-—–:;]\s*|\s+)(?P<number>[^\s\-—–:;]+)$")


# "1. " or "12) " before a line: the list was pasted numbered (from a document or a
# spreadsheet); that number is the line's, not the ticket's.
_LIST_NUMBER = re.compile(r"^[0-9]{1,3}[.)]\s+")


def _is_number(token: str) -> bool:
    # isdigit() alone would take "²" or Arabic-Indic digits, which int() may refuse or misread.
    return token.isascii() and token.isdigit()


# "Иванова М.О." / "Иванова М. О." / "Иванова М.": a surname and dotted initials, as
# Russian lists write a name.
_WITH_INITIALS = re.compile(r"^(?P<surname>\S+) (?P<initials>(?:[^\W\d_]\. ?){1,2})$")


def _resolve(who: str, students: Mapping[int, tuple[str, str]]) -> list[int]:
    """The students `who` may mean: by record book, else by full name, else by the first
    words of the name (a surname, or a surname and a first name), else by a surname and
    initials."""
    key = _norm(who)
    for field in (1, 0):
        found = [sid for sid, data in students.items() if _norm(data[field]) == key]
        if found:
            return found
    words = key.split(" ")
    found = [
        sid
        for sid, (name, _book) in students.items()
        if _norm(name).split(" ")[: len(words)] == words
    ]
    initials = _WITH_INITIALS.match(key)
    if found or initials is None:
        return found
    letters = initials.group("initials").replace(".", "").replace(" ", "")
    return [
        sid
        for sid, (name, _book) in students.items()
        if (parts := _norm(name).split(" "))[0] == initials.group("surname")
        and len(parts) > len(letters)
        and all(part.startswith(letter) for part, letter in zip(parts[1:], letters, strict=False))
    ]


def parse_ticket_list(
    text: str, students: Mapping[int, tuple[str, str]], tickets: int | None
) -> tuple[dict[int, int], list[tuple[int, str]]]:
    """Parse "who - ticket" lines; students maps id -> (full name, record book).

    Returns the student -> ticket mapping and the errors as (line number from 1, code), one
    per faulty line: "unknown", "ambiguous" (a surname or name shared by several),
    "bad_number", "out_of_range" (below 1, or above `tickets` when given), "duplicate" (the
    student already had a line; the first one wins). Faulty lines are left out of the
    mapping so that the caller can show both and let the teacher fix the list.
    """
    mapping: dict[int, int] = {}
    errors: list[tuple[int, str]] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = _LIST_NUMBER.sub("", raw.strip())
        if not line:
            continue
        match = _LIST_LINE.match(line)
        if match is None:
            # A single token: a known student with no number is a missing number.
            errors.append((line_no, "bad_number" if _resolve(line, students) else "unknown"))
            continue
        who, number = match.group("who"), match.group("number")
        found = _resolve(who, students)
        if not found and not _is_number(number) and len(_resolve(line, students)) == 1:
            # A whole name with the number forgotten: say that, not "unknown".
            errors.append((line_no, "bad_number"))
            continue
        if not found:
            errors.append((line_no, "unknown"))
            continue
        if len(found) > 1:
            errors.append((line_no, "ambiguous"))
            continue
        if not _is_number(number):
            errors.append((line_no, "bad_number"))
            continue
        ticket = int(number)
        if ticket < 1 or (tickets is not None and ticket > tickets):
            errors.append((line_no, "out_of_range"))
            continue
        student_id = found[0]
        if student_id in mapping:
            errors.append((line_no, "duplicate"))
            continue
        mapping[student_id] = ticket
    return mapping, errors


# --- subgroups ----------------------------------------------------------------------------


def _name_key(student: tuple[int, str]) -> tuple[str, int]:
    # ё sorts after я by code point; the lists in the dean's office put it with е.
    return (_norm(student[1]), student[0])


def split_alphabetical(students: Sequence[tuple[int, str]], parts: int) -> list[list[int]]:
    """Ids of (id, full name) in alphabetical order, cut into `parts` consecutive subgroups
    whose sizes differ by at most one, the bigger ones first."""
    if parts < 1 or parts > len(students):
        raise ValueError(f"cannot split {len(students)} students into {parts} subgroups")
    ordered = [sid for sid, _name in sorted(students, key=_name_key)]
    size, bigger = divmod(len(ordered), parts)
    result: list[list[int]] = []
    at = 0
    for index in range(parts):
        length = size + (1 if index < bigger else 0)
        result.append(ordered[at : at + length])
        at += length
    return result


def subgroup_starts(
    start: datetime, duration: timedelta, parts: int, *, gap: timedelta
) -> list[datetime]:
    """start, start + gap, ...: every subgroup must start within the exam's slot."""
    if parts < 1:
        raise ValueError(f"there must be at least one subgroup, not {parts}")
    if duration <= timedelta(0):
        raise ValueError("the slot must last longer than zero")
    if parts > 1 and gap <= timedelta(0):
        raise ValueError("the gap between subgroups must be positive")
    starts = [start + gap * index for index in range(parts)]
    if starts[-1] >= start + duration:
        raise ValueError("the last subgroup would start after the slot ends")
    return starts


# --- written work -------------------------------------------------------------------------


def written_window(
    started_at: datetime, duration: timedelta, grace: timedelta
) -> tuple[datetime, datetime]:
    """(ends_at, accepted_until): the work ends after `duration`; the answer is still accepted
    for `grace` after that, since photographing and sending pages takes time."""
    if grace < timedelta(0):
        raise ValueError("the grace period cannot be negative")
    ends_at = started_at + duration
    return ends_at, ends_at + grace


def time_left_reminders(
    started_at: datetime, duration: timedelta, minutes_left: Iterable[int]
) -> list[tuple[int, datetime]]:
    """(minutes left, when to say so), the earliest first; a reminder at or before the start
    would be meaningless, so only 0 < m < duration counts."""
    ends_at = started_at + duration
    return [
        (m, ends_at - timedelta(minutes=m))
        for m in sorted(set(minutes_left), reverse=True)
        if m > 0 and timedelta(minutes=m) < duration
    ]
