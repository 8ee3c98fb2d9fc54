"""/cancel: leaves whatever dialogue the user is in. Registered first, so it always works."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _


async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(_("Nothing to cancel."))
        return
    await state.clear()
    await message.answer(_("Cancelled."))


def setup() -> Router:
    router = Router(name="cancel")
    router.message.register(cancel, Command("cancel"))
    return router
