"""Sending to Telegram: how the bot copes with its limits and failures."""
