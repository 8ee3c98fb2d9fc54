"""Webhook mode: the aiohttp server Telegram posts updates to (WEBHOOK_URL, behind a TLS
proxy that may spread the calls over several replicas).

- A call without the right `X-Telegram-Bot-Api-Secret-Token` is refused (401) before its
  body is read: nothing is handled, nothing is stored.
- A call is answered once its update is handled and committed, not in the background: if
  the process dies half-way, Telegram sends the update again (to this replica or another)
  and the processed-updates table keeps it from being handled twice.
- Stopping: no new calls are taken, calls in progress get SHUTDOWN_GRACE_SECONDS to
  answer, then the dispatcher's shutdown runs (as after polling).
- Every replica sets the same webhook at start (idempotent); none deletes it when it
  stops, since the others go on serving it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNetworkError, TelegramServerError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.config import ConfigError, Settings
from bot.middlewares.unit_of_work import InFlight
from bot.monitoring import Metrics
from bot.webapp.server import WebApp, add_routes

log = logging.getLogger(__name__)


def webhook_target(settings: Settings) -> tuple[str, str]:
    """(url, secret), or a one-line ConfigError; Settings already insists on the pair."""
    if not settings.webhook_url or settings.webhook_secret is None:
        raise ConfigError(
            "Configuration error: WEBHOOK_URL and WEBHOOK_SECRET are both required for webhooks"
        )
    return settings.webhook_url, settings.webhook_secret.get_secret_value()


class WebhookServer:
    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        settings: Settings,
        metrics: Metrics,
        webapp: WebApp | None = None,
    ) -> None:
        _url, secret = webhook_target(settings)
        self._settings = settings
        self._metrics = metrics
        self._requests = InFlight()
        self._calls: set[asyncio.Task[object]] = set()  # the requests' tasks, while they run
        handler = SimpleRequestHandler(
            dispatcher, bot, handle_in_background=False, secret_token=secret
        )
        app = web.Application(middlewares=[self._watch])
        # Routed by hand, not with handler.register(): that would close the bot's session in
        # the shutdown signal, before calls still running have sent their replies.
        app.router.add_post(settings.webhook_path, handler.handle)
        if webapp is not None:  # the Mini App is served by the same server
            add_routes(app, webapp)
        # The dispatcher's startup and shutdown (commands, outbox sender, chores) run with
        # the server's, exactly as around polling.
        setup_application(app, dispatcher, bot=bot)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=settings.shutdown_grace_seconds
        )

    @web.middleware
    async def _watch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._calls.add(task)
        try:
            with self._requests:
                response = await handler(request)
        finally:
            if task is not None:
                self._calls.discard(task)
        if response.status == 401 and request.path == self._settings.webhook_path:
            self._metrics.webhook_refused.inc()
            log.warning("webhook call refused: missing or wrong secret token")
        return response

    async def start(self) -> None:
        """Runs the dispatcher's startup, then listens."""
        await self._runner.setup()
        settings = self._settings
        site = web.TCPSite(self._runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        log.info(
            "Webhook server listening on %s:%d%s",
            settings.webhook_host,
            settings.webhook_port,
            settings.webhook_path,
        )

    async def stop(self) -> None:
        for site in list(self._runner.sites):
            await site.stop()  # no new calls; the proxy sends them to another replica
        grace = self._settings.shutdown_grace_seconds
        if self._requests.count:
            log.info("waiting for %d webhook call(s) to be answered", self._requests.count)
        try:
            async with asyncio.timeout(grace):
                await self._requests.wait_idle()
        except TimeoutError:
            # Cut short now, while the storage, the database and the Bot are open: rolled
            # back and not answered, so Telegram sends them again (here or to a replica).
            # Left running, they went on through the shutdown into closed sessions.
            cut = set(self._calls)
            log.warning("%d webhook call(s) cut short at shutdown", len(cut))
            for task in cut:
                task.cancel()
            await asyncio.gather(*cut, return_exceptions=True)
        log.info("Webhook server stopped")
        await self._runner.cleanup()  # the dispatcher's shutdown


async def set_webhook(bot: Bot, dispatcher: Dispatcher, settings: Settings) -> None:
    url, secret = webhook_target(settings)
    try:
        await bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
            drop_pending_updates=False,
        )
    except (TelegramNetworkError, TelegramServerError):
        # Telegram keeps the webhook set before (by an earlier start, or another replica);
        # a refused URL (400) is a configuration error and does stop the start.
        log.exception("could not set the webhook now; Telegram keeps the one it has")
    else:
        log.info("webhook set: %s", url)


@contextmanager
def stop_on_signals(stop: asyncio.Event, *, enabled: bool = True) -> Iterator[None]:
    """SIGTERM and SIGINT set `stop` while inside (kept through the shutdown, so a second
    signal does not kill the process half-way)."""
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []

    def received(sig: signal.Signals) -> None:
        log.warning("Received %s signal", sig.name)
        stop.set()

    if enabled:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError):  # no signal handlers on Windows
                loop.add_signal_handler(sig, received, sig)
                handled.append(sig)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
