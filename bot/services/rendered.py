"""A notice as it will be sent: text, buttons, files."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rendered:
    text: str
    # Buttons under the (last part of the) text, and files sent after it: (kind, file_id)
    # with kind "photo" or "document"; photos go as one album, documents as another.
    buttons: tuple[tuple[str, str], ...] = ()  # (label, callback data), one per row
    files: tuple[tuple[str, str], ...] = ()
    # URL buttons above those (label, http(s) URL), one per row: a conference or Moodle
    # opens with one tap instead of a search for the link in the text.
    links: tuple[tuple[str, str], ...] = ()
    # Mini App buttons (label, https URL) under those, one per row: web_app buttons work
    # in private chats only, so a group chat gets them as `links` instead.
    web_apps: tuple[tuple[str, str], ...] = ()

    @property
    def has_buttons(self) -> bool:
        return bool(self.buttons or self.links or self.web_apps)
