"""What one unit of work adds to the outbox, said out loud instead of left in the session.

The unit of work (an update: bot.middlewares.unit_of_work; a Mini App request:
bot.webapp.server; a CLI command or the start-up's catch-up) makes one `Outbox` per
transaction and passes it to every service that plans notices (bot.services.reminders
and the services built on it), which says `outbox.planned(n)` for the notices it made
due. After the commit, and only then (before it the sender could not see them), the
unit of work wakes the outbox sender if anything was planned.
"""

from __future__ import annotations


class Outbox:
    """Notices planned in one transaction (counted, so a caller can report them)."""

    __slots__ = ("notices",)

    def __init__(self) -> None:
        self.notices = 0

    def planned(self, count: int = 1) -> None:
        """`count` notices were added (or made pending again) in this transaction."""
        self.notices += count

    @property
    def wakes_sender(self) -> bool:
        return self.notices > 0

    def __repr__(self) -> str:
        return f"Outbox(notices={self.notices})"
