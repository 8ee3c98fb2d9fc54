"""The real dispatcher fed hostile and odd updates (drawn by tests/e2e/fuzzing.py): not one
may end in an unhandled exception, and the database stays consistent after each.
bench/fuzz.py runs the same with 10,000 updates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, example, given, settings

from tests.e2e.fakeapi import FakeBotAPI
from tests.e2e.fuzzing import REGRESSIONS, FuzzWorld, JsonDict, fuzz_settings, updates

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


@pytest_asyncio.fixture
async def world(api: FakeBotAPI, database_url: str, tmp_path: Path) -> AsyncIterator[FuzzWorld]:
    made = await FuzzWorld.open(fuzz_settings(api, database_url, tmp_path / "files"), api)
    try:
        yield made
    finally:
        await made.close()


def _regressions(test: Callable[..., Any]) -> Callable[..., Any]:
    """What the fuzzing once found, as explicit examples: fed first, on every run."""
    for draft in reversed(REGRESSIONS):
        test = example(draft=draft)(test)
    return test


# One world for all the examples of a run, on purpose: what one update leaves behind (a
# dialogue begun, a statement filed, a user unlinked) is what the next one meets.
@settings(
    max_examples=500,
    database=None,  # nothing written into the repository
    deadline=None,  # an update is a database transaction and HTTP calls: timing varies
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(draft=updates())
@_regressions
async def test_no_update_breaks_the_bot_or_the_data(world: FuzzWorld, draft: JsonDict) -> None:
    failures = await world.feed(draft)
    assert not failures, "unhandled:\n" + "\n".join(failures)
    problems = await world.check()
    assert not problems, "inconsistent after this update:\n" + "\n".join(problems)
