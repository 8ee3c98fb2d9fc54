"""The process's logging: plain text for a terminal or JSON lines for a log collector
(LOG_FORMAT), and a filter that keeps secrets — the bot token above all — out of every
record, whoever logs it (aiogram, aiohttp, a traceback with a request URL in it)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO

from bot.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
# A token inside a Bot API URL (…/bot123456:AAH…/sendMessage), even one not ours.
TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
# What every LogRecord carries; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def settings_secrets(settings: Settings) -> list[str]:
    """What must never be written to a log: the token, the webhook secret, the SMTP password."""
    secrets = [
        secret.get_secret_value()
        for secret in (settings.bot_token, settings.webhook_secret)
        if secret is not None
    ]
    smtp = settings.smtp
    if smtp is not None and smtp.password:
        secrets.append(smtp.password)
    return secrets


class SecretFilter(logging.Filter):
    """Masks the given secrets (and any token in a Bot API URL) in a record's message,
    arguments, extra fields and traceback. On a handler, so it sees every logger's records."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first: one secret may contain another.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return TOKEN_IN_URL.sub(f"bot{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it, unmasked nothing
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatted here (formatters reuse exc_text) so that the traceback is masked too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.mask(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD and not key.startswith("_")
        }
        entry.update(
            time=datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            level=record.levelname,
            logger=record.name,
            message=record.getMessage(),
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_handler(
    log_format: str, secrets: Iterable[str], stream: IO[str] | None = None
) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(SecretFilter(secrets))
    return handler


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler | None:
    """The root logger writes to stderr (or `stream`) in LOG_FORMAT, secrets masked.

    Like logging.basicConfig, it leaves alone a root logger someone configured before (a
    test runner, a host application) and returns None then; the handlers found there get
    the secret filter all the same.
    """
    secrets = settings_secrets(settings)
    root = logging.getLogger()
    # Migrations announce every plugin they load; only their warnings matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # aiogram's own line per update says less than ours (bot.updates), so it is left out.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    if root.handlers:
        for existing in root.handlers:
            for old in [f for f in existing.filters if isinstance(f, SecretFilter)]:
                existing.removeFilter(old)
            existing.addFilter(SecretFilter(secrets))
        return None
    handler = log_handler(settings.log_format, secrets, stream)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler
