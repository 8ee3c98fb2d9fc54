"""/tz: the user's own time zone, from buttons or typed (IANA name or UTC offset)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.domain.timezones import (
    COMMON_ZONES,
    parse_timezone,
    zone_label,
)
from bot.handlers.replies import show, stale, unknown_zone_text
from bot.handlers.states import TzInput
from bot.keyboards.callbacks import TzCB
from bot.services.actors import Actor
from bot.views import common as view


async def ask_zone(
    message: Message, actor: Actor, state: FSMContext, settings: Settings, clock: Clock
) -> None:
    now = clock.now()
    zones = [(zone, zone_label(zone, now, actor.locale)) for zone in COMMON_ZONES]
    current = actor.user.tz or settings.timezone
    await state.set_state(TzInput.zone)
    await show(message, view.zone_question(current, zones))


async def _save(actor: Actor, zone: str, settings: Settings, clock: Clock) -> str:
    actor.user.tz = zone
    return view.zone_set(zone, clock.now(), settings, locale=actor.locale)


async def zone_button(
    query: CallbackQuery,
    callback_data: TzCB,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
) -> None:
    zone = parse_timezone(callback_data.zone)
    if zone is None:
        await stale(query)
        return
    await state.clear()
    text = await _save(actor, zone, settings, clock)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text)


async def zone_typed(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    clock: Clock,
) -> None:
    zone = parse_timezone(message.text or "")
    if zone is None:
        await message.answer(unknown_zone_text())
        return
    await state.clear()
    await message.answer(await _save(actor, zone, settings, clock))


def setup() -> Router:
    router = Router(name="timezone")
    router.message.register(ask_zone, Command("tz"))
    router.callback_query.register(zone_button, TzCB.filter())
    router.message.register(zone_typed, TzInput.zone, F.text, ~F.text.startswith("/"))
    return router
