"""Handlers for everyone: getting in, language, help, and the fallbacks."""
