"""Logging: the token never reaches a log line, whoever logs it and however; JSON lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.logs import configure_logging, log_handler, settings_secrets

TOKEN = "123456:AAH-secret-token-value_42"
OTHER_TOKEN = "654321:ZZZ-not-ours-but-still-secret"


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records pass through the text handler the bot installs."""
    stream = io.StringIO()
    handler = log_handler("text", [TOKEN, "hook_secret"], stream)
    log = logging.getLogger("tests.logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield log, stream
    finally:
        log.removeHandler(handler)
        log.propagate = True


def test_the_token_is_masked_in_messages_arguments_and_urls(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    log.info(f"token {TOKEN} in the message")
    log.info("token %s in an argument", TOKEN)
    log.warning("POST https://api.telegram.org/bot%s/sendMessage failed", TOKEN)
    log.warning("GET https://api.telegram.org/file/bot%s/documents/1.pdf", OTHER_TOKEN)
    log.info("the webhook secret %s too", "hook_secret")
    output = stream.getvalue()
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output
    assert OTHER_TOKEN.split(":")[1] not in output
    assert "hook_secret" not in output
    assert "https://api.telegram.org/bot***/sendMessage failed" in output
    assert "token *** in an argument" in output
    assert len(output.splitlines()) == 5


def test_the_token_is_masked_in_tracebacks_and_extra_fields(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    try:
        raise ConnectionError(f"Cannot connect to https://api.telegram.org/bot{TOKEN}/getMe")
    except ConnectionError:
        log.exception("request failed", extra={"url": f"/bot{TOKEN}/getMe"})
    output = stream.getvalue()
    assert "Traceback" in output and "ConnectionError" in output
    assert TOKEN not in output


def test_a_record_is_masked_for_every_handler_after_ours() -> None:
    """The record itself is masked, so handlers that run after ours see no token either."""
    record = logging.makeLogRecord({"msg": "url /bot%s/x", "args": (TOKEN,), "levelno": 20})
    handler = log_handler("text", [TOKEN])
    assert handler.filter(record)
    assert record.getMessage() == "url /bot***/x"


def test_json_lines_carry_time_level_logger_message_and_extras() -> None:
    stream = io.StringIO()
    handler = log_handler("json", [TOKEN], stream)
    log = logging.getLogger("tests.logs.json")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.info("update %s handled", 7, extra={"update_id": 7, "latency_ms": 1.5})
        try:
            raise ValueError(f"multi\nline {TOKEN}")
        except ValueError:
            log.exception("it failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "update 7 handled"
    assert first["level"] == "INFO" and first["logger"] == "tests.logs.json"
    assert first["update_id"] == 7 and first["latency_ms"] == 1.5
    assert first["time"].endswith("+00:00")
    assert "ValueError" in second["exception"]
    assert TOKEN not in stream.getvalue()


def test_configure_logging_masks_the_settings_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        _env_file=None,
        bot_token=TOKEN,
        webhook_url="https://bot.example.org/telegram",
        webhook_secret="hook_secret",
        smtp_url="smtp://mailer:p4ssw0rd@mail.example.org:587",
        log_format="json",
    )
    assert set(settings_secrets(settings)) == {TOKEN, "hook_secret", "p4ssw0rd"}
    stream = io.StringIO()
    root = logging.getLogger()
    # As at `python -m bot`: nobody has configured logging yet (pytest has, here).
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    handler = configure_logging(settings, stream)
    assert handler is not None
    logging.getLogger("aiogram.test").info("bot %s, smtp p4ssw0rd", TOKEN)
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["message"] == "bot ***, smtp ***"


def test_configure_logging_leaves_a_configured_root_alone_but_masks_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    theirs = logging.StreamHandler(stream)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [theirs])
    monkeypatch.setattr(root, "level", logging.INFO)
    settings = Settings(_env_file=None, bot_token=TOKEN)
    assert configure_logging(settings) is None
    assert configure_logging(settings) is None  # again: still one filter, no new handler
    assert root.handlers == [theirs] and len(theirs.filters) == 1
    logging.getLogger("tests.logs.theirs").info("token %s", TOKEN)
    assert stream.getvalue() == "token ***\n"
