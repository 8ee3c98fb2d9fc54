"""`python -m bot …` run in-process: exit codes, what it prints, and what it writes."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import bot.app
from bot.__main__ import main
from bot.config import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
ROSTER_HEADER = "faculty,group,full_name,record_book"


@pytest.fixture(autouse=True)
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A fresh working directory with the samples, a SQLite file and no token."""
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("BOT_USERNAME", "examinator_bot")
    monkeypatch.setenv("DEFAULT_LOCALE", "en")  # the CLI speaks it (test_cli_speaks_... has ru)
    shutil.copytree(SAMPLES, tmp_path / "data" / "samples")
    # main() quietens alembic's logger for good; give it back as it was.
    alembic = logging.getLogger("alembic")
    level = alembic.level
    yield tmp_path
    alembic.setLevel(level)


def query(workdir: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(workdir / "bot.db")) as db:
        return db.execute(sql, params).fetchall()


def numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def test_import_roster_then_again(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "roster", "data/samples/roster.csv"]) == 0
    out, err = capsys.readouterr()
    assert numbers(out) == [10, 0, 0]  # added, updated, unchanged
    assert err == ""
    assert query(workdir, "SELECT count(*) FROM students") == [(10,)]

    assert main(["import", "roster", "data/samples/roster.csv"]) == 0
    out, _ = capsys.readouterr()
    assert numbers(out) == [0, 0, 10]
    assert query(workdir, "SELECT count(*) FROM students") == [(10,)]


def test_import_schedule_xlsx(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "schedule", "data/samples/schedule.xlsx"]) == 0
    out, _ = capsys.readouterr()
    assert numbers(out) == [6, 0, 0]
    assert query(workdir, "SELECT count(*) FROM exams") == [(6,)]


def test_bad_csv_names_the_row_and_writes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = workdir / "bad.csv"
    bad.write_text(
        f"{ROSTER_HEADER}\n"
        "Лечебный факультет,1101,Абдуллина Алия Ринатовна,2611001\n"
        "Лечебный факультет,1101,Белов Артём Сергеевич,2611002\n"
        "Лечебный факультет,1101,,2611003\n",
        encoding="utf-8",
    )
    assert main(["import", "roster", str(bad)]) != 0
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2  # what happened, then one line for the one bad row
    assert numbers(lines[1]) == [4]  # the spreadsheet's row number (the header is row 1)
    assert "full_name" in lines[1]
    assert query(workdir, "SELECT count(*) FROM students") == [(0,)]


