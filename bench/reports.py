"""Benchmark: the additional-session report for a large session (10,000 students by
default, each on the roll of one exam, a tenth of them absent for a valid reason or failed).

Prints plain figures: seconds to build the report's rows from the database, to write the
XLSX and the CSV, the file sizes and the rows, on SQLite (the embedded default) or on
PostgreSQL (--postgres DSN; a throwaway database beside it, dropped at the end).

    .venv/bin/python bench/reports.py [--students N] [--postgres DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402  (after the path tweak, so `bot` imports)
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app import create_i18n  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.engine import (  # noqa: E402
    create_engine,
    create_sessionmaker,
    run_outside_transaction,
)
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Discipline, Exam, Faculty, Group, RollEntry, Student  # noqa: E402
from bot.services.reports import ReportKind, report_data  # noqa: E402
from bot.services.roll import RollRules  # noqa: E402
from bot.services.sheets import table_csv, table_xlsx  # noqa: E402
from bot.views.reports import render_report  # noqa: E402

START = datetime(2026, 12, 23, 6, 0, tzinfo=UTC)
GROUP_SIZE = 25
MARKS = ("present",) * 7 + ("absent", "excused", "failure")


async def seed(url: str, students: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    async with create_sessionmaker(engine).begin() as session:
        faculty = Faculty(name="Лечебный факультет")
        discipline = Discipline(name="Латинский язык")
        session.add_all([faculty, discipline])
        await session.flush()
        groups = [
            Group(faculty_id=faculty.id, name=f"{1000 + g}")
            for g in range(students // GROUP_SIZE + 1)
        ]
        session.add_all(groups)
        await session.flush()
        exams = [
            Exam(
                group_id=g.id,
                discipline_id=discipline.id,
                kind="exam",
                form="oral",
                starts_at=START + timedelta(hours=i % 40),
                duration_min=180,
            )
            for i, g in enumerate(groups)
        ]
        session.add_all(exams)
        await session.flush()
        await session.execute(
            insert(Student),
            [
                {
                    "group_id": groups[i // GROUP_SIZE].id,
                    "full_name": f"Студентов{i:05d} Иван Петрович",
                    "surname_key": f"студентов{i:05d}",
                    "record_book": f"26{i:06d}",
                }
                for i in range(students)
            ],
        )
        await session.flush()
        ids = list(range(1, students + 1))
        await session.execute(
            insert(RollEntry),
            [
                {
                    "exam_id": exams[(sid - 1) // GROUP_SIZE].id,
                    "student_id": sid,
                    "mark": MARKS[sid % 10],
                    "grade": "fail" if sid % 37 == 0 and MARKS[sid % 10] == "present" else None,
                }
                for sid in ids
            ],
        )
    await engine.dispose()


async def measure(url: str, students: int) -> None:
    await seed(url, students)
    settings = Settings(bot_token=None, database_url=url)
    i18n = create_i18n(settings)
    engine = create_engine(url)
    with i18n.context(), i18n.use_locale("ru"):
        started = time.perf_counter()
        async with create_sessionmaker(engine)() as session:
            data = await report_data(
                session,
                ReportKind.ADDITIONAL,
                None,
                now=START + timedelta(days=3),
                rules=RollRules.of(settings),
            )
        report = render_report(data, settings)
        built = time.perf_counter() - started
        started = time.perf_counter()
        xlsx = table_xlsx(report.table)
        xlsx_s = time.perf_counter() - started
        started = time.perf_counter()
        csv = table_csv(report.table)
        csv_s = time.perf_counter() - started
    await engine.dispose()
    backend = make_url(url).get_backend_name()
    out = sys.stdout
    rows = len(report.table.rows)
    out.write(f"additional-session report, {students} students on {backend}: {rows} rows\n")
    out.write(f"rows from the database: {built:.2f} s\n")
    out.write(f"XLSX: {xlsx_s:.2f} s, {len(xlsx) / 1024:.0f} KiB; ")
    out.write(f"CSV: {csv_s:.2f} s, {len(csv) / 1024:.0f} KiB\n")
    out.write(f"total: {built + xlsx_s + csv_s:.2f} s\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--postgres", help="a PostgreSQL DSN (postgresql+asyncpg://…)")
    args = parser.parse_args()
    if args.postgres:
        name = "bench_reports"
        asyncio.run(run_outside_transaction(args.postgres, f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(run_outside_transaction(args.postgres, f'CREATE DATABASE "{name}"'))
        url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        try:
            asyncio.run(measure(url, args.students))
        finally:
            asyncio.run(
                run_outside_transaction(
                    args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                )
            )
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(f"sqlite+aiosqlite:///{tmp}/bench.db", args.students))


if __name__ == "__main__":
    main()
