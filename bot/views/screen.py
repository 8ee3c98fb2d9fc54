"""A chat message as a view hands it to a handler: its text and its buttons. The handler
sends it (or edits the pressed message into it) through the held replies."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import InlineKeyboardMarkup


@dataclass(frozen=True)
class Screen:
    text: str
    markup: InlineKeyboardMarkup | None = None
