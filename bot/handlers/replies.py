"""Small reply helpers shared by handler modules."""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _


async def edit_pressed(query: CallbackQuery, text: str, **kwargs: Any) -> None:
    """Replaces the text of the message whose button was pressed (if it is still there)."""
    if isinstance(query.message, Message):
        await query.message.edit_text(text, **kwargs)


async def not_a_student(message: Message) -> None:
    await message.answer(
        _("This command is for students. Send /start to link your account to the roster.")
    )


def unknown_zone_text() -> str:
    return _(
        "I don't know this time zone. Type a name such as Asia/Novosibirsk "
        "or an offset such as UTC+7, or /cancel."
    )
