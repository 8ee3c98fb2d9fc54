"""The settings of the larger deployment: webhook, health and metrics, log format."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from tests.unit.test_config import config_error


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No WEBHOOK_*, METRICS_* or LOG_FORMAT from the developer's environment or .env."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_embedded_set_up() -> None:
    settings = Settings(_env_file=None)
    assert settings.webhook_url is None and settings.webhook_secret is None
    assert (settings.webhook_host, settings.webhook_port) == ("0.0.0.0", 8080)
    assert settings.webhook_path == "/telegram"
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 0)
    assert settings.log_format == "text"


def test_webhook_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/telegram")
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret_-X")
    monkeypatch.setenv("WEBHOOK_PORT", "8443")
    monkeypatch.setenv("METRICS_PORT", "9090")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    settings = load_settings()
    assert settings.webhook_url == "https://bot.example.org/telegram"
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "s3cret_-X"
    assert "s3cret" not in repr(settings)
    assert (settings.webhook_port, settings.metrics_port) == (8443, 9090)
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"webhook_url": "https://bot.example.org/t"}, "WEBHOOK_SECRET is required when"),
        ({"webhook_url": "http://bot.example.org/t", "webhook_secret": "x"}, "WEBHOOK_URL must"),
        ({"webhook_url": "https://b.org/t", "webhook_secret": "no spaces"}, "WEBHOOK_SECRET must"),
        ({"webhook_secret": "x" * 257}, "WEBHOOK_SECRET must"),
        ({"webhook_path": "telegram"}, "WEBHOOK_PATH must"),
        ({"webhook_port": 0}, "WEBHOOK_PORT"),
        ({"metrics_port": 70000}, "METRICS_PORT"),
        ({"log_format": "xml"}, "LOG_FORMAT must be one of text, json"),
    ],
)
def test_bad_values_are_one_line_errors(overrides: dict[str, object], expected: str) -> None:
    assert expected in config_error(**overrides)
