"""Individual study plans: the distance share (70 % / 50 %), reminder days, deadline
reminders, and the plan template's rows."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import create_i18n
from bot.config import ConfigError, Settings, load_settings
from bot.domain.imports import (
    PLAN_COLUMNS,
    PLAN_ERROR_CODES,
    RowError,
    TableKind,
    detect_table,
    parse_plan,
    record_book_errors,
)
from bot.domain.plans import (
    DEFAULT_DISTANCE_LIMIT,
    NO_PART_TIME_LIMIT,
    PlanHours,
    applicable_limit,
    distance_share_exceeded,
    parse_limit,
    parse_reminder_days,
    share_excess,
)
from bot.domain.reminders import NoticeKind, deadline_notices
from bot.views.texts import row_error_text

MOSCOW = ZoneInfo("Europe/Moscow")
DEADLINE = date(2026, 12, 20)
HEADER = ",".join(PLAN_COLUMNS[:11])  # the sample's columns, without level and limit
RU_HEADER = (
    "Номер зачётной книжки,Дисциплина,Кафедра,З.е.,Лекции,Лабораторные,Практические,"
    "Дистанционно (ч),Место и время,Срок сдачи,Преподаватель"
)


def hours(total: int, distance: int, level: str = "", limit: float | None = None) -> PlanHours:
    return PlanHours(lecture=total, distance=distance, level=level, limit=limit)


# --- the distance share ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("distance", "total", "limit", "exceeded"),
    [
        (70, 100, DEFAULT_DISTANCE_LIMIT, False),  # "at most 70 %": exactly 70 % is allowed
        (71, 100, DEFAULT_DISTANCE_LIMIT, True),
        (49, 70, DEFAULT_DISTANCE_LIMIT, False),  # 0.7 * 70 is 48.99999999999999 in floats
        (50, 70, DEFAULT_DISTANCE_LIMIT, True),
        (50, 100, NO_PART_TIME_LIMIT, False),
        (51, 100, NO_PART_TIME_LIMIT, True),
        (0, 0, NO_PART_TIME_LIMIT, False),  # no hours, no share
        (100, 100, 1.0, False),
    ],
)
def test_share_limit_edges(distance: int, total: int, limit: float, exceeded: bool) -> None:
    assert distance_share_exceeded([hours(total, distance)], limit) is exceeded


def test_share_is_over_the_whole_plan_not_each_discipline() -> None:
    # One discipline wholly remote, another wholly in person: 50 % of the plan.
    plan = [PlanHours(lecture=20, practice=30, distance=50), PlanHours(lab=50)]
    assert not distance_share_exceeded(plan, NO_PART_TIME_LIMIT)
    assert distance_share_exceeded([*plan, PlanHours(practice=1, distance=1)], 0.5)


def test_which_limit_applies() -> None:
    assert applicable_limit([hours(10, 0)], 0.7) == Fraction(7, 10)  # level not given
    assert applicable_limit([hours(10, 0, level="master")], 0.7) == Fraction(7, 10)
    assert applicable_limit([hours(10, 0, level="bachelor")], 0.7) is None
    # A limit written in the plan wins over the level; the strictest of several.
    rows = [hours(10, 0, level="master", limit=0.5), hours(10, 0, limit=0.6)]
    assert applicable_limit(rows, 0.7) == Fraction(1, 2)


def test_share_excess_names_the_student() -> None:
    plan = [hours(100, 60, level="master", limit=0.5)]
    excess = share_excess("2611002", "Белов Артём Сергеевич", plan, default=DEFAULT_DISTANCE_LIMIT)
    assert excess is not None
    assert (excess.record_book, excess.distance, excess.total) == ("2611002", 60, 100)
    assert excess.limit == Fraction(1, 2)
    assert share_excess("1", "A", [hours(100, 60)], default=DEFAULT_DISTANCE_LIMIT) is None
    assert share_excess("1", "A", [hours(100, 90, level="specialist")], default=0.7) is None


@pytest.mark.parametrize(
    ("text", "share"),
    [("70", 0.7), ("70 %", 0.7), ("50%", 0.5), ("0.5", 0.5), ("0,7", 0.7), ("1", 1.0)],
)
def test_limits_as_typed(text: str, share: float) -> None:
    assert parse_limit(text) == share


@pytest.mark.parametrize("text", ["0", "0 %", "150", "-5", "abc", "70 % ДОТ"])
def test_bad_limits(text: str) -> None:
    assert parse_limit(text) is None


# --- reminder days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("7,1", (7, 1)),
        ("1, 7", (7, 1)),
        ("7;1 7", (7, 1)),
        ("0", (0,)),
        ("14,7,3,1", (14, 7, 3, 1)),
    ],
)
def test_reminder_days(text: str, days: tuple[int, ...]) -> None:
    assert parse_reminder_days(text) == days


@pytest.mark.parametrize("text", ["x", "7,one", "-1", "400"])
def test_bad_reminder_days(text: str) -> None:
    with pytest.raises(ValueError, match="such as 7,1"):
        parse_reminder_days(text)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("clean_env")
def test_settings_read_plan_reminder_days_and_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.plan_reminder_days == (7, 1)
    assert settings.plan_distance_limit == 0.7
    monkeypatch.setenv("PLAN_REMINDER_DAYS", "3, 10")
    monkeypatch.setenv("PLAN_DISTANCE_LIMIT", "0.5")
    settings = load_settings()
    assert (settings.plan_reminder_days, settings.plan_distance_limit) == ((10, 3), 0.5)
    monkeypatch.setenv("PLAN_REMINDER_DAYS", "soon")
    with pytest.raises(ConfigError, match="PLAN_REMINDER_DAYS"):
        load_settings()
    monkeypatch.delenv("PLAN_REMINDER_DAYS")
    monkeypatch.setenv("PLAN_DISTANCE_LIMIT", "1.2")
    with pytest.raises(ConfigError, match="PLAN_DISTANCE_LIMIT"):
        load_settings()


# --- deadline reminders ----------------------------------------------------------------


def at_nine_moscow(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)  # 09:00 MSK (UTC+3)


def test_reminders_7_and_1_days_before_at_nine() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    week, day = deadline_notices(5, 11, DEADLINE, now=now, lead_days=(7, 1), tz=MOSCOW)
    assert (week.kind, week.due_at) == (
        NoticeKind.PLAN_DEADLINE,
        at_nine_moscow(date(2026, 12, 13)),
    )
    assert day.due_at == at_nine_moscow(date(2026, 12, 19))
    # Useful until the deadline day is over in the university's zone.
    assert week.expires_at == day.expires_at == datetime(2026, 12, 20, 21, 0, tzinfo=UTC)
    assert week.key == "plan_deadline:5:11:20261220:7"
    assert week.payload == {"item_id": 11, "deadline": "2026-12-20", "lead": 7}


def test_missed_slots_collapse_into_one_reminder_now() -> None:
    now = datetime(2026, 12, 17, 12, 0, tzinfo=UTC)  # three days before
    notices = deadline_notices(5, 11, DEADLINE, now=now, lead_days=(7, 1), tz=MOSCOW)
    assert [(n.payload["lead"], n.due_at) for n in notices] == [
        (7, now),
        (1, at_nine_moscow(date(2026, 12, 19))),
    ]
    now = datetime(2026, 12, 20, 7, 0, tzinfo=UTC)  # the deadline day, 10:00
    assert [
        (n.payload["lead"], n.due_at)
        for n in deadline_notices(5, 11, DEADLINE, now=now, lead_days=(7, 1), tz=MOSCOW)
    ] == [(1, now)]
    # Once the deadline day is over there is nothing left to remind of.
    now = datetime(2026, 12, 20, 21, 0, tzinfo=UTC)
    assert deadline_notices(5, 11, DEADLINE, now=now, lead_days=(7, 1), tz=MOSCOW) == []


def test_a_moved_deadline_gets_new_keys() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    before = {
        n.key for n in deadline_notices(5, 11, DEADLINE, now=now, lead_days=(7, 1), tz=MOSCOW)
    }
    moved = DEADLINE + timedelta(days=5)
    after = {n.key for n in deadline_notices(5, 11, moved, now=now, lead_days=(7, 1), tz=MOSCOW)}
    assert before.isdisjoint(after)
    assert before == {
        n.key for n in deadline_notices(5, 11, DEADLINE, now=now, lead_days=(1, 7), tz=MOSCOW)
    }


# --- the plan template -----------------------------------------------------------------


def table(*lines: str, header: str = HEADER) -> list[list[str]]:
    return [header.split(",")] + [line.split(",") for line in lines]


def test_detects_the_plan_template_in_both_languages() -> None:
    assert detect_table(HEADER.split(",")) is TableKind.PLAN
    assert detect_table(RU_HEADER.split(",")) is TableKind.PLAN
    # The columns it shares do not steal the other templates' files.
    assert detect_table(["faculty", "group", "full_name", "record_book"]) is TableKind.ROSTER
    schedule = "faculty,group,discipline,kind,form,date,start,duration_min,teacher"
    assert detect_table(schedule.split(",")) is TableKind.SCHEDULE


def test_good_rows_in_russian() -> None:
    result = parse_plan(
        table(
            "26 11002,Анатомия,Кафедра анатомии,4,36,0,54,40,ауд. 112,20.12.2026,Смирнова",
            "2611002,Латынь,,,,,,,,2027-01-15,",
            header=RU_HEADER,
        )
    )
    assert result.errors == []
    first, second = result.rows
    assert (first.record_book, first.ects, first.teacher) == ("2611002", 4.0, "Смирнова")
    assert (first.lecture_hours, first.practice_hours, first.distance_hours) == (36, 54, 40)
    assert first.deadline == DEADLINE
    assert (second.department, second.ects, second.lab_hours, second.teacher) == ("", None, 0, "")
    assert second.deadline == date(2027, 1, 15)


def test_credits_may_have_a_decimal_comma() -> None:
    result = parse_plan(
        [HEADER.split(","), ["2611002", "Анатомия", "", "1,5"] + [""] * 5 + ["2026-12-20", ""]]
    )
    assert result.errors == []
    assert result.rows[0].ects == 1.5


def test_bad_rows_are_named_with_codes() -> None:
    result = parse_plan(
        table(
            "2611002,Анатомия,,3,36,0,54,40,,20-12-2026,",  # 2: not a date
            "2611002,Гистология,,3,-4,0,10,0,,2026-12-20,",  # 3: negative hours
            "2611003,,,3,1,0,0,0,,2026-12-20,",  # 4: no discipline
            "2611002,анатомия,,3,1,0,0,0,,2026-12-21,",  # 5: same as row 2
            "2611004,Химия,,3,10,0,0,11,,2026-12-21,",  # 6: more remote than taught
            "2611004,Физика,,abc,1,0,0,0,,2026-12-21,",  # 7: not credits
        )
    )
    assert result.rows == []
    assert [(e.row, e.column, e.code) for e in result.errors] == [
        (2, "deadline", "bad_date"),
        (3, "lecture_hours", "bad_hours"),
        (4, "discipline", "empty"),
        (5, "discipline", "duplicate_plan_item"),
        (6, "distance_hours", "distance_over_total"),
        (7, "ects", "bad_ects"),
    ]
    assert result.errors[3].ref_row == 2


def test_level_and_limit_columns() -> None:
    header = ",".join(PLAN_COLUMNS)
    result = parse_plan(
        table(
            "1,A,,,10,0,0,5,,2026-12-20,,магистратура,50 %",
            "2,B,,,10,0,0,5,,2026-12-20,,master,",
            "3,C,,,10,0,0,5,,2026-12-20,,doctorate,",
            "4,D,,,10,0,0,5,,2026-12-20,,,200",
            header=header,
        )
    )
    assert [(r.programme_level, r.distance_limit) for r in result.rows] == [
        ("master", 0.5),
        ("master", None),
    ]
    assert [(e.row, e.code) for e in result.errors] == [(4, "unknown_level"), (5, "bad_limit")]


def test_missing_columns_are_named() -> None:
    result = parse_plan([["record_book", "discipline", "deadline"], ["1", "A", "2026-12-20"]])
    assert result.errors[0].code == "missing_columns"
    assert result.errors[0].value.split(",") == [
        "department",
        "ects",
        "lecture_hours",
        "lab_hours",
        "practice_hours",
        "place_time",
        "teacher",
    ]


def test_record_books_must_be_on_the_roster_and_of_the_deans_faculty() -> None:
    rows = parse_plan(
        table("1,A,,,,,,,,2026-12-20,", "2,A,,,,,,,,2026-12-20,", "3,A,,,,,,,,2026-12-20,")
    ).rows
    faculties = {"1": "Лечебный факультет", "2": "Педиатрический факультет"}
    assert record_book_errors(rows, faculties) == [
        RowError(4, "record_book", "unknown_record_book", "3")
    ]
    assert [
        (e.row, e.code) for e in record_book_errors(rows, faculties, ["лечебный факультет"])
    ] == [
        (3, "foreign_student"),
        (4, "unknown_record_book"),
    ]


def test_every_plan_error_code_is_produced_and_explained() -> None:
    header = ",".join(PLAN_COLUMNS)
    parsed = parse_plan(
        table(
            "1,A,,x,-1,0,0,0,,2026-12-20,,?,?",
            "1,B,,,1,0,0,2,,2026-12-20,,,",
            "1,B,,,1,0,0,0,,2026-12-20,,,",
            "2,C,,,1,0,0,0,,2026-12-20,,,",
            "3,C,,,1,0,0,0,,2026-12-20,,,",
            header=header,
        )
    )
    errors = parsed.errors + record_book_errors(parsed.rows, {"2": "Б"}, ["А"])
    assert {e.code for e in errors} == set(PLAN_ERROR_CODES)
    i18n = create_i18n(Settings(_env_file=None))
    with i18n.context(), i18n.use_locale("en"):
        for error in errors:
            assert "invalid value" not in row_error_text(error), error.code
