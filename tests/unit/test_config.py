"""Settings: defaults, parsing, and one-line errors that name the setting."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, Settings, load_settings

TOKEN = "123456:AAH-secret-token-value"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the developer's environment or .env leaks into these tests."""
    fields = set(Settings.model_fields)
    for name in list(os.environ):
        if name.lower() in fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # load_settings reads .env from the working directory


def config_error(**overrides: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Configuration error: ")
    return message


def test_defaults() -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///data/bot.db"
    assert settings.timezone == "Europe/Moscow"
    assert settings.tz == ZoneInfo("Europe/Moscow")
    assert settings.default_locale == "ru"
    assert settings.bot_token is None
    assert settings.telegram_api_url is None
    assert settings.redis_url is None
    assert settings.admin_ids == frozenset()
    assert settings.max_upload_bytes == 5 * 1024 * 1024
    assert settings.login_attempts_per_hour == 5
    assert settings.login_window == timedelta(hours=1)
    assert load_settings() == settings


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", f"  {TOKEN} ")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bot@db:5432/bot")
    monkeypatch.setenv("TIMEZONE", "Asia/Yekaterinburg")
    monkeypatch.setenv("DEFAULT_LOCALE", "en")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("MAX_UPLOAD_MB", "0.5")
    settings = load_settings()
    assert settings.token() == TOKEN
    assert settings.database_url == "postgresql+asyncpg://bot@db:5432/bot"
    assert settings.tz == ZoneInfo("Asia/Yekaterinburg")
    assert settings.default_locale == "en"
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.max_upload_bytes == 512 * 1024


def test_reads_dotenv_in_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"BOT_TOKEN={TOKEN}\nADMIN_IDS=7\n", encoding="utf-8")
    settings = load_settings()
    assert settings.token() == TOKEN
    assert settings.admin_ids == frozenset({7})
    assert Settings(_env_file=None).bot_token is None


@pytest.mark.parametrize(
    ("raw", "ids"),
    [("1, 2;3", {1, 2, 3}), ("42", {42}), ("", set()), (" 5 ,, 5 ", {5})],
)
def test_admin_ids(monkeypatch: pytest.MonkeyPatch, raw: str, ids: set[int]) -> None:
    monkeypatch.setenv("ADMIN_IDS", raw)
    assert load_settings().admin_ids == frozenset(ids)


def test_bad_admin_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "abc")
    message = config_error()
    assert message.startswith("Configuration error: ADMIN_IDS")


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("TIMEZONE", "Mars/Olympus_Mons"),
        ("TIMEZONE", "../../etc/passwd"),
        ("DATABASE_URL", "mysql://root@localhost/bot"),
        ("DATABASE_URL", "sqlite:///data/bot.db"),
        ("TELEGRAM_API_URL", "ftp://127.0.0.1:8081"),
        ("TELEGRAM_API_URL", "127.0.0.1:8081"),
        ("BOT_TOKEN", "not-a-token"),
        ("BOT_TOKEN", "123456:"),
        ("BOT_TOKEN", "abc:DEF"),
        ("DEFAULT_LOCALE", "de"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("LOGIN_ATTEMPTS_PER_HOUR", "0"),
        ("MAX_UPLOAD_MB", "many"),
    ],
)
def test_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(env, value)
    assert env in config_error()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Nowhere/City"),
        ("database_url", "mysql://x"),
        ("telegram_api_url", "ftp://x"),
        ("bot_token", "nope"),
        ("default_locale", "de"),
    ],
)
def test_bad_override_names_the_setting(field: str, value: str) -> None:
    assert field.upper() in config_error(**{field: value})


def test_bad_token_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "secret-without-colon")
    assert "secret-without-colon" not in config_error()


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_token_counts_as_missing(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("BOT_TOKEN", blank)
    assert load_settings().bot_token is None


def test_token_required_only_when_asked() -> None:
    settings = Settings(_env_file=None)
    with pytest.raises(ConfigError) as caught:
        settings.token()
    message = str(caught.value)
    assert "BOT_TOKEN" in message
    assert message.startswith("Configuration error: ")
    assert "\n" not in message


def test_token_never_shown() -> None:
    settings = Settings(_env_file=None, bot_token=TOKEN)
    assert settings.token() == TOKEN
    secret = TOKEN.split(":")[1]
    assert secret not in repr(settings)
    assert secret not in str(settings)
    assert secret not in settings.model_dump_json()


def test_lead_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="JOIN_EARLY_LEAD"):
        load_settings(_env_file=None, join_early_lead="-00:05:00")


@pytest.mark.parametrize("text", ["24:00:00", "PT24H", "1 day, 0:00:00"])
def test_lead_times_accept_clock_and_iso_durations(text: str) -> None:
    settings = Settings(_env_file=None, day_before_lead=text, join_early_lead="00:15:00")
    assert settings.day_before_lead == timedelta(hours=24)
    assert settings.join_early_lead == timedelta(minutes=15)


def test_send_rate_above_telegrams_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="SEND_RATE"):
        load_settings(_env_file=None, send_rate=31)


EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_env_example_lists_every_setting() -> None:
    named = {
        line.lstrip("# ").split("=", 1)[0]
        for line in EXAMPLE.read_text().splitlines()
        if "=" in line and line.lstrip("# ")[:1].isupper()
    }
    assert {name.upper() for name in Settings.model_fields} <= named


def test_env_example_optional_settings_are_commented_and_parse() -> None:
    lines = [line for line in EXAMPLE.read_text().splitlines() if line and not line.startswith("#")]
    assert [line.split("=", 1)[0] for line in lines] == ["BOT_TOKEN"]
    # Each commented example, uncommented, is a valid value (WEBHOOK_* go together).
    values = {
        line[2:].split("=", 1)[0].lower(): line[2:].split("=", 1)[1]
        for line in EXAMPLE.read_text().splitlines()
        if line.startswith("# ") and "=" in line and line[2:3].isupper()
    }
    settings = load_settings(_env_file=None, bot_token=TOKEN, **values)
    assert settings.webhook_url == "https://bot.example.org/telegram"


def test_env_example_placeholder_token_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(EXAMPLE.read_text())
    message = config_error()
    assert "BOT_TOKEN" in message and "BotFather" in message
    assert "PASTE" not in message  # a token, even a placeholder, is never echoed
