"""The bot in a process of its own, on the test's clock, for a test that kills it (kill -9):

    python -m tests.e2e.bot_process 2026-12-01T09:00:00+00:00

Configured by the environment, as `python -m bot` is; the same Application, long polling.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime

from bot.app import build_application
from bot.config import Settings
from tests.e2e.conftest import MovableClock


async def main(now: datetime) -> None:
    app = build_application(Settings(_env_file=None), clock=MovableClock(now))
    await app.prepare()
    await app.run_polling(handle_signals=False)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(datetime.fromisoformat(sys.argv[1])))
