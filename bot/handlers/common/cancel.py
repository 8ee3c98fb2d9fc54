"""/cancel: leaves whatever dialogue the user is in. Registered first, so it always works."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.views import common as view


async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(view.nothing_to_cancel())
        return
    await state.clear()
    await message.answer(view.cancelled())


def setup() -> Router:
    router = Router(name="cancel")
    router.message.register(cancel, Command("cancel"))
    return router
