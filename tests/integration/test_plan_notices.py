"""Planning the outbox from several processes at once (replicas on one PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.db.engine import create_sessionmaker
from bot.db.models import Notice, Student, User
from bot.services.imports import import_roster, import_schedule
from bot.services.reminders import plan_upcoming

ROSTER = """faculty,group,full_name,record_book
Лечебный факультет,1101,Белов Артём Сергеевич,1001
Лечебный факультет,1101,Гарипов Тимур Ильдарович,1002
"""
SCHEDULE = """faculty,group,discipline,kind,form,date,start,duration_min,teacher,link
Лечебный факультет,1101,Химия,exam,test,2027-01-10,10:00,60,,https://a.example.com/x
Лечебный факультет,1101,Химия,consultation,oral,2027-01-09,10:00,60,,https://a.example.com/y
"""
NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # several processes
async def test_replicas_planning_the_same_notices_at_once_keep_each_once(
    engine: AsyncEngine,
) -> None:
    sessionmaker = create_sessionmaker(engine)
    settings = Settings(_env_file=None)
    async with sessionmaker.begin() as session:
        assert (await import_roster(session, "roster.csv", ROSTER.encode())).ok
        assert (await import_schedule(session, "s.csv", SCHEDULE.encode(), ZoneInfo("UTC"))).ok
        for n, student in enumerate(await session.scalars(select(Student))):
            session.add(User(id=700 + n, first_name="S", locale="en"))
            await session.flush()
            student.user_id = 700 + n

    async def start_up() -> int:
        # What each replica does at start: both find the same notices missing.
        async with sessionmaker.begin() as session:
            return (await plan_upcoming(session, NOW, settings)).created

    created = await asyncio.gather(start_up(), start_up())

    async with sessionmaker() as session:
        stored = await session.scalar(select(func.count()).select_from(Notice))
    # One replica planned them all, the other found them planned: none failed, none twice.
    assert stored == 6  # the exam's card and join call, the consultation's call, for each
    assert sorted(created) == [0, 6]
