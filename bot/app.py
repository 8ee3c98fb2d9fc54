"""The only wiring place: builds the Bot, Dispatcher, storage and database from Settings."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from io import BytesIO
from typing import Any, ClassVar

import certifi
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.methods import Response, TelegramMethod
from aiogram.utils.i18n import I18n
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.botapi import BotApiUnavailable, check_bot_api
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.fsm import SQLAlchemyStorage, WritesNoted
from bot.db.locks import one_replica
from bot.db.migrate import upgrade
from bot.db.models import ProcessedUpdate, utcnow
from bot.handlers import setup_routers
from bot.i18n import DOMAIN, LOCALES, compile_catalogs
from bot.middlewares import observe
from bot.middlewares.actor import ActorMiddleware
from bot.middlewares.flood import FloodMiddleware
from bot.middlewares.i18n import ActorI18nMiddleware
from bot.middlewares.unit_of_work import InFlight, UnitOfWorkMiddleware
from bot.monitoring import Metrics, Monitor
from bot.notify.chores import Chores
from bot.notify.edits import EditCoalescer
from bot.notify.keeper import FileKeeper
from bot.notify.mail import Mailer
from bot.notify.menus import CommandMenus
from bot.notify.pacing import PacingMiddleware, RateLimiter
from bot.notify.progress import ProgressReporter
from bot.notify.retry import RetryMiddleware
from bot.notify.sender import OutboxSender
from bot.notify.stored_replies import ReplyStore
from bot.polling import ConfirmingDispatcher
from bot.services.outbox import Outbox
from bot.services.reminders import plan_upcoming
from bot.services.semester import retention_due, run_retention
from bot.webapp.server import WebApp, WebAppServer
from bot.webhook import WebhookServer, set_webhook, stop_on_signals

log = logging.getLogger(__name__)

# Telegram re-sends unconfirmed updates for at most a day; two are kept to be safe.
PROCESSED_UPDATES_KEPT = timedelta(days=2)


def create_i18n(settings: Settings) -> I18n:
    compile_catalogs()
    return I18n(path=LOCALES, default_locale=settings.default_locale, domain=DOMAIN)


@functools.cache
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


class PinResponseTypes(BaseRequestMiddleware):
    """Keeps aiogram's parametrised response models alive. aiogram validates every answer
    with `Response[method.__returning__]`, and pydantic caches those classes only weakly:
    once collected, the next answer builds its model again (a few milliseconds of schema
    building, on every few sends of a busy bot). One set per process; a few dozen types."""

    _pinned: ClassVar[dict[Any, type]] = {}

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Response[Any]:
        returning = method.__returning__
        if returning not in self._pinned:
            self._pinned[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


def create_bot(
    settings: Settings, *, retry: bool = True, limiter: RateLimiter | None = None
) -> Bot:
    """`retry`: wait out 429s per request (replies; the outbox sender retries itself).
    `limiter`: the bot's one RateLimiter, which every message sent through this Bot
    waits for (build_application makes one, shared by all its Bots)."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else AiohttpSession()
    )
    # aiogram parses the CA bundle into a TLS context of its own for every session (~0.5 MB
    # each, and the bot runs four or five Bots): they all share one.
    connector = getattr(session, "_connector_init", None)
    if isinstance(connector, dict) and isinstance(connector.get("ssl"), ssl.SSLContext):
        connector["ssl"] = tls_context()
    session.middleware(PinResponseTypes())
    if retry:
        session.middleware(RetryMiddleware())
    if limiter is not None:  # inside the retries: each attempt waits for a slot
        session.middleware(PacingMiddleware(limiter))
    return Bot(
        token=settings.token(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def create_storage(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

        storage = RedisStorage.from_url(settings.redis_url)
        return WritesNoted(storage), RedisEventIsolation(storage.redis)
    return SQLAlchemyStorage(sessionmaker), SimpleEventIsolation()


@dataclass
class Application:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    bot: Bot
    dispatcher: Dispatcher
    i18n: I18n
    sender: OutboxSender
    in_flight: InFlight = field(default_factory=InFlight)
    prepared: bool = False
    keeper: FileKeeper | None = None
    progress: ProgressReporter | None = None
    chores: Chores | None = None
    _sender_task: asyncio.Task[None] | None = None
    _chores_task: asyncio.Task[None] | None = None
    # Prometheus instruments in a registry of this application's own (tests build several).
    metrics: Metrics = field(default_factory=Metrics)
    monitor: Monitor | None = None
    # The roll's redraws, paced per chat (bot.notify.edits).
    edits: EditCoalescer = field(default_factory=EditCoalescer)
    # The updates' answers kept in the outbox (bot.notify.stored_replies).
    replies: ReplyStore | None = None
    _stop_webhook: asyncio.Event = field(default_factory=asyncio.Event)
    # The Mini App (WEBAPP_URL set): its routes, and in polling mode its own server.
    webapp: WebApp | None = None
    webapp_server: WebAppServer | None = None

    async def prepare(self) -> None:
        """Migrations and housekeeping; before the first update (once)."""
        if self.prepared:
            return
        self.prepared = True
        await upgrade(self.engine)
        async with self.sessionmaker.begin() as session:
            # Wall-clock time, like the rows' own stamps: Telegram's horizon is real time.
            cutoff = utcnow() - PROCESSED_UPDATES_KEPT
            await session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
            )
        # Catch up: exams imported by the CLI, or changed while the bot was down.
        async with self.sessionmaker.begin() as session:
            report = await plan_upcoming(
                session, self.dispatcher["clock"].now(), self.settings, outbox=Outbox()
            )
        log.info("outbox planned at start: %d new, %d cancelled", report.created, report.cancelled)

    def start_sender(self) -> None:
        if self._sender_task is None:
            self._sender_task = asyncio.create_task(self.sender.run(), name="outbox-sender")
        if self.chores is not None and self._chores_task is None:
            self._chores_task = asyncio.create_task(self.chores.run(), name="chores")

    async def stop_sender(self) -> None:
        if self._sender_task is not None:
            self.sender.stop()
            await self._sender_task
            self._sender_task = None
        if self.chores is not None and self._chores_task is not None:
            self.chores.stop()
            await self._chores_task
            self._chores_task = None

    @property
    def sender_alive(self) -> bool:
        return self._sender_task is not None and not self._sender_task.done()

    async def run(self, *, handle_signals: bool = True) -> None:
        """A webhook server when WEBHOOK_URL is set, long polling otherwise; first the
        Bot API is asked who we are (a wrong token or address ends here, see bot.botapi)."""
        try:
            await check_bot_api(self.bot, self.settings)
        except BotApiUnavailable:
            await self.bot.session.close()
            await self.close()
            raise
        if self.settings.webhook_url:
            await self.run_webhook(handle_signals=handle_signals)
        else:
            await self.run_polling(handle_signals=handle_signals)

    async def run_webhook(self, *, handle_signals: bool = True) -> None:
        """Serves Telegram's webhook calls until SIGTERM (or stop_webhook()); see bot.webhook."""
        server = WebhookServer(
            self.dispatcher,
            self.bot,
            settings=self.settings,
            metrics=self.metrics,
            webapp=self.webapp,
        )
        await self.prepare()
        with stop_on_signals(self._stop_webhook, enabled=handle_signals):
            try:
                await server.start()  # the dispatcher's startup: commands, sender, chores
                await set_webhook(self.bot, self.dispatcher, self.settings)
                await self._stop_webhook.wait()
            finally:
                await server.stop()  # calls in progress answered, then the shutdown
                await self.bot.session.close()
                await self.close()

    def stop_webhook(self) -> None:
        self._stop_webhook.set()

    async def run_polling(self, *, handle_signals: bool = True) -> None:
        await self.prepare()
        try:
            await self.dispatcher.start_polling(
                self.bot,
                polling_timeout=self.settings.polling_timeout,
                handle_signals=handle_signals,
                allowed_updates=self.dispatcher.resolve_used_update_types(),
            )
        finally:
            await self.close()

    async def start_webapp(self) -> None:
        """Polling mode: the Mini App's own server (webhook mode serves it with the webhook)."""
        if self.webapp is not None and not self.settings.webhook_url and not self.webapp_server:
            self.webapp_server = WebAppServer(self.webapp)
            await self.webapp_server.start()

    async def stop_webapp(self) -> None:
        if self.webapp_server is not None:
            await self.webapp_server.stop()
            self.webapp_server = None

    async def close(self) -> None:
        await self.stop_webapp()
        await self.edits.close()
        await self.stop_sender()
        if self.monitor is not None:
            await self.monitor.stop()
        await self.sender.close()
        if self.keeper is not None:
            await self.keeper.close()
        if self.progress is not None:
            await self.progress.close()
        # Last but the database: every update has finished with its dialogue state.
        await self.dispatcher.fsm.close()
        await self.engine.dispose()


def build_application(settings: Settings, clock: Clock | None = None) -> Application:
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    storage, isolation = create_storage(settings, sessionmaker)
    i18n = create_i18n(settings)
    in_flight = InFlight()
    the_clock = clock or SystemClock()
    dispatcher = ConfirmingDispatcher(
        storage=storage,
        events_isolation=isolation,
        settings=settings,
        clock=the_clock,
        sessionmaker=sessionmaker,
        i18n=i18n,
    )
    # One pace for every Bot: replies, notices and reports count against the same limits.
    limiter = RateLimiter(settings.send_rate, settings.chat_interval)
    smtp = settings.smtp
    # Its own Bot, like the keeper's: downloading a letter's documents must not queue
    # behind notices (and getFile is not a message: no SEND_RATE slot is taken).
    mailer = (
        Mailer(
            smtp,
            settings.mail_from,
            bot=create_bot(settings, retry=False, limiter=limiter),
            files_dir=settings.files_dir,
            clock=the_clock,
        )
        if smtp is not None
        else None
    )
    sender = OutboxSender(
        create_bot(settings, retry=False, limiter=limiter),
        sessionmaker,
        clock=the_clock,
        settings=settings,
        i18n=i18n,
        mailer=mailer,
        limiter=limiter,
    )
    # Its own Bot (session): downloads must not queue behind replies or notices.
    keeper = FileKeeper(create_bot(settings, retry=False, limiter=limiter), sessionmaker, settings)

    def planned() -> None:
        sender.wake()
        chores.wake()  # a statement, a work or an announcement came in with its notices

    metrics = Metrics()
    # Outermost of ours: every update is counted, timed and logged, even one dropped below.
    observe.setup(dispatcher, metrics)
    # First: a flood is dropped before it costs a database transaction.
    dispatcher.update.outer_middleware(FloodMiddleware(settings.flood_limit, settings.flood_window))
    edits = EditCoalescer(settings.edit_interval)
    replies = ReplyStore(sessionmaker, the_clock, sender)
    dispatcher.update.outer_middleware(
        UnitOfWorkMiddleware(
            sessionmaker,
            in_flight,
            on_planned=planned,
            outbox=replies,
            edits=edits,
        )
    )
    dispatcher.update.outer_middleware(ActorMiddleware(settings))
    ActorI18nMiddleware(i18n).setup(dispatcher)
    dispatcher.include_router(setup_routers())
    bot = create_bot(settings, limiter=limiter)
    # The replies' Bot: its request middleware waits out a 429 (few calls, at start and
    # when a role changes).
    menus = CommandMenus(bot, sessionmaker, i18n=i18n, settings=settings)
    dispatcher["menus"] = menus
    app = Application(
        settings,
        engine,
        sessionmaker,
        bot,
        dispatcher,
        i18n,
        sender,
        in_flight,
        metrics=metrics,
        edits=edits,
        replies=replies,
    )
    if settings.webapp_url:

        async def fetch_file(file_id: str) -> bytes:
            """A statement document the keeper has not stored yet, asked of Telegram."""
            buffer = BytesIO()
            await bot.download(file_id, destination=buffer)
            return buffer.getvalue()

        app.webapp = WebApp(
            settings, sessionmaker, bot, the_clock, i18n, edits, wake=planned, fetch_file=fetch_file
        )
    metrics.watch_sender(lambda: sender.stats)
    app.monitor = Monitor(
        metrics, sessionmaker, clock=the_clock, sender_alive=lambda: app.sender_alive
    )
    progress = ProgressReporter(
        create_bot(settings, retry=False, limiter=limiter),
        sessionmaker,
        settings=settings,
        i18n=i18n,
        clock=the_clock,
    )

    async def retention() -> int:
        async with sessionmaker.begin() as session:
            semester = await retention_due(session, the_clock.now(), settings.tz)
            if semester is None:
                return 0
            await run_retention(
                session, semester, the_clock.now(), settings=settings, outbox=Outbox()
            )
        sender.wake()
        return 1

    chores = Chores(
        [
            ("keep files", keeper.run_once),
            ("progress", progress.run_once),
            ("retention", retention),
        ],
        guard=functools.partial(one_replica, engine),
    )
    app.keeper = keeper
    app.progress = progress
    app.chores = chores

    async def on_startup(bot: Bot) -> None:
        await menus.set_start_menus()
        menus.start()  # the staff chats' menus, in the background
        app.start_sender()
        await app.start_webapp()
        if settings.metrics_port and app.monitor is not None:
            await app.monitor.start(settings.metrics_host, settings.metrics_port)

    async def on_shutdown() -> None:
        await app.stop_webapp()  # no new taps; those answered are committed
        await wait_for_handlers(app)
        await app.edits.close()  # a redraw not out by now: before the Bot's session closes
        await menus.close()
        await app.stop_sender()

    dispatcher.startup.register(on_startup)
    dispatcher.shutdown.register(on_shutdown)
    return app


async def wait_for_handlers(app: Application) -> None:
    """Polling has stopped: let handlers already running finish before the database closes."""
    if isinstance(app.dispatcher, ConfirmingDispatcher):
        # Whole update tasks, cancelled past the grace: none runs on into closed sessions.
        await app.dispatcher.finish_updates(app.settings.shutdown_grace_seconds)
    if app.in_flight.count:
        log.info("waiting for %d running update(s) to finish", app.in_flight.count)
    try:
        async with asyncio.timeout(app.settings.shutdown_grace_seconds):
            await app.in_flight.wait_idle()
    except TimeoutError:
        log.warning("%d update(s) still running at shutdown", app.in_flight.count)
    try:
        # The roll's last redraw: its marks are kept, but the teacher should see them.
        async with asyncio.timeout(app.settings.edit_interval + 5):
            await app.edits.wait_idle()
    except TimeoutError:
        log.warning("the last redraws of a roll did not go out before shutdown")
    if app.replies is not None:
        # Before the sender's journal closes: a reply sent and not settled would go again.
        try:
            async with asyncio.timeout(10):
                await app.replies.settled()
        except TimeoutError:
            log.warning("replies sent before shutdown not settled: they may go again")
