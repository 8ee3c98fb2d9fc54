"""The Mini App's aiohttp side: static files, and the JSON API's request cycle.

Every API request: its initData checked (401 otherwise), the caller resolved to the same
roles as in chat (without writing anything for a stranger), one transaction, commit,
then speak: the sender is woken for the notices the request queued, and the edits it
asked for (the roll's message in chat) go to the edit coalescer, as a chat tap's do.
Refusals are JSON `{"error": text}` in the caller's language: 400 bad input, 401 who
is this, 403 not yours.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.utils.i18n import I18n
from aiohttp import web

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession, async_sessionmaker
from bot.domain.language import locale_for
from bot.notify.edits import EditCoalescer
from bot.services.actors import Actor, find_actor
from bot.services.outbox import Outbox
from bot.views.html import plain
from bot.webapp.auth import AuthError, WebUser, authorization_data, check_init_data

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
API = "/app/api"


@dataclass
class WebApp:
    """What the API's handlers need, built once by the wiring (bot.app)."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    bot: Bot
    clock: Clock
    i18n: I18n
    edits: EditCoalescer
    wake: Callable[[], None] = lambda: None
    # Downloads a statement document Telegram still holds but FILES_DIR does not.
    fetch_file: Callable[[str], Awaitable[bytes]] | None = None


WEBAPP = web.AppKey("webapp", WebApp)


class ApiError(Exception):
    """A refusal: `status` and a text already in the caller's language."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass
class Call:
    """One API request: who asks, in which language, in which transaction; and what it
    says to Telegram after its commit."""

    request: web.Request
    app: WebApp
    user: WebUser
    actor: Actor | None
    session: AsyncSession
    locale: str
    edits: list[tuple[Bot, TelegramMethod[Any]]] = field(default_factory=list)
    # The notices this request plans (bot.services.outbox): the sender is woken after
    # the commit if there are any.
    outbox: Outbox = field(default_factory=Outbox)
    # Set by a handler that must leave nothing written (an import's dry run).
    dry_run: bool = False

    @property
    def settings(self) -> Settings:
        return self.app.settings

    def after_commit_edit(self, method: TelegramMethod[Any]) -> None:
        self.edits.append((self.app.bot, method))

    async def json(self) -> dict[str, Any]:
        try:
            body = await self.request.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, self.app.i18n.gettext("Bad request.", locale=self.locale))
        return body


ApiHandler = Callable[[Call], Awaitable[web.StreamResponse | dict[str, Any]]]


def error(status: int, text: str) -> web.Response:
    """Plain text: some of the chat's refusals are HTML (a number in bold), the page's
    script shows text."""
    return web.json_response({"error": plain(text)}, status=status)


@contextmanager
def speaking(i18n: I18n, locale: str) -> Iterator[None]:
    """gettext in `locale` (services and views read aiogram's I18n context)."""
    with i18n.context(), i18n.use_locale(locale):
        yield


def api(handler: ApiHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def route(request: web.Request) -> web.StreamResponse:
        app = request.app[WEBAPP]
        settings = app.settings
        try:
            user = check_init_data(
                settings.token(),
                authorization_data(request.headers.get("Authorization")),
                app.clock.now(),
                max_age=timedelta(seconds=settings.webapp_auth_max_age),
            )
        except AuthError as exc:
            log.info("web app request refused: %s", exc.reason)
            locale = settings.default_locale
            with speaking(app.i18n, locale):
                return error(401, app.i18n.gettext("Please open this page from Telegram again."))
        async with app.sessionmaker() as session:
            actor = await find_actor(session, user.id, settings.admin_ids)
            locale = actor.locale if actor is not None else locale_for(user.language_code)
            call = Call(request, app, user, actor, session, locale)
            with speaking(app.i18n, locale):
                try:
                    result = await handler(call)
                except ApiError as exc:
                    await session.rollback()
                    return error(exc.status, exc.text)
                except Exception:
                    log.exception("web app request %s %s failed", request.method, request.path)
                    await session.rollback()
                    return error(500, app.i18n.gettext("Something went wrong. Try again."))
            if call.dry_run:
                await session.rollback()
                return _answer(result)
            await session.commit()
        if call.outbox.wakes_sender:
            app.wake()
        for bot, method in call.edits:
            app.edits.submit(bot, method)
        return _answer(result)

    return route


def _answer(result: web.StreamResponse | dict[str, Any]) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    return web.json_response(result, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def index(request: web.Request) -> web.StreamResponse:
    page = STATIC / "index.html"
    if not page.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application, webapp: WebApp) -> None:
    """The Mini App's routes, on the webhook server's application or on its own."""
    from bot.webapp import routes  # the handlers import the services: only when served

    app[WEBAPP] = webapp
    app.router.add_get("/", index)
    app.router.add_get("/app/", index)
    app.router.add_get("/app", index)
    if STATIC.is_dir():  # the front end's files (index.html, scripts, styles)
        app.router.add_static("/app/static/", STATIC, follow_symlinks=False)
    routes.register(app.router)


class WebAppServer:
    """Polling mode: the Mini App on WEBAPP_HOST:WEBAPP_PORT, a server of its own."""

    def __init__(self, webapp: WebApp) -> None:
        self._webapp = webapp
        app = web.Application(client_max_size=webapp.settings.max_upload_bytes + 64 * 1024)
        add_routes(app, webapp)
        # A stop waits for the calls in progress as long as the updates' grace, not
        # aiohttp's default minute.
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=webapp.settings.shutdown_grace_seconds
        )
        self.port: int | None = None

    async def start(self) -> None:
        settings = self._webapp.settings
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.webapp_host, settings.webapp_port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else settings.webapp_port
        log.info("Mini App listening on %s:%d", settings.webapp_host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()
