"""The last resort: a handler failed. Log it and tell the user, in their language."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n

from bot.domain.language import locale_for
from bot.views.common import went_wrong

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent, bot: Bot, i18n: I18n) -> None:
    update = event.update
    log.error(
        "update %s failed: %s",
        update.update_id,
        event.exception.__class__.__name__,
        exc_info=event.exception,
    )
    origin = update.message or (update.callback_query.message if update.callback_query else None)
    user = (
        update.message.from_user
        if update.message
        else (update.callback_query.from_user if update.callback_query else None)
    )
    if origin is None or user is None:
        return
    # The per-update i18n context is gone by now; the database may be the very thing failing.
    with i18n.context(), i18n.use_locale(locale_for(user.language_code, i18n.default_locale)):
        text = went_wrong()
    try:
        if update.callback_query is not None:
            await bot.answer_callback_query(update.callback_query.id, text, show_alert=True)
        else:
            await bot.send_message(origin.chat.id, text)
    except Exception:
        log.exception("could not tell the user about the failure of update %s", update.update_id)


def setup() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
