"""Health and metrics: what an orchestrator (`GET /healthz`) and Prometheus (`GET /metrics`)
read, on a port of their own (METRICS_PORT), in polling and webhook mode alike.

The registry belongs to the Application, not to prometheus_client's global one: a process
(the tests) may build the application more than once. Figures the database holds (notices
by status, the outbox's lag) are read when asked, not kept in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.notify.sender import DrainStats
from bot.services.health import OutboxGauge, outbox_gauge

log = logging.getLogger(__name__)

# A health check that hangs is worse than one that fails: the database gets this long.
DATABASE_TIMEOUT = 3.0


class Metrics:
    """The Application's Prometheus registry and the instruments its parts update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "examinator_updates", "Updates received, by type", ["kind"], registry=self.registry
        )
        self.update_errors = Counter(
            "examinator_update_errors",
            "Updates whose handler raised, by type",
            ["kind"],
            registry=self.registry,
        )
        self.update_seconds = Histogram(
            "examinator_update_seconds", "Time to handle one update", registry=self.registry
        )
        self.webhook_refused = Counter(
            "examinator_webhook_refused",
            "Webhook requests refused for a missing or wrong secret token",
            registry=self.registry,
        )
        self.notices = Gauge(
            "examinator_notices",
            "Notices in the outbox, by status",
            ["status"],
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "examinator_outbox_lag_seconds",
            "Age of the oldest pending notice already due (0: none)",
            registry=self.registry,
        )
        self.database_up = Gauge(
            "examinator_database_up",
            "1 if the database answered the last scrape",
            registry=self.registry,
        )

    def watch_sender(self, stats: Callable[[], DrainStats]) -> None:
        """The outbox sender keeps its own tallies; they are read at scrape time."""
        self.registry.register(_SenderCollector(stats))

    def show_outbox(self, gauge: OutboxGauge | None) -> None:
        self.database_up.set(0 if gauge is None else 1)
        if gauge is None:
            return
        for status, count in gauge.counts.items():
            self.notices.labels(status).set(count)
        self.outbox_lag.set(gauge.lag_seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _SenderCollector:
    def __init__(self, stats: Callable[[], DrainStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self._stats()
        yield CounterMetricFamily(
            "examinator_telegram_429",
            "429 answers (flood control) the outbox sender got from Telegram",
            value=stats.throttled,
        )
        yield CounterMetricFamily(
            "examinator_notices_sent", "Notices delivered by this process", value=stats.sent
        )
        yield CounterMetricFamily(
            "examinator_notices_failed",
            "Notices this process gave up on (recorded as failed)",
            value=stats.failed,
        )


@dataclass(frozen=True)
class Health:
    database: bool
    sender_alive: bool
    lag_seconds: float
    pending: int

    @property
    def ok(self) -> bool:
        return self.database and self.sender_alive

    def as_json(self) -> dict[str, Any]:
        return {
            "database": "ok" if self.database else "error",
            "sender": "alive" if self.sender_alive else "stopped",
            "outbox_lag_seconds": round(self.lag_seconds, 3),
            "pending": self.pending,
        }


class Monitor:
    """The /healthz and /metrics server; started with the bot, stopped with it."""

    def __init__(
        self,
        metrics: Metrics,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        sender_alive: Callable[[], bool],
    ) -> None:
        self.metrics = metrics
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._sender_alive = sender_alive
        self._runner: web.AppRunner | None = None

    async def outbox(self) -> OutboxGauge | None:
        """The outbox's figures, or None when the database does not answer in time."""
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT), self._sessionmaker() as session:
                return await outbox_gauge(session, self._clock.now())
        except Exception as exc:
            log.warning("health check: the database did not answer (%s)", type(exc).__name__)
            return None

    async def health(self) -> Health:
        gauge = await self.outbox()
        return Health(
            database=gauge is not None,
            sender_alive=self._sender_alive(),
            lag_seconds=gauge.lag_seconds if gauge is not None else 0.0,
            pending=gauge.pending if gauge is not None else 0,
        )

    async def _healthz(self, _request: web.Request) -> web.Response:
        health = await self.health()
        return web.json_response(health.as_json(), status=200 if health.ok else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        self.metrics.show_outbox(await self.outbox())
        return web.Response(
            body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4}
        )

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self, host: str, port: int) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.web_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
