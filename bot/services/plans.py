"""Individual study plans as stored: a student's disciplines for /plan, and the students
whose plans hold more distance-learning hours than the regulation allows.

Plans are written by the plan import (`bot.services.imports`); their deadline reminders
are planned in `bot.services.reminders`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import PlanItem, Student
from bot.domain.plans import PlanHours, ShareExcess, share_excess


def plan_hours(item: PlanItem) -> PlanHours:
    return PlanHours(
        lecture=item.lecture_hours,
        lab=item.lab_hours,
        practice=item.practice_hours,
        distance=item.distance_hours,
        level=item.programme_level,
        limit=item.distance_limit,
    )


async def student_plan(session: AsyncSession, student_id: int) -> list[PlanItem]:
    """The student's disciplines, the nearest deadline first."""
    items = await session.scalars(
        select(PlanItem)
        .where(PlanItem.student_id == student_id)
        .order_by(PlanItem.deadline, PlanItem.discipline, PlanItem.id)
    )
    return list(items)


async def distance_excesses(
    session: AsyncSession, student_ids: Collection[int], default_limit: float
) -> list[ShareExcess]:
    """Of these students, those whose whole plan (not only the rows of one file) is over
    the distance-learning limit that applies to it; in record-book order."""
    if not student_ids:
        return []
    rows = await session.execute(
        select(Student.record_book, Student.full_name, PlanItem)
        .join(PlanItem, PlanItem.student_id == Student.id)
        .where(Student.id.in_(student_ids))
        .execution_options(populate_existing=True)
    )
    plans: dict[tuple[str, str], list[PlanHours]] = defaultdict(list)
    for record_book, full_name, item in rows:
        plans[record_book, full_name].append(plan_hours(item))
    excesses = (
        share_excess(record_book, full_name, items, default=default_limit)
        for (record_book, full_name), items in sorted(plans.items())
    )
    return [excess for excess in excesses if excess is not None]
