"""Photos and PDFs a student sends outside any dialogue: written work while its clock runs
(plus the grace), or an oral exam's preparation sheets on the day."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.handlers.replies import incoming_file
from bot.services.actors import Actor
from bot.services.outbox import Outbox
from bot.services.roll import RollRules, WorkOutcome, accept_work
from bot.views import dates
from bot.views.html import fmt
from bot.views.texts import exam_title


async def work_sent(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    assert actor.student is not None
    entry = await incoming_file(message)
    if entry is None:
        return
    result = await accept_work(
        session,
        actor.student,
        entry["kind"],
        file_id=entry["file_id"],
        file_unique_id=entry["file_unique_id"],
        mime_type=entry["mime_type"],
        size=entry["size"],
        media_group_id=entry["media_group_id"],
        now=clock.now(),
        rules=RollRules.of(settings),
        outbox=outbox,
    )
    if result.outcome is WorkOutcome.ACCEPTED and result.exam is not None:
        if result.first:  # an album: one answer, not one per photo
            await message.answer(
                fmt(
                    _("✅ Received for {title}; your teacher has it. You may send more."),
                    title=exam_title(result.exam),
                )
            )
        return
    if result.outcome is WorkOutcome.TOO_LATE and result.exam is not None and result.due:
        await message.answer(
            fmt(
                _(
                    "⛔ Works for {title} were due by {when}; this one is too late and was not "
                    "accepted. Contact your teacher or the dean's office."
                ),
                title=exam_title(result.exam),
                when=dates.when(result.due, settings.tz, actor.locale),
            )
        )
        return
    if result.outcome is WorkOutcome.NOT_PRESENT and result.exam is not None:
        await message.answer(
            fmt(
                _(
                    "⛔ You are not marked present at {title}, so I cannot take work for it. "
                    "Ask your teacher to mark you."
                ),
                title=exam_title(result.exam),
            )
        )
        return
    await message.answer(
        _(
            "No exam of yours is taking works now. To attach documents to a statement, "
            "use /statement."
        )
    )


def setup() -> Router:
    router = Router(name="student-works")
    router.message.filter(StateFilter(None))
    # A spreadsheet is an import attempt: the imports router answers it.
    spreadsheet = F.document.file_name.regexp(r"(?i).*\.(csv|xlsx)$")
    router.message.register(work_sent, F.photo | (F.document & ~spreadsheet))
    return router
