"""One log line and one measurement per update: its type, who sent it (the id only), which
handler took it, how long it took and how it ended — counted for /metrics too. Never a
message's text or a name: logs leave the machine.

The outermost of ours, so an update the flood limit drops or a re-sent one is seen too.
The handler's name comes from an inner middleware on every event type, where aiogram
knows which handler it chose; the outer one only sees the update go in and come out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import TelegramObject, Update, User

from bot.monitoring import Metrics

log = logging.getLogger("bot.updates")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
TRACE_KEY = "update_trace"


@dataclass
class UpdateTrace:
    handler: str | None = None


class UpdateObserver(BaseMiddleware):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        kind = _kind(event)
        trace = data[TRACE_KEY] = UpdateTrace()
        started = time.perf_counter()
        outcome = "cancelled"  # stays so only if the task is cancelled (shutdown)
        try:
            result = await handler(event, data)
        except Exception:
            outcome = "error"
            raise
        else:
            if result is UNHANDLED:
                outcome = "unhandled"
            else:
                # No handler chosen: the flood limit dropped it, or it was handled before.
                outcome = "handled" if trace.handler else "skipped"
            return result
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.updates.labels(kind).inc()
            self._metrics.update_seconds.observe(elapsed)
            if outcome == "error":
                self._metrics.update_errors.labels(kind).inc()
            user: User | None = data.get("event_from_user")
            latency_ms = round(elapsed * 1000, 1)
            log.info(
                "update %s %s from %s: %s by %s in %.1f ms",
                event.update_id,
                kind,
                user.id if user else "-",
                outcome,
                trace.handler or "-",
                latency_ms,
                extra={
                    "update_id": event.update_id,
                    "update_type": kind,
                    "user_id": user.id if user else None,
                    "handler": trace.handler,
                    "latency_ms": latency_ms,
                    "outcome": outcome,
                },
            )


class HandlerTrace(BaseMiddleware):
    """Inner: notes the handler aiogram chose (its filters passed) on the update's trace."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        trace: UpdateTrace | None = data.get(TRACE_KEY)
        chosen = data.get("handler")
        if trace is not None and isinstance(chosen, HandlerObject):
            callback = chosen.callback
            name = getattr(callback, "__qualname__", type(callback).__qualname__)
            trace.handler = f"{getattr(callback, '__module__', '?')}.{name}"
        return await handler(event, data)


def _kind(update: Update) -> str:
    try:
        return update.event_type
    except Exception:  # a type newer than this aiogram knows
        return "unknown"


def setup(dispatcher: Dispatcher, metrics: Metrics) -> None:
    """Before the other outer middlewares; inner ones on the dispatcher reach every router."""
    dispatcher.update.outer_middleware(UpdateObserver(metrics))
    trace = HandlerTrace()
    for name, observer in dispatcher.observers.items():
        # "update" is the dispatcher's own dispatching, "error" runs after we are done.
        if name not in {"update", "error"}:
            observer.middleware(trace)
