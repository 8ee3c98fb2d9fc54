"""Browser harness: Debian's headless Chromium, driven by Playwright, opens the Mini App the
bot serves (its own aiohttp server in polling mode) with a stubbed ``Telegram.WebApp``.

One Chromium per test session: it is started here with a DevTools port and each test
connects to it over CDP (Playwright's own browser download is never used). The bot runs as
in tests/e2e (the strict fake Bot API, a movable clock); initData is signed with the test
bot's token as Telegram signs it (tests/webapp_auth.py). Screenshots at 360 px go to
tests/browser/artifacts/ (git-ignored; CI keeps the folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, async_playwright

from bot.config import Settings
from tests.e2e import conftest as e2e
from tests.e2e.conftest import TOKEN, BotRunner
from tests.e2e.fakeapi import FakeBotAPI
from tests.webapp_auth import sign_init_data

# The e2e harness's fixtures (the fake Bot API, the bot, its clock and database), shared.
api = e2e.api
bot_runner = e2e.bot_runner
clock = e2e.clock
database_url = e2e.database_url
redis_url = e2e.redis_url

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WIDTH = 360  # a small phone
HEIGHT = 740
WEBAPP_URL = "https://examinator.example.org/app/"


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="session")
def cdp_endpoint() -> Iterator[str]:
    """One headless Chromium for the session; its DevTools websocket address."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run must run scripts/setup-browser")
        pytest.skip("Chromium is not installed: run scripts/setup-browser (Debian's chromium)")
    profile = tempfile.mkdtemp(prefix="examinator-chromium-")
    process = subprocess.Popen(
        [
            executable,
            "--headless=new",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={profile}",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            "--lang=ru",  # the browser's own words (the file picker) as a Russian phone's
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        endpoint = None
        seen = []
        for line in process.stderr:  # Chromium prints its address first, at once
            seen.append(line)
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                endpoint = found.group(1)
                break
            if len(seen) > 200:
                break
        if endpoint is None:
            pytest.fail("Chromium did not start:\n" + "".join(seen[-20:]))
        # Keep reading its log, or it blocks once the pipe is full.
        stderr = process.stderr
        threading.Thread(target=lambda: stderr.read(), daemon=True).start()
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest_asyncio.fixture
async def browser(cdp_endpoint: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        connected = await playwright.chromium.connect_over_cdp(cdp_endpoint)
        try:
            yield connected
        finally:
            for context in connected.contexts[1:]:  # the first is Chromium's own default
                await context.close()
            await connected.close()


@pytest.fixture
def settings(api: FakeBotAPI, database_url: str, redis_url: str | None, tmp_path: Path) -> Settings:
    """The e2e settings, with the Mini App served on a port of its own."""
    return Settings(
        bot_token=TOKEN,
        telegram_api_url=api.base_url,
        database_url=database_url,
        redis_url=redis_url,
        admin_ids=frozenset({900_001}),
        polling_timeout=1,
        institution_name="КГМУ",
        files_dir=tmp_path / "files",
        journal_dir=tmp_path / "journal",
        edit_interval=0,
        webapp_url=WEBAPP_URL,
        webapp_host="127.0.0.1",
        webapp_port=0,  # any free port: the server reports the one it got
        _env_file=None,
    )


def app_url(runner: BotRunner, route: str = "") -> str:
    assert runner.app is not None and runner.app.webapp_server is not None
    return f"http://127.0.0.1:{runner.app.webapp_server.port}/app/#/{route}"


# What telegram-web-app.js gives a page, as far as the app uses it: initData, the theme,
# the Main and Back buttons, haptics. Calls are recorded in window.__tg for the tests.
_STUB = """
(() => {
  const record = (name, value) => {
    window.__tg.calls.push([name, value === undefined ? null : value]);
  };
  const handlers = { main: [], back: [] };
  window.__tg = { calls: [], handlers };
  const button = (name) => ({
    text: "", isVisible: false,
    setText(text) { this.text = text; record(name + ".setText", text); return this; },
    show() { this.isVisible = true; record(name + ".show"); return this; },
    hide() { this.isVisible = false; record(name + ".hide"); return this; },
    onClick(f) { handlers[name].push(f); return this; },
    offClick(f) { handlers[name] = handlers[name].filter((g) => g !== f); return this; },
  });
  window.Telegram = { WebApp: {
    initData: %(init_data)s,
    initDataUnsafe: {},
    version: "8.0",
    platform: "android",
    colorScheme: %(scheme)s,
    themeParams: %(theme)s,
    MainButton: button("main"),
    BackButton: button("back"),
    HapticFeedback: {
      selectionChanged() { record("haptic", "selection"); },
      impactOccurred(style) { record("haptic", style); },
      notificationOccurred(kind) { record("haptic", kind); },
    },
    ready() { record("ready"); },
    expand() { record("expand"); },
    close() { record("close"); },
    onEvent(name, f) {}, offEvent(name, f) {},
  } };
  window.__tg.press = (name) => handlers[name].forEach((f) => f());
})();
"""

LIGHT = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
}
DARK = {
    "bg_color": "#212121",
    "text_color": "#ffffff",
    "hint_color": "#aaaaaa",
    "link_color": "#8774e1",
    "button_color": "#8774e1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#181818",
}


async def open_app(
    browser: Browser,
    runner: BotRunner,
    route: str,
    *,
    init_data: str,
    dark: bool = False,
) -> Page:
    """A 360 px page of the Mini App at `route`, as Telegram opens it for `init_data`."""
    page = await new_page(browser, init_data=init_data, dark=dark)
    await page.goto(app_url(runner, route))
    return page


async def new_page(browser: Browser, *, init_data: str, dark: bool = False) -> Page:
    """A blank 360 px page with Telegram's stub for `init_data` (not opened yet)."""
    context = await browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT},
        device_scale_factor=1,
        color_scheme="dark" if dark else "light",
        locale="ru-RU",
        timezone_id="Europe/Moscow",
        accept_downloads=True,
    )

    async def no_network(route: Route) -> None:
        # Telegram's script is replaced by the stub; nothing else may leave the machine.
        if route.request.url.startswith("http://127.0.0.1:"):
            await route.continue_()
        elif route.request.url.startswith("https://telegram.org/js/"):
            await route.fulfill(body="", content_type="application/javascript")
        else:
            await route.abort()

    await context.route("**/*", no_network)
    await context.add_init_script(
        _STUB
        % {
            "init_data": json.dumps(init_data),
            "scheme": json.dumps("dark" if dark else "light"),
            "theme": json.dumps(DARK if dark else LIGHT),
        }
    )
    return await context.new_page()


def signed(runner: BotRunner, user_id: int, *, language: str = "ru", name: str = "Test") -> str:
    return sign_init_data(
        TOKEN,
        user_id,
        auth_date=runner.clock.now(),
        first_name=name,
        language_code=language,
    )


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """The page as a 360 px phone shows it (whole, unless `full_page` is off: one screen)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky tabs at the top, not mid-page
    await page.screenshot(path=str(path), full_page=full_page)
    return path


async def tg_calls(page: Page) -> list[list[Any]]:
    calls: list[list[Any]] = await page.evaluate("window.__tg.calls")
    return calls


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)
