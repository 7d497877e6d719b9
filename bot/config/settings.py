"""Every knob of the bot, read once from the environment and `.env`.

Slack's secrets keep Slack's own names (`SLACK_BOT_TOKEN`, …) so the usual Slack tooling and
docs apply; everything of ours is `SFVOPI_<ATTRIBUTE>`. Tests build a `Settings` with plain
keyword arguments by attribute name, e.g. `Settings(database_url=..., _env_file=None)`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pydantic
from dotenv import dotenv_values
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SFVOPI_"
ENV_FILE = ".env"

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LOG_FORMATS = ("text", "json")


class Settings(BaseSettings):
    """The bot's configuration; invalid values stop start-up (see `describe_error`)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    port: int = Field(default=3000, gt=0, le=65535, validation_alias="PORT")
    host: str = Field(default="0.0.0.0", min_length=1)  # noqa: S104

    base_url: str = "https://prod-api.superfone.co.in/superfone"
    database_url: str = "sqlite+aiosqlite:///sfvopi-bot.db"
    orgs_file: Path = Path("orgs.yml")
    api_timeout_seconds: float = Field(default=10, gt=0)
    api_tries: int = Field(default=3, ge=1, le=10)
    api_concurrency: int = Field(default=8, ge=1)
    max_targets: int = Field(default=100, ge=1)
    lease_seconds: float = Field(default=120, gt=0)
    sweep_interval_seconds: float = Field(default=15, gt=0)
    # a slash command not answerable within this is refused "busy", nothing filed (Slack: 3 s)
    command_budget_seconds: float = Field(default=2.0, gt=0, le=2.9)
    # Slack's pace for chat.postMessage in one channel (about one a second), kept once Slack
    # has answered 429 for that channel, while posts queue for it (bot/slack/pacing.py)
    slack_post_interval_seconds: float = Field(default=1.0, gt=0)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    metrics_token: SecretStr | None = None
    # the audit log's live sink (docs/audit.md): a JSON Lines file, or a signed webhook
    audit_sink: str | None = None
    audit_sink_secret: SecretStr | None = None
    audit_sink_interval_seconds: float = Field(default=2, gt=0)

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        """slack-sdk joins method names onto this URL, so it must end with a slash."""
        _require_http_url(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        """One spelling, without a trailing slash, so the client can append `/v1/...` paths."""
        _require_http_url(value)
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        """Only SQLite and PostgreSQL are supported; anything else fails now, not at first use."""
        scheme, sep, _ = value.partition("://")
        if not sep or scheme.split("+", 1)[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> str:
        """text (the default) or json: one JSON object per line (bot.observability.logs)."""
        fmt = str(value).strip().lower()
        if fmt not in _LOG_FORMATS:
            raise ValueError(f"expected one of {', '.join(_LOG_FORMATS)}")
        return fmt

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}")
        return level

    @field_validator("audit_sink")
    @classmethod
    def _audit_sink(cls, value: str | None) -> str | None:
        """A file path, or a webhook: https://, or http:// to this machine only (tests)."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if "://" not in value:
            return value
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value
        if parts.scheme == "http" and parts.hostname in _LOOPBACK:
            return value
        raise ValueError(
            "expected a file path or an https:// URL (http:// only to 127.0.0.1 or localhost)"
        )

    @model_validator(mode="after")
    def _audit_sink_signed(self) -> Settings:
        """A webhook sink's deliveries are signed, so a receiver can tell them from forgeries."""
        if self.audit_sink and "://" in self.audit_sink and self.audit_sink_secret is None:
            raise ValueError(
                "a webhook in SFVOPI_AUDIT_SINK needs SFVOPI_AUDIT_SINK_SECRET to sign it"
            )
        return self


def env_name(field: str) -> str:
    """The environment variable that sets `field` (an attribute name or an alias)."""
    info = Settings.model_fields.get(field)
    if info is not None:
        alias = info.validation_alias
        return alias if isinstance(alias, str) else ENV_PREFIX + field.upper()
    return field.upper()


def describe_error(exc: pydantic.ValidationError) -> str:
    """One line naming each bad setting by its environment variable, never echoing a value."""
    parts: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = error["loc"]
        message = _plain_message(error["msg"])
        if not loc:
            parts.append(f"bad settings: {message}")
        elif error["type"] == "missing":
            parts.append(f"missing setting {env_name(str(loc[0]))}")
        else:
            parts.append(f"bad setting {env_name(str(loc[0]))}: {message}")
    return "; ".join(parts)


def environ_with_dotenv(env_file: str | os.PathLike[str] | None = ENV_FILE) -> dict[str, str]:
    """The process environment over the `.env` file, as `Settings` sees them.

    Organization API keys are read by variable name (see `bot.config.orgfile`), and an operator
    who keeps them in `.env` beside the other settings expects them found there too.
    """
    merged: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update(
            (key, value)
            for key, value in dotenv_values(env_file, encoding="utf-8").items()
            if value is not None
        )
    merged.update(os.environ)
    return merged


def _require_http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL")


def _plain_message(message: str) -> str:
    """pydantic's message, without the 'Value error, ' prefix and with a lower-case start."""
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]
