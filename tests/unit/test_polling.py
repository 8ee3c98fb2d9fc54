"""The offset bookkeeping of bot.polling: only handled updates are confirmed."""

from __future__ import annotations

from bot.polling import UpdateWindow


def test_the_offset_stops_at_the_oldest_update_still_running() -> None:
    window = UpdateWindow()
    assert window.offset is None and not window.busy
    assert [window.start(u) for u in (10, 11, 12)] == [True, True, True]
    assert window.offset == 10
    window.finish(11)
    window.finish(12)
    assert window.offset == 10 and window.busy  # 10 still runs: 11 and 12 wait with it
    window.finish(10)
    assert window.offset == 13 and not window.busy


def test_an_update_returned_again_is_not_started_twice() -> None:
    window = UpdateWindow()
    window.start(10)
    window.start(11)
    window.finish(11)
    # getUpdates(offset=10) returns 10 and 11 again while 10 runs.
    assert [window.start(10), window.start(11), window.start(12)] == [False, False, True]
    assert window.offset == 10


def test_a_new_random_sequence_after_a_quiet_week_is_followed() -> None:
    window = UpdateWindow()
    window.start(900_000)
    window.finish(900_000)
    assert window.offset == 900_001
    assert window.start(5)  # Telegram chose a new, lower id
    window.finish(5)
    assert window.offset == 6


def test_memory_stays_bounded() -> None:
    window = UpdateWindow()
    for update_id in range(10_000):
        window.start(update_id)
        window.finish(update_id)
    assert len(window._seen) <= 257
    assert window.offset == 10_000
