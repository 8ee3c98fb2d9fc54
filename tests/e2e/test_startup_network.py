"""`python -m bot run` against a wrong token, a closed port and a server that is not the Bot
API: one line saying which and what to check, a non-zero exit, no traceback."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.e2e.conftest import TOKEN
from tests.e2e.fakeapi import FakeBotAPI


async def run_bot(api_url: str, tmp_path: Path, token: str = TOKEN) -> tuple[int, list[str]]:
    env = {
        **os.environ,
        "BOT_TOKEN": token,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "POLLING_TIMEOUT": "1",
    }
    env.pop("REDIS_URL", None)
    env.pop("WEBHOOK_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode().splitlines()


def one_line(lines: list[str]) -> str:
    """The process said exactly one line on stderr besides its own log lines."""
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    own = [line for line in lines if not _is_log_line(line)]
    assert len(own) == 1, "\n".join(lines)
    return own[0]


def _is_log_line(line: str) -> bool:
    # The logging format: "2026-12-06 01:02:03,456 LEVEL logger: message" (or JSON).
    return line[:4].isdigit() or line.startswith("{")


async def test_wrong_token_says_check_bot_token(api: FakeBotAPI, tmp_path: Path) -> None:
    other = "654321:WRONG-token-but-well-formed-xxxxxxxx"
    code, lines = await run_bot(api.base_url, tmp_path, token=other)
    line = one_line(lines)
    assert code != 0
    assert "401" in line and "BOT_TOKEN" in line
    assert other not in line and "WRONG" not in "\n".join(lines)
    assert [c.method for c in api.calls if c.method != "getMe"] == []  # nothing else tried


async def test_closed_port_says_cannot_reach(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listened
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        code, lines = await run_bot(f"http://127.0.0.1:{port}", tmp_path)
    line = one_line(lines)
    assert code != 0
    assert line.startswith("Cannot reach TELEGRAM_API_URL (http://127.0.0.1:")
    assert "check the network and the address in TELEGRAM_API_URL" in line


@pytest.fixture
async def html_server() -> AsyncIterator[str]:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<html><body>It works!</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_html_server_says_not_the_bot_api(html_server: str, tmp_path: Path) -> None:
    code, lines = await run_bot(html_server, tmp_path)
    line = one_line(lines)
    assert code != 0
    assert line == (
        f"TELEGRAM_API_URL ({html_server}) answered something that is not the Bot API "
        "(not its JSON): check TELEGRAM_API_URL"
    )


async def test_not_a_url_is_a_configuration_error(tmp_path: Path) -> None:
    code, lines = await run_bot("api.telegram.org", tmp_path)
    line = one_line(lines)
    assert code == 2
    assert line.startswith("Configuration error:") and "TELEGRAM_API_URL" in line
