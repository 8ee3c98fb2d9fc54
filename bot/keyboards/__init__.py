"""Inline keyboards and the typed callback data behind their buttons."""
