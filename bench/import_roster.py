"""Benchmark: importing a large roster (10,000 students by default), then re-importing it.

Prints plain figures: seconds to read+parse the file, to import it into an empty
database, to re-import it unchanged, and peak memory of one import (tracemalloc peak of
Python allocations, and the process's ru_maxrss).

    .venv/bin/python bench/import_roster.py [--rows N] [--xlsx] [--postgres DSN]

With --postgres, the import runs in a throwaway schema `bench_import` of that database
(created and dropped here), never in `public`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402  (after the path tweak, so `bot` imports)
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from bot.db.engine import create_engine, create_sessionmaker  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.domain.imports import parse_roster  # noqa: E402
from bot.services.imports import import_roster, read_table  # noqa: E402

PG_SCHEMA = "bench_import"
_db_number = itertools.count()
FACULTIES = ("Лечебный факультет", "Педиатрический факультет", "Стоматологический факультет")
SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Фёдоров")
NAMES = ("Алексей", "Тимур", "Артём", "Булат", "Никита", "Руслан", "Илья", "Айдар")
PATRONYMICS = ("Сергеевич", "Ильдарович", "Андреевич", "Маратович", "Олегович")


def roster_rows(count: int) -> list[list[str]]:
    rows = [["Факультет", "Группа", "ФИО", "Номер зачётной книжки"]]
    for i in range(count):
        faculty = i % len(FACULTIES)
        group = f"{faculty + 1}{(i // 25) % 6 + 1}{(i // 150) % 100:02d}"
        name = " ".join((SURNAMES[i % 8], NAMES[i // 8 % 8], PATRONYMICS[i // 64 % 5]))
        rows.append([FACULTIES[faculty], group, name, f"26{i:06d}"])
    return rows


def write_files(directory: Path, count: int, xlsx: bool) -> list[Path]:
    rows = roster_rows(count)
    csv_path = directory / "roster.csv"
    csv_path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    paths = [csv_path]
    if xlsx:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        for row in rows:
            sheet.append(row)
        xlsx_path = directory / "roster.xlsx"
        workbook.save(xlsx_path)
        paths.append(xlsx_path)
    return paths


async def fresh_engine(backend: str, directory: Path, dsn: str | None) -> AsyncEngine:
    if backend == "sqlite":
        # A new file each time: an empty database without deleting (WAL files linger).
        engine = create_engine(f"sqlite+aiosqlite:///{directory / f'bench-{next(_db_number)}.db'}")
    else:
        assert dsn is not None
        engine = create_engine(dsn, connect_args={"server_settings": {"search_path": PG_SCHEMA}})
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            await conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    await upgrade(engine)
    return engine


async def drop(engine: AsyncEngine) -> None:
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    await engine.dispose()


async def timed_import(engine: AsyncEngine, name: str, content: bytes) -> tuple[float, Any]:
    async with create_sessionmaker(engine)() as session:
        started = time.perf_counter()
        report = await import_roster(session, name, content)
        await session.commit()
        return time.perf_counter() - started, report


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


async def bench(
    name: str, content: bytes, backend: str, *, directory: Path, dsn: str | None, rows: int
) -> None:
    label = f"{backend} {Path(name).suffix[1:]}"
    parse_s = timed(lambda: parse_roster(read_table(name, content)))

    engine = await fresh_engine(backend, directory, dsn)
    try:
        first_s, first = await timed_import(engine, name, content)
        again_s, again = await timed_import(engine, name, content)
    finally:
        await drop(engine)
    assert (first.added, again.unchanged) == (rows, rows), (first, again)

    # A separate run: tracemalloc slows allocation down, so it must not skew the times.
    engine = await fresh_engine(backend, directory, dsn)
    try:
        tracemalloc.start()
        await timed_import(engine, name, content)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        await drop(engine)

    out(f"{label:12} file_bytes        {len(content)}")
    out(f"{label:12} parse_s           {parse_s:.3f}")
    out(f"{label:12} first_import_s    {first_s:.3f}")
    out(f"{label:12} reimport_s        {again_s:.3f}")
    out(f"{label:12} tracemalloc_peak_mb {peak / 2**20:.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--xlsx", action="store_true", help="also import the same data as XLSX")
    parser.add_argument("--postgres", metavar="DSN", help="postgresql+asyncpg://… to bench too")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        directory = Path(tmp)
        paths = write_files(directory, args.rows, args.xlsx)
        out(f"rows {args.rows}")
        backends = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
        for backend in backends:
            for path in paths:
                content = path.read_bytes()
                await bench(
                    path.name,
                    content,
                    backend,
                    directory=directory,
                    dsn=args.postgres,
                    rows=args.rows,
                )
    # ru_maxrss is in KiB on Linux.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out(f"ru_maxrss_mb {maxrss / 1024:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
