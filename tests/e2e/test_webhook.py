"""Webhook mode: Telegram posts updates to the bot's own server (the secret token decides
who may), /healthz and /metrics beside it, JSON logs, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from pydantic import SecretStr

from bot.app import Application, build_application
from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import Notice, NoticeStatus, ProcessedUpdate
from bot.logs import log_handler
from bot.services.health import outbox_gauge
from tests.e2e.conftest import TOKEN, BotRunner, MovableClock, say
from tests.e2e.fakeapi import FakeBotAPI

SECRET = "webhook_Secret-42"
PUBLIC_URL = "https://bot.example.org/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def help_update(update_id: int, user_id: int) -> dict[str, Any]:
    """A /help message, as Telegram posts it to a webhook."""
    user = {"id": user_id, "is_bot": False, "first_name": "Anna", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_800_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Anna"},
            "from": user,
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_url": PUBLIC_URL,
            "webhook_secret": SecretStr(SECRET),
            "webhook_host": "127.0.0.1",
            "webhook_port": free_port(),
            "metrics_port": free_port(),
            "shutdown_grace_seconds": 5.0,
        }
    )


@dataclass
class WebhookBot:
    app: Application
    task: asyncio.Task[None]
    http: aiohttp.ClientSession

    def _url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{port}{path}"

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        settings = self.app.settings
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        url = self._url(settings.webhook_port, settings.webhook_path)
        async with self.http.post(url, json=update, headers=headers) as response:
            await response.read()
            return response.status

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self._url(self.app.settings.metrics_port, path)) as response:
            return response.status, await response.text()

    async def processed(self, update_id: int) -> bool:
        async with self.app.sessionmaker() as session:
            return await session.get(ProcessedUpdate, update_id) is not None


async def start_webhook(api: FakeBotAPI, app: Application) -> asyncio.Task[None]:
    """Runs the app as `python -m bot run` would; returns once the webhook is set (the
    server listens by then)."""
    after = api.mark()
    task = asyncio.create_task(app.run(handle_signals=False))
    set_call = asyncio.create_task(api.wait_for("setWebhook", after=after, timeout=10))
    await asyncio.wait({task, set_call}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        set_call.cancel()
        task.result()  # raises what stopped it
        raise AssertionError("the webhook server stopped at start")
    await set_call
    return task


@pytest_asyncio.fixture
async def webhook(
    api: FakeBotAPI, webhook_settings: Settings, clock: MovableClock
) -> AsyncIterator[WebhookBot]:
    app = build_application(webhook_settings, clock=clock)
    task = await start_webhook(api, app)
    try:
        async with aiohttp.ClientSession() as http:
            yield WebhookBot(app, task, http)
    finally:
        app.stop_webhook()
        await task


async def test_the_webhook_is_set_and_an_update_is_answered(
    api: FakeBotAPI, webhook: WebhookBot
) -> None:
    assert api.webhook is not None
    assert api.webhook["url"] == PUBLIC_URL
    assert api.webhook["secret_token"] == SECRET
    assert api.webhook["drop_pending_updates"] is False
    assert {"message", "callback_query", "my_chat_member"} <= set(api.webhook["allowed_updates"])

    assert await webhook.post(help_update(101, 9301)) == 200
    # Answered once handled and committed: the reply is out and the update recorded.
    reply = await api.next_message(9301, timeout=1)
    assert reply["text"].startswith("What I can do")
    assert await webhook.processed(101)
    assert not [c for c in api.calls if c.method == "getUpdates"]


async def test_a_call_without_the_right_secret_is_refused_and_never_handled(
    api: FakeBotAPI, webhook: WebhookBot
) -> None:
    assert await webhook.post(help_update(201, 9302), secret="wrong") == 401
    assert await webhook.post(help_update(202, 9302), secret=None) == 401
    assert await webhook.post(help_update(203, 9302), secret=SECRET[:-1]) == 401
    await asyncio.sleep(0.05)  # anything handled in the background would show by now
    assert api.delivered(9302) == []
    for update_id in (201, 202, 203):
        assert not await webhook.processed(update_id)
    _status, metrics = await webhook.get("/metrics")
    assert "examinator_webhook_refused_total 3.0" in metrics
    assert 'examinator_updates_total{kind="message"}' not in metrics


async def test_healthz_and_metrics(api: FakeBotAPI, webhook: WebhookBot) -> None:
    status, body = await webhook.get("/healthz")
    assert status == 200, body
    assert json.loads(body) == {
        "database": "ok",
        "sender": "alive",
        "outbox_lag_seconds": 0,
        "pending": 0,
    }

    assert await webhook.post(help_update(301, 9303)) == 200
    status, metrics = await webhook.get("/metrics")
    assert status == 200
    assert 'examinator_updates_total{kind="message"} 1.0' in metrics
    assert "examinator_update_seconds_count 1.0" in metrics
    assert 'examinator_notices{status="pending"} 0.0' in metrics
    assert "examinator_telegram_429_total 0.0" in metrics
    assert "examinator_notices_sent_total 0.0" in metrics
    assert "examinator_notices_failed_total 0.0" in metrics
    assert "examinator_database_up 1.0" in metrics

    await webhook.app.stop_sender()
    status, body = await webhook.get("/healthz")
    assert status == 503
    assert json.loads(body)["sender"] == "stopped"


async def test_healthz_fails_when_the_database_does_not_answer(
    webhook: WebhookBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(*_args: object) -> None:
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr("bot.monitoring.outbox_gauge", unreachable)
    status, body = await webhook.get("/healthz")
    assert status == 503
    assert json.loads(body) == {
        "database": "error",
        "sender": "alive",
        "outbox_lag_seconds": 0,
        "pending": 0,
    }
    _status, metrics = await webhook.get("/metrics")
    assert "examinator_database_up 0.0" in metrics


async def test_the_update_log_line_is_json_with_ids_and_no_text(
    api: FakeBotAPI, webhook: WebhookBot, caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    handler = log_handler("json", [TOKEN, SECRET], stream)
    root = logging.getLogger()
    caplog.set_level(logging.INFO)
    root.addHandler(handler)
    try:
        assert await webhook.post(help_update(401, 9304)) == 200
        await api.next_message(9304, timeout=1)
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (entry,) = [e for e in lines if e.get("update_id") == 401]
    assert entry["logger"] == "bot.updates"
    assert entry["level"] == "INFO"
    assert entry["update_type"] == "message"
    assert entry["user_id"] == 9304
    assert entry["handler"] == "bot.handlers.common.help.show_help"
    assert entry["outcome"] == "handled"
    assert isinstance(entry["latency_ms"], float)
    assert {"time", "message"} <= set(entry)
    output = stream.getvalue()
    assert "/help" not in output and "Anna" not in output
    assert TOKEN not in output and SECRET not in output


async def test_stopping_lets_a_running_update_finish(
    api: FakeBotAPI,
    webhook_settings: Settings,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.handlers.common import help as help_module

    original = help_module.show_help
    started = asyncio.Event()

    @functools.wraps(original)
    async def slow_help(*args: Any, **kwargs: Any) -> None:
        started.set()
        await asyncio.sleep(0.3)
        await original(*args, **kwargs)

    monkeypatch.setattr(help_module, "show_help", slow_help)
    app = build_application(webhook_settings, clock=clock)
    task = await start_webhook(api, app)
    bot = WebhookBot(app, task, aiohttp.ClientSession())
    try:
        call = asyncio.create_task(bot.post(help_update(501, 9305)))
        await asyncio.wait_for(started.wait(), 5)
        app.stop_webhook()
        assert await call == 200
        await asyncio.wait_for(task, 10)
    finally:
        await bot.http.close()
    assert api.delivered(9305), "the reply of the running update was cut off"
    assert api.webhook is not None  # a replica going away leaves the webhook to the others


async def test_an_update_past_the_grace_is_cut_short_and_handled_when_sent_again(
    api: FakeBotAPI,
    webhook_settings: Settings,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Still in its handler past SHUTDOWN_GRACE_SECONDS: cancelled before the shutdown
    closes anything (not answered, nothing kept, no late reply from the stopped bot, no
    error), and handled once when Telegram sends it again to the next start."""
    from bot.handlers.common import help as help_module

    original = help_module.show_help
    started, opened = asyncio.Event(), asyncio.Event()

    @functools.wraps(original)
    async def held_help(*args: Any, **kwargs: Any) -> None:
        started.set()
        await opened.wait()
        await original(*args, **kwargs)

    monkeypatch.setattr(help_module, "show_help", held_help)
    settings = webhook_settings.model_copy(update={"shutdown_grace_seconds": 0.3})
    app = build_application(settings, clock=clock)
    task = await start_webhook(api, app)
    bot = WebhookBot(app, task, aiohttp.ClientSession())
    update = help_update(502, 9306)
    try:
        call = asyncio.create_task(bot.post(update))
        await asyncio.wait_for(started.wait(), 5)
        app.stop_webhook()
        await asyncio.wait_for(task, 10)
        with pytest.raises(aiohttp.ClientError):  # not answered: Telegram sends it again
            await call
    finally:
        await bot.http.close()
    opened.set()  # too late: the stopped bot says nothing more
    await asyncio.sleep(0.3)
    assert not api.delivered(9306)
    assert "1 webhook call(s) cut short at shutdown" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    monkeypatch.setattr(help_module, "show_help", original)
    again = build_application(settings, clock=clock)
    task = await start_webhook(api, again)
    bot = WebhookBot(again, task, aiohttp.ClientSession())
    try:
        assert not await bot.processed(502)
        assert await bot.post(update) == 200
        assert await bot.post(update) == 200  # sent once more: still once
    finally:
        await bot.http.close()
        again.stop_webhook()
        await asyncio.wait_for(task, 10)
    assert len(api.delivered(9306)) == 1


