"""Roll-call rules: marks and outages, counts, the texts said aloud, the recording file name,
tickets, subgroups, the written-work window."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.exams import ExamForm
from bot.domain.roll import (
    GRADE_RU,
    VALID_REASON,
    Counts,
    Grade,
    Mark,
    TicketMethod,
    closing_text,
    count,
    effective_mark,
    grades_for,
    opening_text,
    outage_deadline,
    parse_ticket_list,
    recording_file_name,
    sheet_file_name,
    split_alphabetical,
    subgroup_starts,
    tickets_by_last_digit,
    tickets_random,
    time_left_reminders,
    written_window,
)

SINCE = datetime(2026, 12, 1, 6, 10, tzinfo=UTC)
WAIT = timedelta(minutes=15)
LOCAL_START = datetime(2026, 12, 1, 9, 0)
WINDOWS_INVALID = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


# --- marks --------------------------------------------------------------------------------


def test_outage_becomes_failure_exactly_at_the_end_of_the_wait() -> None:
    deadline = outage_deadline(SINCE, WAIT)
    assert deadline == SINCE + WAIT
    assert effective_mark(Mark.OUTAGE, SINCE, deadline, wait=WAIT) is Mark.FAILURE
    assert (
        effective_mark(Mark.OUTAGE, SINCE, deadline + timedelta(hours=1), wait=WAIT) is Mark.FAILURE
    )
    before = deadline - timedelta(microseconds=1)
    assert effective_mark(Mark.OUTAGE, SINCE, before, wait=WAIT) is Mark.OUTAGE


def test_outage_without_a_start_and_other_marks_are_unchanged() -> None:
    late = SINCE + timedelta(days=1)
    assert effective_mark(Mark.OUTAGE, None, late, wait=WAIT) is Mark.OUTAGE
    for mark in Mark:
        if mark is not Mark.OUTAGE:
            assert effective_mark(mark, SINCE, late, wait=WAIT) is mark


def test_valid_reasons() -> None:
    assert frozenset({Mark.EXCUSED, Mark.FAILURE}) == VALID_REASON


def test_grades_and_their_official_wording() -> None:
    assert grades_for(False) == (Grade.EXCELLENT, Grade.GOOD, Grade.SATISFACTORY, Grade.FAIL)
    assert grades_for(True) == (Grade.PASSED, Grade.NOT_PASSED)
    assert [GRADE_RU[g] for g in (*grades_for(False), *grades_for(True))] == [
        "отлично",
        "хорошо",
        "удовлетворительно",
        "неудовлетворительно",
        "зачтено",
        "не зачтено",
    ]


# --- counts and texts ---------------------------------------------------------------------


def test_count_puts_failures_with_excused_and_running_outages_apart() -> None:
    marks = [
        Mark.PRESENT,
        Mark.PRESENT,
        Mark.PRESENT,
        Mark.EXCUSED,
        Mark.FAILURE,
        Mark.ABSENT,
        Mark.UNMARKED,
        Mark.OUTAGE,
        Mark.OUTAGE,
    ]
    assert count(iter(marks)) == Counts(
        total=9, present=3, excused=2, absent=1, unmarked=1, outage=2
    )
    assert count([]) == Counts(total=0, present=0, excused=0, absent=0, unmarked=0, outage=0)


COUNTS = Counts(total=25, present=21, excused=3, absent=1, unmarked=0, outage=0)
ORAL_CLOSING = (
    "На экзамене устное собеседование прошли 21 чел., 3 чел. не явились по уважительной "
    "причине (1 — без уважительной причины). Всего по списку 25 чел."
)


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (ExamForm.ORAL, ORAL_CLOSING),
        (ExamForm.COMBINED, ORAL_CLOSING),
        (
            ExamForm.WRITTEN,
            "На экзамене письменную работу выполнили 21 чел. из 25 чел., 3 чел. не явились по "
            "уважительной причине (1 — без уважительной причины).",
        ),
        # The table's computer-test procedure ends with the roll call: no closing text.
        (ExamForm.TEST, None),
    ],
)
def test_closing_text_word_for_word(form: ExamForm, expected: str | None) -> None:
    assert closing_text(form, COUNTS) == expected


def test_opening_text_for_a_subgroup() -> None:
    text = opening_text(ExamForm.ORAL, "Гистология", LOCAL_START, subgroup=2, present=23)
    for part in ("01.12.2026", "09:00", "«Гистология»", "экзамен", "устный опрос"):
        assert part in text
    assert "подгруппа 2" in text
    assert "вся группа" not in text
    assert re.search(r"\b23 чел\.", text)


@pytest.mark.parametrize(
    ("form", "wording"),
    [
        (ExamForm.WRITTEN, "выполнение письменной работы"),
        (ExamForm.TEST, "компьютерное тестирование"),
        (ExamForm.ORAL, "устный опрос"),
        (ExamForm.COMBINED, "комбинированная"),
    ],
)
def test_opening_text_for_the_whole_group(form: ExamForm, wording: str) -> None:
    text = opening_text(form, "Анатомия", datetime(2026, 1, 9, 14, 5), subgroup=None, present=7)
    assert "09.01.2026" in text
    assert "14:05" in text
    assert wording in text
    assert "вся группа" in text
    assert "подгруппа" not in text
    assert "7 чел." in text


# --- recording file name ------------------------------------------------------------------


def _assert_windows_safe(name: str) -> None:
    assert not WINDOWS_INVALID.search(name)
    assert name == name.strip()
    assert not name.endswith(".")
    assert len(name) <= 200


def test_file_name_in_the_regulation_format() -> None:
    name = recording_file_name("Гистология", LOCAL_START, "101", teacher="Иванов Иван Иванович")
    assert name == "Гистология _ 01.12.2026 _ экзамен _ 09.00 _ 101 _ Иванов Иван Иванович"


def test_written_work_file_name_has_no_exam_part() -> None:
    # The table's written-work format: «Дисциплина _ дата промежуточной аттестации _ время
    # промежуточной аттестации _ группа _ ФИО преподавателя».
    name = recording_file_name(
        "Гистология", LOCAL_START, "101", teacher="Иванов Иван Иванович", form=ExamForm.WRITTEN
    )
    assert name == "Гистология _ 01.12.2026 _ 09.00 _ 101 _ Иванов Иван Иванович"
    for form in (ExamForm.ORAL, ExamForm.TEST, ExamForm.COMBINED):
        assert " _ экзамен _ " in recording_file_name("Х", LOCAL_START, "1", teacher="А", form=form)


def test_long_written_work_name_cuts_teacher_and_group_not_the_time() -> None:
    name = recording_file_name(
        "Химия", LOCAL_START, "Г" * 150, teacher="Ф" * 150, form=ExamForm.WRITTEN
    )
    _assert_windows_safe(name)
    assert len(name) == 200
    parts = name.split(" _ ")
    assert parts[:3] == ["Х", "01.12.2026", "09.00"]
    assert parts[3].startswith("Г")
    assert parts[4].startswith("Ф")


def test_sheet_file_name_says_vedomost_for_every_form() -> None:
    name = sheet_file_name("Гистология", LOCAL_START, "101", teacher="Иванов И.И.")
    assert name == "Гистология _ 01.12.2026 _ ведомость _ 09.00 _ 101 _ Иванов И.И"


def test_file_name_drops_invalid_characters_and_collapses_spaces() -> None:
    name = recording_file_name(
        'Право: "теория"/практика\tи <история>?', LOCAL_START, " 101|a ", teacher="Петров  П.П."
    )
    assert name == (
        "Право теория практика и история _ 01.12.2026 _ экзамен _ 09.00 _ 101 a _ Петров П.П"
    )
    _assert_windows_safe(name)


def test_file_name_with_nothing_left_of_a_part_keeps_the_structure() -> None:
    name = recording_file_name("???", LOCAL_START, "101", teacher="Иванов И.И.")
    assert name == "- _ 01.12.2026 _ экзамен _ 09.00 _ 101 _ Иванов И.И"


@pytest.mark.parametrize("discipline", ["aux.", "Con.Law", "LPT1 .x", "com³.x"])
def test_file_name_that_windows_would_take_for_a_device_is_prefixed(discipline: str) -> None:
    # Windows reads the part before the first dot, trailing spaces dropped, as the name.
    name = recording_file_name(discipline, LOCAL_START, "101", teacher="Иванов")
    assert name.startswith("_" + discipline.split(".")[0])
    _assert_windows_safe(name)


def test_file_name_of_an_ordinary_discipline_is_not_prefixed() -> None:
    # "CON _ 01" is not "CON": the name before the first dot is the whole "CON _ 01".
    assert recording_file_name("Consulting", LOCAL_START, "1", teacher="A").startswith(
        "Consulting _"
    )
    assert recording_file_name("CON", LOCAL_START, "1", teacher="A").startswith("CON _")


def test_long_discipline_is_cut_first_and_the_structure_stays() -> None:
    discipline = "Гистология, эмбриология, цитология " * 9  # well over 300 characters
    assert len(discipline) > 300
    name = recording_file_name(discipline, LOCAL_START, "101", teacher="Иванов Иван Иванович")
    _assert_windows_safe(name)
    assert name.endswith(" _ 01.12.2026 _ экзамен _ 09.00 _ 101 _ Иванов Иван Иванович")
    assert name.startswith("Гистология, эмбриология")
    assert len(name) >= 190  # cut to the limit, not far below


def test_long_teacher_and_group_are_cut_when_the_discipline_is_not_enough() -> None:
    name = recording_file_name("Химия", LOCAL_START, "Г" * 150, teacher="Ф" * 150)
    _assert_windows_safe(name)
    assert len(name) == 200
    parts = name.split(" _ ")
    assert parts[0] == "Х"
    assert parts[1:4] == ["01.12.2026", "экзамен", "09.00"]


# --- tickets ------------------------------------------------------------------------------


def test_ticket_methods() -> None:
    assert [m.value for m in TicketMethod] == ["last_digit", "list", "random"]


def test_tickets_by_last_digit_with_ten_tickets_or_more() -> None:
    books = {1: "12341", 2: "0010", 3: "2024-7", 4: "55555А", 5: "19"}
    assert tickets_by_last_digit(books, 10) == {1: 1, 2: 10, 3: 7, 4: 5, 5: 9}
    assert tickets_by_last_digit(books, 30) == {1: 1, 2: 10, 3: 7, 4: 5, 5: 9}


def test_tickets_by_last_digit_wrap_round_with_fewer_tickets() -> None:
    books = {d: f"12{d}" for d in range(10)}
    # d: 1 2 3 4 5 6 7 8 9 0(=10) -> ((d - 1) mod 3) + 1
    assert tickets_by_last_digit(books, 3) == {
        1: 1,
        2: 2,
        3: 3,
        4: 1,
        5: 2,
        6: 3,
        7: 1,
        8: 2,
        9: 3,
        0: 1,
    }
    assert set(tickets_by_last_digit(books, 1).values()) == {1}


def test_tickets_by_last_digit_needs_a_digit_and_tickets() -> None:
    with pytest.raises(ValueError, match="б/н"):
        tickets_by_last_digit({1: "123", 2: "б/н"}, 10)
    with pytest.raises(ValueError):
        tickets_by_last_digit({1: "123"}, 0)


def test_random_tickets_are_reproducible_whatever_the_order() -> None:
    ids = [31, 7, 12, 99, 4, 58]
    first = tickets_random(ids, 20, seed=42)
    assert first == tickets_random(list(reversed(ids)), 20, seed=42)
    assert first == tickets_random(sorted(ids), 20, seed=42)
    assert set(first) == set(ids)
    assert len(set(first.values())) == len(ids)  # no repeats while tickets suffice
    assert all(1 <= t <= 20 for t in first.values())
    # Another seed gives another draw (for these values; a coincidence is astronomically rare).
    assert first != tickets_random(ids, 20, seed=43)


def test_random_tickets_exactly_as_many_as_students_use_each_once() -> None:
    assert sorted(tickets_random(range(100, 110), 10, seed=1).values()) == list(range(1, 11))


def test_random_tickets_in_rounds_when_students_outnumber_tickets() -> None:
    ids = list(range(1, 24))  # 23 students, 10 tickets: two full rounds and 3 more
    result = tickets_random(ids, 10, seed=7)
    ordered = [result[i] for i in sorted(ids)]
    assert sorted(ordered[:10]) == list(range(1, 11))
    assert sorted(ordered[10:20]) == list(range(1, 11))
    assert len(set(ordered[20:])) == 3
    counts = {t: ordered.count(t) for t in range(1, 11)}
    assert set(counts.values()) == {2, 3}


def test_random_tickets_need_tickets() -> None:
    with pytest.raises(ValueError):
        tickets_random([1], 0, seed=1)


STUDENTS = {
    1: ("Иванов Иван Иванович", "0012"),
    2: ("Петров Пётр Петрович", "0013"),
    3: ("Сидорова Анна Сергеевна", "12-345"),
    4: ("Смирнов Алексей Павлович", "0020"),
    5: ("Смирнов Борис Олегович", "0021"),
    6: ("Ёлкина Мария Ивановна", "0030"),
    7: ("Петров-Водкин Кузьма Сергеевич", "0040"),
}


def test_ticket_list_by_record_book_name_and_surname() -> None:
    text = "\n".join(
        [
            "0012 - 5",  # record book, hyphen
            "петров петр петрович: 2",  # full name, case and ё ignored
            "",  # empty lines are skipped but still counted
            "12-345 — 7",  # record book with a hyphen, em dash
            "Смирнов Алексей – 1",  # surname and first name, en dash
            "елкина; 3",  # unique surname, ё = е
            "Петров-Водкин 4",  # hyphenated surname, whitespace
        ]
    )
    mapping, errors = parse_ticket_list(text, STUDENTS, tickets=10)
    assert errors == []
    assert mapping == {1: 5, 2: 2, 3: 7, 4: 1, 6: 3, 7: 4}


def test_ticket_list_by_surname_and_initials() -> None:
    # How Russian lists write a name: "Смирнов А.П." was "nobody of this group".
    text = "Смирнов А.П. - 1\nСмирнов Б. О. 2\nиванов и. 3\nПетров-Водкин К.С.: 4\nСмирнов В.П. 5"
    mapping, errors = parse_ticket_list(text, STUDENTS, tickets=10)
    assert mapping == {4: 1, 5: 2, 1: 3, 7: 4}
    assert errors == [(5, "unknown")]


def test_ticket_list_pasted_numbered() -> None:
    # Pasted from a document, every line numbered: "1. Иванов - 5" was "nobody of this group".
    text = "1. Иванов Иван Иванович - 5\n2) 0013 - 2\n3. Смирнов А.П. – 1"
    mapping, errors = parse_ticket_list(text, STUDENTS, tickets=10)
    assert (mapping, errors) == ({1: 5, 2: 2, 4: 1}, [])


def test_ticket_list_reports_every_error_with_its_line() -> None:
    text = "\n".join(
        [
            "Кузнецов - 1",  # 1 unknown
            "Смирнов - 2",  # 2 ambiguous surname
            "Иванов - пять",  # 3 bad number
            "Иванов - 11",  # 4 out of range
            "Иванов - 0",  # 5 out of range
            "Иванов - 3",  # 6 fine
            "0012 - 4",  # 7 the same student again
            "Петров",  # 8 no number at all
            "Сидорова Анна Сергеевна",  # 9 the whole name, number forgotten
            "Сидорова - ²",  # 10 not an ASCII number
        ]
    )
    mapping, errors = parse_ticket_list(text, STUDENTS, tickets=10)
    assert mapping == {1: 3}
    assert errors == [
        (1, "unknown"),
        (2, "ambiguous"),
        (3, "bad_number"),
        (4, "out_of_range"),
        (5, "out_of_range"),
        (7, "duplicate"),
        (8, "bad_number"),
        (9, "bad_number"),
        (10, "bad_number"),
    ]


def test_ticket_list_without_a_ticket_count_takes_any_positive_number() -> None:
    mapping, errors = parse_ticket_list("Иванов 120\nПетров 0", STUDENTS, tickets=None)
    assert mapping == {1: 120}
    assert errors == [(2, "out_of_range")]


def test_ticket_list_ambiguous_full_name_of_namesakes() -> None:
    namesakes = {1: ("Иванов Иван", "1"), 2: ("Иванов Иван", "2")}
    mapping, errors = parse_ticket_list("Иванов Иван - 1\n2 - 3", namesakes, tickets=None)
    assert mapping == {2: 3}
    assert errors == [(1, "ambiguous")]


# --- subgroups ----------------------------------------------------------------------------


def test_split_alphabetical_bigger_parts_first_and_yo_with_ye() -> None:
    students = [
        (10, "Яковлев Я"),
        (9, "Ёлкин Е"),  # sorts as "Елкин", between "Егоров" and "Жуков", not after "Я"
        (8, "Жуков Ж"),
        (7, "Егоров Е"),
        (6, "Борисов Б"),
        (5, "Антонов А"),
        (4, "Власов В"),
        (3, "Гаврилов Г"),
        (2, "Дмитриев Д"),
        (1, "антонов а"),  # same name in another case: the id decides
    ]
    parts = split_alphabetical(students, 3)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert parts == [[1, 5, 6, 4], [3, 2, 7], [9, 8, 10]]


def test_split_alphabetical_edges() -> None:
    students = [(1, "Б"), (2, "А")]
    assert split_alphabetical(students, 1) == [[2, 1]]
    assert split_alphabetical(students, 2) == [[2], [1]]
    with pytest.raises(ValueError):
        split_alphabetical(students, 0)
    with pytest.raises(ValueError):
        split_alphabetical(students, 3)
    with pytest.raises(ValueError):
        split_alphabetical([], 1)


START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def test_subgroup_starts_staggered() -> None:
    hours = timedelta(hours=4)
    gap = timedelta(minutes=90)
    assert subgroup_starts(START, hours, 3, gap=gap) == [
        START,
        START + gap,
        START + 2 * gap,
    ]
    assert subgroup_starts(START, hours, 1, gap=timedelta(0)) == [START]


def test_subgroup_starts_must_fall_within_the_slot() -> None:
    with pytest.raises(ValueError, match="the last subgroup would start after the slot ends"):
        subgroup_starts(START, timedelta(hours=3), 3, gap=timedelta(minutes=90))  # exactly at end
    just_inside = subgroup_starts(
        START, timedelta(hours=3, microseconds=1), 3, gap=timedelta(minutes=90)
    )
    assert just_inside[-1] == START + timedelta(hours=3)
    with pytest.raises(ValueError):
        subgroup_starts(START, timedelta(hours=3), 2, gap=timedelta(0))
    with pytest.raises(ValueError):
        subgroup_starts(START, timedelta(hours=3), 2, gap=timedelta(minutes=-5))
    with pytest.raises(ValueError):
        subgroup_starts(START, timedelta(hours=3), 0, gap=timedelta(minutes=5))
    with pytest.raises(ValueError):
        subgroup_starts(START, timedelta(0), 1, gap=timedelta(minutes=5))


# --- written work -------------------------------------------------------------------------


def test_written_window() -> None:
    ends, accepted = written_window(START, timedelta(minutes=90), timedelta(minutes=10))
    assert ends == START + timedelta(minutes=90)
    assert accepted == START + timedelta(minutes=100)
    assert written_window(START, timedelta(minutes=90), timedelta(0)) == (ends, ends)
    with pytest.raises(ValueError):
        written_window(START, timedelta(minutes=90), timedelta(minutes=-1))


def test_time_left_reminders_sorted_unique_and_within_the_work() -> None:
    duration = timedelta(minutes=90)
    end = START + duration
    assert time_left_reminders(START, duration, [5, 30, 10, 30]) == [
        (30, end - timedelta(minutes=30)),
        (10, end - timedelta(minutes=10)),
        (5, end - timedelta(minutes=5)),
    ]


def test_a_twenty_minute_work_gets_only_ten_and_five() -> None:
    duration = timedelta(minutes=20)
    end = START + duration
    assert time_left_reminders(START, duration, [30, 20, 10, 5, 0, -5]) == [
        (10, end - timedelta(minutes=10)),
        (5, end - timedelta(minutes=5)),
    ]
    assert time_left_reminders(START, duration, []) == []
