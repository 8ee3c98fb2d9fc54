"""Settings: the only place that reads the environment (and `.env`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, unquote, urlparse, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.plans import DEFAULT_DISTANCE_LIMIT, DEFAULT_REMINDER_DAYS, parse_reminder_days

SUPPORTED_LOCALES = ("ru", "en")
SMTP_URL_SHAPE = "smtp://[user:password@]host[:port][?starttls=1] or smtps://…"
# What Telegram accepts as a webhook's secret_token.
WEBHOOK_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
LOG_FORMATS = ("text", "json")
_YES = {"1", "true", "yes", "on"}
_NO = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how e-mail is handed over: SMTP_URL, read once."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False  # smtps://: TLS from the first byte
    # STARTTLS: True requires it, False never tries it, None uses it when offered.
    start_tls: bool | None = None
    timeout: float = 30.0


def parse_smtp_url(url: str) -> SmtpTarget:
    """SMTP_URL → SmtpTarget; ValueError with a one-line reason that never echoes the password."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ValueError(f"must look like {SMTP_URL_SHAPE}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has a bad port (1–65535)") from exc
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"starttls", "timeout"})
    if unknown:
        raise ValueError(f"has an unknown option {unknown[0]!r} (known: starttls, timeout)")
    start_tls: bool | None = None
    if "starttls" in options:
        flag = options["starttls"][-1].lower()
        if flag not in _YES | _NO:
            raise ValueError("starttls must be 1 or 0")
        start_tls = flag in _YES
        if start_tls and scheme == "smtps":
            raise ValueError("starttls=1 is for smtp://; smtps:// is encrypted already")
    timeout = 30.0
    if "timeout" in options:
        try:
            timeout = float(options["timeout"][-1])
        except ValueError:
            timeout = 0.0
        if not 0 < timeout <= 600:
            raise ValueError("timeout must be a number of seconds, at most 600")
    if parts.password is not None and not parts.username:
        raise ValueError("has a password but no user name")
    default_port = 465 if scheme == "smtps" else 587 if start_tls else 25
    return SmtpTarget(
        host=parts.hostname,
        port=port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=scheme == "smtps",
        start_tls=False if scheme == "smtps" else start_tls,
        timeout=timeout,
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Optional here so that `import`, `invite` and `db` work without one; `run` requires it.
    bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    bot_username: str | None = None
    database_url: str = "sqlite+aiosqlite:///data/bot.db"
    redis_url: str | None = None
    timezone: str = "Europe/Moscow"
    default_locale: str = "ru"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    institution_name: str = "University"
    max_upload_mb: float = Field(default=5, gt=0)
    login_attempts_per_hour: int = Field(default=5, ge=1)
    polling_timeout: int = Field(default=30, ge=0)
    shutdown_grace_seconds: float = Field(default=20, ge=0)
    day_before_lead: timedelta = timedelta(hours=24)
    join_early_lead: timedelta = timedelta(minutes=15)
    # Telegram allows about 30 messages/s. Replies, notices and reports share it
    # (bot.notify.pacing), which counts each message for its round trip as well and
    # adapts to the 429s it meets: 30 uses the whole allowance safely.
    send_rate: float = Field(default=30, gt=0, le=30)
    send_max_attempts: int = Field(default=5, ge=1)
    absence_docs_days: int = Field(default=3, ge=0)
    # Per user: beyond FLOOD_LIMIT updates in FLOOD_WINDOW seconds the rest are ignored
    # (30: a teacher marking a roll of 40 taps fast, and an album is ten updates at once).
    flood_limit: int = Field(default=30, ge=0)
    flood_window: float = Field(default=10, gt=0)
    # Seconds between two redraws of the roll in one chat: Telegram edits a message in a
    # chat about once a second (429 beyond); the taps in between show in the next redraw.
    edit_interval: float = Field(default=1.05, ge=0)
    # Seconds from the answer to one message or edit in a chat to the next one there
    # (bot.notify.pacing): Telegram takes about one a second per chat, so a margin over it.
    # A group's twenty a minute and the 30/s in all hold whatever this is.
    chat_interval: float = Field(default=1.1, gt=0)
    # Statement documents and exam works are also kept here, in case Telegram forgets them.
    files_dir: Path = Path("data/files")
    # The outbox's sent journal (bot.notify.journal): one small file per running process.
    # Local to the host, like the process; empty turns it off.
    journal_dir: Path | None = Path("data/journal")
    # §2.8: an outage not fixed within this time makes the student absent for a valid reason.
    outage_wait: timedelta = timedelta(minutes=15)
    # Written work: accepted this long after the time is up; reminders of minutes left.
    written_grace: timedelta = timedelta(minutes=10)
    written_reminders: Annotated[tuple[int, ...], NoDecode] = (30, 10, 5)
    # Individual study plans: the distance-learning share a master's plan may hold (a plan
    # row may give its own, e.g. 0.5 without a part-time form), and the days before a
    # deadline at which the student is reminded.
    plan_distance_limit: float = Field(default=DEFAULT_DISTANCE_LIMIT, gt=0, le=1)
    plan_reminder_days: Annotated[tuple[int, ...], NoDecode] = DEFAULT_REMINDER_DAYS
    # A copy of every statement goes to the faculty's e-mail (when it has one) through
    # this server; unset, nothing is e-mailed. A secret: it may hold a password.
    smtp_url: SecretStr | None = None
    mail_from: str = "examinator@localhost"
    # Webhook mode (WEBHOOK_URL set): Telegram posts updates to that public https URL; the
    # bot listens on WEBHOOK_HOST:WEBHOOK_PORT at WEBHOOK_PATH (behind a TLS proxy) and
    # refuses calls without WEBHOOK_SECRET. Unset: long polling.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    webhook_path: str = "/telegram"
    # /healthz and /metrics on a port of their own (0: off); local only unless told.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    log_format: str = "text"
    # The Mini App (bot.webapp): the public https base URL Telegram opens (unset: off, the
    # chat interface alone). In polling mode it has a server of its own on WEBAPP_HOST:
    # WEBAPP_PORT; in webhook mode its routes are served by the webhook server. A page's
    # initData older than WEBAPP_AUTH_MAX_AGE seconds is refused.
    webapp_url: str | None = None
    webapp_host: str = "0.0.0.0"
    webapp_port: int = Field(default=8081, ge=0, le=65535)  # 0: any free port (tests)
    webapp_auth_max_age: int = Field(default=3600, gt=0)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        head, _, tail = token.partition(":")
        if not head.isdigit() or not tail:
            raise ValueError("must look like 123456:ABC… (ask @BotFather)")
        return SecretStr(token)

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8081")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("journal_dir", mode="before")
    @classmethod
    def _journal_dir(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_smtp_url(value.get_secret_value())
        return SecretStr(value.get_secret_value().strip())

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        _name, address = parseaddr(value)
        if "@" not in address or any(c.isspace() for c in address):
            raise ValueError("must be an e-mail address, such as examinator@university.ru")
        return value.strip()

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        parsed = urlparse(value.strip())
        # Telegram delivers to https only; plain http is refused by setWebhook.
        if parsed.scheme != "https" or not parsed.netloc:
            raise ValueError("must be a public https URL such as https://bot.example.org/telegram")
        return value.strip()

    @field_validator("webapp_url")
    @classmethod
    def _webapp_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        parsed = urlparse(value.strip())
        # Telegram opens web apps over https only.
        if parsed.scheme != "https" or not parsed.netloc:
            raise ValueError("must be a public https URL such as https://bot.example.org/app/")
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        secret = value.get_secret_value().strip() if value is not None else ""
        if secret and not WEBHOOK_SECRET_SHAPE.fullmatch(secret):
            raise ValueError("must be 1–256 characters: letters, digits, _ and -")
        # Without it anyone who learns the URL could post forged updates.
        if not secret and info.data.get("webhook_url"):
            raise ValueError(
                "is required when WEBHOOK_URL is set (1–256 characters: letters, digits, _ and -)"
            )
        return SecretStr(secret) if secret else None

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError("must be a path such as /telegram")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.strip().lower() not in LOG_FORMATS:
            raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}")
        return value.strip().lower()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone (use an IANA name such as Europe/Moscow)") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("must be Telegram user ids separated by commas") from exc
        return value

    def token(self) -> str:
        if self.bot_token is None:
            raise ConfigError(
                "Configuration error: BOT_TOKEN is required (get one from @BotFather)"
            )
        return self.bot_token.get_secret_value()

    @field_validator("written_reminders", mode="before")
    @classmethod
    def _minutes_list(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            try:
                minutes = tuple(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("must be minutes separated by commas, such as 30,10,5") from exc
            if any(m <= 0 for m in minutes):
                raise ValueError("must be positive minutes, such as 30,10,5")
            return minutes
        return value

    @field_validator("plan_reminder_days", mode="before")
    @classmethod
    def _days_list(cls, value: object) -> object:
        return parse_reminder_days(value) if isinstance(value, str) else value

    @field_validator("day_before_lead", "join_early_lead", "outage_wait")
    @classmethod
    def _positive_lead(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration such as 00:15:00")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def login_window(self) -> timedelta:
        return timedelta(hours=1)

    @property
    def smtp(self) -> SmtpTarget | None:
        """The mail server, or None when statements are not e-mailed."""
        if self.smtp_url is None:
            return None
        return parse_smtp_url(self.smtp_url.get_secret_value())


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line naming it."""


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
        message = "is required" if err["type"] == "missing" else err["msg"]
        message = message.removeprefix("Value error, ")
        parts.append(f"{name} {message}")
    return "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"Configuration error: {describe_validation_error(exc)}") from exc
