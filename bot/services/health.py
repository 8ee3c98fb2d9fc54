"""The outbox at a glance for machines (/healthz, /metrics): notices by status and how late
the oldest due one is. Cheap enough to ask every few seconds (the status/due index)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Notice, NoticeStatus


@dataclass(frozen=True)
class OutboxGauge:
    counts: dict[str, int]  # every status, zero included
    lag_seconds: float  # age of the oldest pending notice already due; 0 if none

    @property
    def pending(self) -> int:
        return self.counts[NoticeStatus.PENDING.value]


async def outbox_gauge(session: AsyncSession, now: datetime) -> OutboxGauge:
    counts = {status.value: 0 for status in NoticeStatus}
    for status, count in await session.execute(
        select(Notice.status, func.count()).group_by(Notice.status)
    ):
        counts[status] = count
    oldest = await session.scalar(
        select(func.min(Notice.due_at)).where(
            Notice.status == NoticeStatus.PENDING, Notice.due_at <= now
        )
    )
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return OutboxGauge(counts, lag)