def test_unreadable_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "roster.txt").write_text("hello", encoding="utf-8")
    assert main(["import", "roster", "roster.txt"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() != ""
    assert len(err.strip().splitlines()) == 1


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "roster", "no/such/roster.csv"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == "Cannot read no/such/roster.csv: No such file or directory"


def test_invite_teacher(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "teacher", "Иванов Иван"]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # BOT_USERNAME is set: Telegram is not asked
    link = re.search(r"^https://t\.me/examinator_bot\?start=([A-Za-z0-9_-]+)$", out, re.M)
    assert link is not None, out
    token = link.group(1)
    assert len(token) >= 16
    # Not \b: a token may begin or end with "-", which no word boundary touches.
    alone = rf"(?<![A-Za-z0-9_-]){re.escape(token)}(?![A-Za-z0-9_-])"
    assert re.search(alone, out.replace(link.group(0), ""))
    assert "Иванов Иван" in out
    rows = query(
        workdir,
        "SELECT i.role, t.full_name, i.used_at FROM invites i "
        "JOIN teachers t ON t.id = i.teacher_id WHERE i.token = ?",
        token,
    )
    assert rows == [("teacher", "Иванов Иван", None)]

    # Every invite is a new token for the same teacher.
    assert main(["invite", "teacher", "Иванов Иван"]) == 0
    assert token not in capsys.readouterr().out
    assert query(workdir, "SELECT count(*), count(DISTINCT teacher_id) FROM invites") == [(2, 1)]


def test_invite_without_username_prints_bare_token(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BOT_USERNAME")
    assert main(["invite", "admin"]) == 0
    out, _ = capsys.readouterr()
    assert "https://t.me/" not in out
    (token,) = query(workdir, "SELECT token FROM invites WHERE role = 'admin'")[0]
    assert token in out


def test_invite_dean_unknown_faculty(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "dean", "Нет такого"]) == 1
    assert "import the roster first" in capsys.readouterr().err

    assert main(["import", "roster", "data/samples/roster.csv"]) == 0
    capsys.readouterr()
    assert main(["invite", "dean", "Нет такого"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "Нет такого" in err
    assert "Лечебный факультет" in err and "Педиатрический факультет" in err
    assert query(workdir, "SELECT count(*) FROM invites") == [(0,)]

    assert main(["invite", "dean", "Педиатрический факультет"]) == 0
    assert "https://t.me/examinator_bot?start=" in capsys.readouterr().out
    assert query(workdir, "SELECT role FROM invites") == [("dean",)]


def test_db_upgrade(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() != ""
    (version,) = query(workdir, "SELECT version_num FROM alembic_version")[0]
    assert version
    assert main(["db", "upgrade"]) == 0  # idempotent
    assert query(workdir, "SELECT version_num FROM alembic_version") == [(version,)]


def test_bad_setting_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/bot")
    assert main(["db", "upgrade"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("Configuration error: DATABASE_URL")


@pytest.mark.parametrize("argv", [["run"], []], ids=["run", "default"])
def test_run_without_token_exits_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_start(*_: object, **__: object) -> None:
        pytest.fail("the bot was built without a token")

    monkeypatch.setattr(bot.app, "build_application", must_not_start)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "BOT_TOKEN" in err
    assert len(err.strip().splitlines()) == 1


def test_export_roll_and_unlock(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFAULT_LOCALE", "ru")  # the sheet's captions in Russian
    assert main(["import", "roster", "data/samples/roster.csv"]) == 0
    assert main(["import", "schedule", "data/samples/schedule.csv"]) == 0
    [(exam_id,)] = query(
        workdir,
        "SELECT exams.id FROM exams JOIN disciplines ON disciplines.id = exams.discipline_id "
        "WHERE disciplines.name = 'Латинский язык'",
    )
    capsys.readouterr()
    assert main(["export", "roll", str(exam_id), "--format", "csv", "--output", "r.csv"]) == 0
    out, _ = capsys.readouterr()
    assert "(3 студента)" in out
    rows = (workdir / "r.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert rows[0].split(";")[:3] == ["№", "ФИО", "Зачётная книжка"]
    assert [r.split(";")[1] for r in rows[1:]] == [
        "Иванова Мария Олеговна",
        "Каримов Булат Айратович",
        "Соколова Анна Дмитриевна",
    ]
    assert all(r.split(";")[5] == "не отмечен" for r in rows[1:])
    assert main(["export", "roll", str(exam_id)]) == 0  # XLSX, named after the exam
    out, _ = capsys.readouterr()
    [written] = list(workdir.glob("*.xlsx"))
    assert written.name.startswith("Латинский язык _ 23.12.2026 _ ведомость _ 08.30 _ 1102")
    assert main(["export", "roll", "999"]) == 1

    # Unlocking: only a confirmed roll.
    assert main(["exam", "unlock", str(exam_id)]) == 1
    with closing(sqlite3.connect(workdir / "bot.db")) as db:
        db.execute(
            "UPDATE exams SET roll_confirmed_at = '2026-12-23 09:00:00' WHERE id = ?", (exam_id,)
        )
        db.commit()
    assert main(["exam", "unlock", str(exam_id)]) == 0
    assert query(workdir, "SELECT roll_confirmed_at FROM exams WHERE id = ?", exam_id) == [(None,)]


def test_report_for_one_faculty_or_all(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFAULT_LOCALE", "ru")  # the report's captions in Russian
    assert main(["import", "roster", "data/samples/roster.csv"]) == 0
    assert main(["import", "schedule", "data/samples/schedule.csv"]) == 0
    capsys.readouterr()
    assert main(["report", "attendance", "--format", "csv", "--output", "a.csv"]) == 0
    assert "Явка и оценки: 0 строк, файл a.csv" in capsys.readouterr().out
    header = (workdir / "a.csv").read_bytes().decode("utf-8-sig").splitlines()[0]
    assert header.startswith("№;Факультет;Группа;Дисциплина;Дата экзамена")
    assert main(["report", "additional", "--faculty", "Лечебный факультет"]) == 0
    assert list(workdir.glob("additional-*.xlsx"))
    assert main(["report", "statements", "--faculty", "Нет такого"]) == 1
    assert "Факультета «Нет такого» нет." in capsys.readouterr().err


def test_semester_dates(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["semester", "30.06.2027", "09.02.2027"]) == 1
    assert "after the start" in capsys.readouterr().err
    assert main(["semester", "9 Feb", "30.06.2027"]) == 2
    assert main(["semester", "2027-02-09", "30.06.2027"]) == 0
    assert query(workdir, "SELECT starts_on, ends_on FROM semesters") == [
        ("2027-02-09", "2027-06-30")
    ]


def test_faculty_email_set_show_and_clear(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "roster", "data/samples/roster.csv"]) == 0
    capsys.readouterr()
    assert main(["faculty", "email", "Лечебный факультет", "Dekanat@Example.ORG"]) == 0
    out, err = capsys.readouterr()
    assert "e-mailed to Dekanat@example.org" in out and err == ""
    assert "SMTP_URL is not set" in out  # said, not refused: it may be set before the run
    assert query(workdir, "SELECT email FROM faculties WHERE name = ?", "Лечебный факультет") == [
        ("Dekanat@example.org",)
    ]
    assert main(["faculty", "email", "  лечебный   ФАКУЛЬТЕТ "]) == 0
    assert capsys.readouterr().out == "Лечебный факультет: Dekanat@example.org\n"
    assert main(["faculty", "email", "Лечебный факультет", "off"]) == 0
    assert "no longer e-mailed" in capsys.readouterr().out
    assert main(["faculty", "email", "Лечебный факультет"]) == 0
    assert capsys.readouterr().out == "Лечебный факультет: no e-mail set\n"


def test_faculty_email_errors_are_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "roster", "data/samples/roster.csv"]) == 0
    capsys.readouterr()
    assert main(["faculty", "email", "Лечебный факультет", "dekanat"]) == 1
    _, err = capsys.readouterr()
    assert err == "“dekanat” is not an e-mail address (such as dean@university.ru).\n"
    assert main(["faculty", "email", "Стоматологический факультет", "a@b.ru"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("Unknown faculty “Стоматологический факультет”. Known faculties: ")
    assert "Педиатрический факультет" in err and err.count("\n") == 1
    assert query(workdir, "SELECT count(*) FROM faculties WHERE email IS NOT NULL") == [(0,)]


# Every subcommand that does not talk to Telegram, in one process (each costs a start-up).
OFFLINE_COMMANDS = [
    ["db", "upgrade"],
    ["import", "roster", "data/samples/roster.csv"],
    ["import", "schedule", "data/samples/schedule.csv"],
    ["import", "plan", "data/samples/plan.csv"],
    ["exam", "list"],
    ["exam", "unlock", "1"],
    ["exam", "cancel", "1"],
    ["export", "roll", "2", "--format", "csv", "--output", "roll.csv"],
    ["report", "attendance", "--format", "csv", "--output", "a.csv"],
    ["report", "additional"],
    ["report", "statements", "--format", "csv", "--output", "s.csv"],
    ["outbox"],
    ["faculty", "email", "Лечебный факультет", "dekanat@example-med.ru"],
    ["semester", "2027-02-09", "2027-06-30"],
    ["invite", "dean", "Лечебный факультет"],  # BOT_USERNAME set: Telegram is not asked
]
PROBE = """
import json, sys
from bot.__main__ import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "aiogram")
print(json.dumps({"codes": codes, "aiogram": loaded}))
"""


def test_offline_commands_do_not_import_aiogram(workdir: Path) -> None:
    """Importing aiogram costs seconds and ~150 MB: the commands that never talk to Telegram
    must not pay for it (the probe sees the process's sys.modules after all of them)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(OFFLINE_COMMANDS)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # They all ran (exam 1 is unlocked only when confirmed: 1 is its right answer).
    assert result["codes"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], done.stdout
    assert result["aiogram"] == []
    assert (workdir / "roll.csv").exists() and (workdir / "s.csv").exists()
    assert query(workdir, "SELECT count(*) FROM invites WHERE role = 'dean'") == [(1,)]


@pytest.mark.parametrize(
    ("locale", "imported", "invite", "unknown"),
    [
        (
            "ru",
            "импорт выполнен",
            "Одноразовое приглашение для преподавателя",
            "Факультета «Нет» нет",
        ),
        ("en", "imported: 10 added", "One-time invite for the teacher", "No faculty named “Нет”"),
    ],
)
def test_cli_speaks_the_default_locale_throughout(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    locale: str,
    imported: str,
    invite: str,
    unknown: str,
) -> None:
    monkeypatch.setenv("DEFAULT_LOCALE", locale)
    assert main(["import", "roster", "data/samples/roster.csv"]) == 0
    assert main(["invite", "teacher", "Иванов Иван"]) == 0
    assert main(["report", "attendance", "--faculty", "Нет"]) == 1
    out, err = capsys.readouterr()
    assert imported in out and invite in out and unknown in err
    # One language in one run: nothing of the other.
    other = ("imported", "invite", "Token") if locale == "ru" else ("импорт", "приглашение")
    assert not any(word in out + err for word in other), out + err
