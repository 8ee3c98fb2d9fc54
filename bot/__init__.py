"""Examinator: a Telegram bot that runs a university's exam session held remotely."""
