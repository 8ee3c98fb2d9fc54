"""One user flooding the bot is answered once and ignored for the rest of the window;
the others are served meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from bot.config import Settings
from tests.e2e.conftest import BotRunner, MovableClock, say, seed_samples
from tests.e2e.fakeapi import FakeBotAPI


@pytest_asyncio.fixture
async def strict(
    api: FakeBotAPI, settings: Settings, clock: MovableClock
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(api, settings.model_copy(update={"flood_limit": 5}), clock)
    await runner.start()
    await seed_samples(runner)
    try:
        yield runner
    finally:
        await runner.stop()


async def test_a_flood_is_answered_once_and_ignored(api: FakeBotAPI, strict: BotRunner) -> None:
    flooder = api.user(15001, language_code="en")
    other = api.user(15002, language_code="ru")
    after = api.mark()
    for n in range(12):
        flooder.send(f"/help {n}")
    reply = await say(api, other, "/help")  # someone else is served all the same
    assert "/start" in reply["text"]
    await strict.settle()
    await api.idle(quiet=0.3)
    texts = [c.params["text"] for c in api.delivered(flooder.id) if api.calls.index(c) >= after]
    warnings = [t for t in texts if "Too many messages" in t]
    assert len(warnings) == 1
    assert len(texts) == 6  # five answered, one warning, six ignored
