"""Benchmark: the exam-day console with a full roll (40 students by default).

Prints plain figures: milliseconds to render the roll (load it from the database, build
the text and the keyboard) and to update it (a tap: mark a student, then render again),
median and 95th percentile over the repetitions, on SQLite (the embedded default) or on
PostgreSQL (--postgres DSN; a throwaway database is created beside it and dropped).
Telegram is not involved: this is the bot's own share of a tap.

    .venv/bin/python bench/roll.py [--students N] [--taps N] [--postgres DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402  (after the path tweak, so `bot` imports)

from bot.app import create_i18n  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.engine import (  # noqa: E402
    create_engine,
    create_sessionmaker,
    run_outside_transaction,
)
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Discipline, Exam, Faculty, Group, Student, Teacher  # noqa: E402
from bot.services.outbox import Outbox  # noqa: E402
from bot.services.roll import MarkAction, RollRules, load_roll, own_exam, set_mark  # noqa: E402
from bot.views.roll import roll_markup, roll_text  # noqa: E402

START = datetime(2026, 12, 23, 6, 0, tzinfo=UTC)
ACTIONS = (MarkAction.PRESENT, MarkAction.ABSENT, MarkAction.EXCUSED, MarkAction.PRESENT)


async def seed(url: str, students: int) -> tuple[int, int]:
    engine = create_engine(url)
    await upgrade(engine)
    async with create_sessionmaker(engine).begin() as session:
        faculty = Faculty(name="Лечебный факультет")
        group = Group(faculty=faculty, name="1101")
        teacher = Teacher(full_name="Николаева Ольга Петровна")
        discipline = Discipline(name="Латинский язык")
        session.add_all([faculty, group, teacher, discipline])
        await session.flush()
        session.add_all(
            Student(
                group_id=group.id,
                full_name=f"Студентов{i:02d} Иван Петрович",
                surname_key=f"студентов{i:02d}",
                record_book=f"26{i:05d}",
            )
            for i in range(students)
        )
        exam = Exam(
            group_id=group.id,
            discipline_id=discipline.id,
            teacher_id=teacher.id,
            kind="exam",
            form="oral",
            starts_at=START,
            duration_min=240,
        )
        session.add(exam)
        await session.flush()
        ids = (exam.id, teacher.id)
    await engine.dispose()
    return ids


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


async def measure(url: str, students: int, taps: int) -> None:
    exam_id, teacher_id = await seed(url, students)
    settings = Settings(bot_token=None, database_url=url)
    i18n = create_i18n(settings)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    now = START + timedelta(minutes=5)
    renders: list[float] = []
    updates: list[float] = []
    size = 0
    with i18n.context(), i18n.use_locale("ru"):
        for n in range(taps):
            started = time.perf_counter()
            async with sessionmaker.begin() as session:
                teacher = await session.get(Teacher, teacher_id)
                exam = await own_exam(session, teacher, exam_id)
                assert exam is not None
                view = await load_roll(session, exam, now, rules=RollRules.of(settings))
                text = roll_text(view, 0, settings, locale="ru")
                markup = roll_markup(view, 0, settings, locale="ru")
            renders.append(time.perf_counter() - started)
            size = len(text)
            buttons = sum(len(row) for row in markup.inline_keyboard)

            started = time.perf_counter()
            async with sessionmaker.begin() as session:
                teacher = await session.get(Teacher, teacher_id)
                student = view.lines[n % students].student.id
                await set_mark(
                    session,
                    teacher,
                    1,
                    exam_id=exam_id,
                    student_id=student,
                    action=ACTIONS[n % 4],
                    now=now,
                    rules=RollRules.of(settings),
                    outbox=Outbox(),
                )
                exam = await own_exam(session, teacher, exam_id)
                assert exam is not None
                view = await load_roll(session, exam, now, rules=RollRules.of(settings))
                roll_text(view, 0, settings, locale="ru")
                roll_markup(view, 0, settings, locale="ru")
            updates.append(time.perf_counter() - started)
    await engine.dispose()
    backend = make_url(url).get_backend_name()
    sys.stdout.write(
        f"roll of {students} students on {backend}: {size} characters, {buttons} buttons" + "\n"
    )
    sys.stdout.write(f"render (load + text + keyboard), {taps} times: {ms(renders)}" + "\n")
    sys.stdout.write(f"update (a tap: mark + render again), {taps} times: {ms(updates)}" + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL DSN (postgresql+asyncpg://…)")
    args = parser.parse_args()
    if args.postgres:
        name = "bench_roll"
        asyncio.run(run_outside_transaction(args.postgres, f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(run_outside_transaction(args.postgres, f'CREATE DATABASE "{name}"'))
        url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        try:
            asyncio.run(measure(url, args.students, args.taps))
        finally:
            asyncio.run(
                run_outside_transaction(
                    args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                )
            )
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(f"sqlite+aiosqlite:///{tmp}/bench.db", args.students, args.taps))


if __name__ == "__main__":
    main()
