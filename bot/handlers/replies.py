"""Small reply helpers shared by handler modules."""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message

from bot.domain.statements import document_accepted
from bot.views.common import file_too_large, files_only, unknown_zone
from bot.views.paging import split_html
from bot.views.screen import Screen
from bot.views.texts import no_longer_valid


async def edit_pressed(query: CallbackQuery, text: str, **kwargs: Any) -> None:
    """Replaces the text of the message whose button was pressed (if it is still there)."""
    if isinstance(query.message, Message):
        await query.message.edit_text(text, **kwargs)


async def stale(query: CallbackQuery) -> None:
    """A press of a button that is no longer valid: an alert, nothing changed."""
    await query.answer(no_longer_valid(), show_alert=True)


async def show(target: Message, screen: Screen) -> None:
    """A view sent as a new message."""
    await target.answer(screen.text, reply_markup=screen.markup)


async def edit_into(query: CallbackQuery, screen: Screen) -> None:
    """The pressed message becomes the view (if it is still there)."""
    await edit_pressed(query, screen.text, reply_markup=screen.markup)


async def answer_long(message: Message, text: str, **kwargs: Any) -> None:
    """A read-only text that may outgrow one message, as several at line breaks; buttons
    and other options go with the last part."""
    *first, last = split_html(text)
    for part in first:
        await message.answer(part)
    await message.answer(last, **kwargs)


async def next_page(query: CallbackQuery) -> None:
    """A pager pressed under a list sent as several messages: the press is answered and
    the pager leaves the old page, as the next page comes with its own."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)


def unknown_zone_text() -> str:
    return unknown_zone()


async def incoming_file(message: Message) -> dict[str, Any] | None:
    """A student's photo or document as plain data (for the FSM or a service), or None
    after telling them why it is refused (wrong type, over 20 MB, not a file at all)."""
    if message.photo:
        photo = message.photo[-1]  # the largest size
        return {
            "kind": "photo",
            "file_id": photo.file_id,
            "file_unique_id": photo.file_unique_id,
            "file_name": None,
            "mime_type": "image/jpeg",
            "size": photo.file_size,
            "media_group_id": message.media_group_id,
        }
    document = message.document
    problem = document_accepted(document.mime_type, document.file_size) if document else "type"
    if problem == "size":
        await message.answer(file_too_large())
        return None
    if problem is not None or document is None:
        await message.answer(files_only())
        return None
    return {
        "kind": "document",
        "file_id": document.file_id,
        "file_unique_id": document.file_unique_id,
        "file_name": document.file_name,
        "mime_type": document.mime_type,
        "size": document.file_size,
        "media_group_id": message.media_group_id,
    }
