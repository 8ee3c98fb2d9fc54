"""Benchmark: the CLI end to end, as an administrator runs it — `python -m bot …` as a child
process, its wall time and peak RSS (the child's own ru_maxrss, from wait4).

Prints, per database:
- the fixed cost of a command that does not talk to Telegram (`exam list` on an empty
  database) and whether it imported aiogram;
- `import roster` of ROWS students (300 groups), then `import schedule` of ROWS exams
  (each group sits ~ROWS/300 exams), then the same schedule again (nothing changes);
- the import report's counts (not yet linked must be the number of students, not the
  students times the exams).

    .venv/bin/python bench/import_schedule.py [--rows N] [--linked N] [--postgres DSN]

`--linked N` links the first N students to Telegram users before the schedule import, so
that planning writes their notices (two per student per exam). With --postgres, each run
uses a throwaway database `bench_cli` next to the DSN's (created and dropped here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text, update  # noqa: E402  (after the path tweak)
from sqlalchemy.engine import make_url  # noqa: E402

from bot.db.engine import create_engine  # noqa: E402
from bot.db.models import Notice, Student, User  # noqa: E402

GROUPS = 300
FACULTIES = ("Лечебный факультет", "Педиатрический факультет", "Стоматологический факультет")
SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Фёдоров")
NAMES = ("Алексей", "Тимур", "Артём", "Булат", "Никита", "Руслан", "Илья", "Айдар")
PG_DATABASE = f"bench_cli_{os.getpid()}"  # two runs at once keep apart
USERS = 5_000_000  # Telegram ids of the linked students


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def group_of(i: int) -> tuple[str, str]:
    g = i % GROUPS
    return FACULTIES[g % len(FACULTIES)], f"{g % len(FACULTIES) + 1}{g // 30 + 1:02d}{g % 30:02d}"


def roster_csv(count: int) -> str:
    lines = ["faculty,group,full_name,record_book"]
    for i in range(count):
        faculty, group = group_of(i)
        name = f"{SURNAMES[i % 8]} {NAMES[i // 8 % 8]} Студент{i}"
        lines.append(f"{faculty},{group},{name},26{i:06d}")
    return "\n".join(lines) + "\n"


def schedule_csv(count: int, first_day: date) -> str:
    """`count` exams: row i is group i % 300's discipline i // 300, on a future day."""
    lines = ["faculty,group,discipline,kind,form,date,start,duration_min,teacher,link,moodle_url"]
    for i in range(count):
        faculty, group = group_of(i)
        discipline = i // GROUPS
        day = first_day + timedelta(days=discipline % 40)
        link = f"https://my.mts-link.ru/j/71234/{i}" if i % 2 else ""
        lines.append(
            f"{faculty},{group},Дисциплина {discipline},exam,oral,{day.isoformat()},"
            f"{9 + i % 8:02d}:00,90,Преподаватель {i % 200} Иван Петрович,{link},"
        )
    return "\n".join(lines) + "\n"


@dataclass
class Run:
    wall_s: float
    maxrss_mb: float
    code: int
    output: str
    cpu_s: float = 0.0  # the child's user + system time: what wall time is on an idle machine


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    output = child.stdout.read().decode()
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux: this child's own peak, not the bench's.
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, usage.ru_maxrss / 1024, child.returncode, output, cpu)


def aiogram_probe(env: dict[str, str], cwd: Path) -> Run:
    """`exam list`, then whether aiogram was imported on the way."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['bot', 'exam', 'list']\n"
        "try:\n"
        "    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('aiogram imported:', 'aiogram' in sys.modules)\n"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return Run(time.perf_counter() - started, 0.0, done.returncode, done.stdout + done.stderr)


async def link_students(database_url: str, count: int) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            ids = list(await conn.scalars(select(Student.id).order_by(Student.id).limit(count)))
            await conn.execute(
                insert(User),
                [
                    {"id": USERS + n, "first_name": f"s{n}", "locale": "ru", "is_active": True}
                    for n in ids
                ],
            )
            await conn.execute(
                update(Student)
                .where(Student.id.in_(ids))
                .values(user_id=Student.id + USERS, linked_at=datetime.now(UTC))
            )
    finally:
        await engine.dispose()


async def count_notices(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(Notice)) or 0)
    finally:
        await engine.dispose()


async def pg_database(dsn: str, *, create: bool) -> str:
    """A fresh `bench_cli` database beside the DSN's; its URL."""
    admin = create_engine(dsn, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
            if create:
                await conn.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    finally:
        await admin.dispose()
    return make_url(dsn).set(database=PG_DATABASE).render_as_string(hide_password=False)


def summary(output: str) -> str:
    """The report's lines with a number, on one line."""
    lines = [line.strip() for line in output.splitlines() if re.search(r"\d", line)]
    return " | ".join(lines)[:300]


def show(label: str, run: Run) -> None:
    out(
        f"{label:28} wall_s {run.wall_s:6.2f}  cpu_s {run.cpu_s:6.2f}  "
        f"peak_rss_mb {run.maxrss_mb:6.1f}  exit {run.code}"
    )


async def bench(backend: str, database_url: str, directory: Path, rows: int, linked: int) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("BOT_TOKEN", None)
    roster = directory / "roster.csv"
    schedule = directory / "schedule.csv"
    roster.write_text(roster_csv(rows), encoding="utf-8")
    first_day = datetime.now(UTC).date() + timedelta(days=20)
    schedule.write_text(schedule_csv(rows, first_day), encoding="utf-8")

    probe = aiogram_probe(env, directory)  # also creates the schema (migrations)
    fixed = [run_cli(["exam", "list"], env, directory) for _ in range(3)]
    best = min(fixed, key=lambda r: r.cpu_s)
    show(f"{backend} exam list (best of 3)", best)
    out(f"{backend} {probe.output.strip().splitlines()[-1]}")

    imported = run_cli(["import", "roster", str(roster)], env, directory)
    show(f"{backend} import roster {rows}", imported)
    out(f"    {summary(imported.output)}")
    if linked:
        await link_students(database_url, linked)
    first = run_cli(["import", "schedule", str(schedule)], env, directory)
    show(f"{backend} import schedule {rows}", first)
    out(f"    {summary(first.output)}")
    out(f"    notices planned: {await count_notices(database_url)}")
    again = run_cli(["import", "schedule", str(schedule)], env, directory)
    show(f"{backend} schedule again", again)
    out(f"    {summary(again.output)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--linked", type=int, default=0, help="students linked before planning")
    parser.add_argument("--postgres", metavar="DSN", help="postgresql+asyncpg://… to bench too")
    args = parser.parse_args()
    out(f"rows {args.rows}  linked {args.linked}")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        directory = Path(tmp)
        await bench(
            "sqlite",
            f"sqlite+aiosqlite:///{directory / 'bench.db'}",
            directory,
            args.rows,
            args.linked,
        )
        if args.postgres:
            url = await pg_database(args.postgres, create=True)
            try:
                await bench("postgres", url, directory, args.rows, args.linked)
            finally:
                await pg_database(args.postgres, create=False)


if __name__ == "__main__":
    asyncio.run(main())