async def test_health_and_metrics_in_polling_mode_too(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> None:
    port = free_port()
    runner = BotRunner(api, settings.model_copy(update={"metrics_port": port}), clock)
    await runner.start()
    try:
        user = api.user(9307, language_code="en")
        assert (await say(api, user, "/help"))["text"].startswith("What I can do")
        await runner.settle()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["sender"] == "alive"
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert 'examinator_updates_total{kind="message"} 1.0' in await response.text()
    finally:
        await runner.stop()
    # Stopped with the bot: the port is free again.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_outbox_lag_is_the_age_of_the_oldest_due_pending_notice(
    settings: Settings, clock: MovableClock
) -> None:
    engine = create_engine(settings.database_url)
    now = clock.now()
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            for key, due, status in [
                ("late", now - timedelta(minutes=3), NoticeStatus.PENDING),
                ("later", now - timedelta(minutes=1), NoticeStatus.PENDING),
                ("future", now + timedelta(hours=1), NoticeStatus.PENDING),
                ("old-sent", now - timedelta(hours=5), NoticeStatus.SENT),
            ]:
                session.add(Notice(key=key, kind="test", chat_id=1, due_at=due, status=status))
            await session.flush()
            gauge = await outbox_gauge(session, now)
    finally:
        await engine.dispose()
    assert gauge.lag_seconds == 180
    assert gauge.pending == 3
    assert gauge.counts["sent"] == 1 and gauge.counts["failed"] == 0


async def test_real_process_serves_the_webhook_logs_json_and_stops_on_sigterm(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "WEBHOOK_URL": PUBLIC_URL,
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "LOG_FORMAT": "json",
    }
    env.pop("REDIS_URL", None)
    env.pop("METRICS_PORT", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await api.wait_for("setWebhook", timeout=30)
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/telegram"
            headers = {SECRET_HEADER: SECRET}
            async with http.post(url, json=help_update(601, 9306), headers=headers) as response:
                assert response.status == 200
        reply = await api.next_message(9306, timeout=5)
        assert "What I can do" in reply["text"]
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    messages = [entry["message"] for entry in lines]
    assert "Webhook server stopped" in messages
    assert any(entry.get("update_id") == 601 for entry in lines)
    assert not any("exception" in entry for entry in lines), text
    assert TOKEN not in text and SECRET not in text
