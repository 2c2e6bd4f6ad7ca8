"""Settings from the environment (SPEC "Channels and configuration").

Each field's alias is the variable SPEC names for it. ``Settings(...)`` holds the
values it is given and the defaults, nothing else, so a test or a program that
builds one gets exactly what it built whatever the process environment holds;
``Settings.from_env()`` reads the variables, and a bad value is one
:class:`ConfigurationError` naming the variable.

A provider's settings (Twilio, SMTP, SendGrid) are checked for form here and for
presence by :mod:`engine.channels.factory`, only when that provider is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from engine.core.timing import parse_timedelta
from engine.exceptions import ConfigurationError

_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_SMTP_PORT = 25


def env_bool(value: str | None, *, name: str, default: bool = False) -> bool:
    if value is None:
        return default
    try:
        return _parse_bool(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: {exc}", field=name) from None


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected 1/0/true/false/yes/no, got {text!r}")


def _bool(value: object) -> object:
    return _parse_bool(value) if isinstance(value, str) else value


def _blank_is_unset(value: object) -> object:
    return None if value == "" else value


def _stripped(value: object) -> object:
    """A provider's value: surrounding blanks dropped, and a blank one is unset."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _duration(value: object) -> object:
    return parse_timedelta(value) if isinstance(value, str) else value


def _whole_number(minimum: int) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ValueError(f"expected a whole number, got {value!r}") from None
        if isinstance(value, int) and value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return check


def _days(value: object) -> object:
    number = _whole_number(1)(value)
    return timedelta(days=number) if isinstance(number, int) else number


def _days_kept(value: object) -> object:
    return None if value == "" else _whole_number(0)(value)


def _number(value: object) -> object:
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None


def _one_of(*kinds: str, shown: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if value not in kinds:
            raise ValueError(f"expected {shown}, got {value!r}")
        return value

    return check


def _log_level(value: object) -> object:
    if isinstance(value, str) and value.strip().upper() in _LOG_LEVELS:
        return value.strip().upper()
    raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}, got {value!r}")


def _url(value: object) -> object:
    value = _stripped(value)
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"expected a URL like http://127.0.0.1:4010, got {value!r}")
    return value


def _port(value: object) -> object:
    number = _stripped(value)
    if number is None:
        return DEFAULT_SMTP_PORT
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    if not isinstance(number, int) or not 0 < number < 65536:
        raise ValueError(f"expected a port number, got {value!r}")
    return number


OptionalText = Annotated[str | None, BeforeValidator(_blank_is_unset)]
ProviderText = Annotated[str | None, BeforeValidator(_stripped)]
ProviderUrl = Annotated[str | None, BeforeValidator(_url)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
Count = Annotated[int, BeforeValidator(_whole_number(1))]
SmsKind = Literal["file", "twilio", "memory"]
EmailKind = Literal["file", "smtp", "sendgrid", "memory"]

# Names and aliases are both accepted: names in code and tests, aliases from the environment.
_CHANNEL_CONFIG = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)


class TwilioSettings(BaseModel):
    """``FORVENT_SMS=twilio``: the account, the sender (a number or an alphanumeric name)."""

    model_config = _CHANNEL_CONFIG

    account_sid: ProviderText = Field(None, validation_alias="TWILIO_ACCOUNT_SID")
    auth_token: ProviderText = Field(None, validation_alias="TWILIO_AUTH_TOKEN", repr=False)
    sender: ProviderText = Field(None, validation_alias="TWILIO_FROM")
    messaging_service_sid: ProviderText = Field(None, validation_alias="TWILIO_MESSAGING_SERVICE_SID")
    # A Twilio-compatible server (tests use Prism) instead of https://api.twilio.com.
    api_base: ProviderUrl = Field(None, validation_alias="FORVENT_TWILIO_API_BASE")


class SmtpSettings(BaseModel):
    """``FORVENT_EMAIL=smtp``; no AUTH without both username and password."""

    model_config = _CHANNEL_CONFIG

    host: ProviderText = Field(None, validation_alias="SMTP_HOST")
    port: Annotated[int, BeforeValidator(_port)] = Field(DEFAULT_SMTP_PORT, validation_alias="SMTP_PORT")
    username: ProviderText = Field(None, validation_alias="SMTP_USERNAME")
    password: ProviderText = Field(None, validation_alias="SMTP_PASSWORD", repr=False)
    starttls: Annotated[bool, BeforeValidator(_bool)] = Field(False, validation_alias="SMTP_STARTTLS")


class SendGridSettings(BaseModel):
    """``FORVENT_EMAIL=sendgrid``."""

    model_config = _CHANNEL_CONFIG

    api_key: ProviderText = Field(None, validation_alias="SENDGRID_API_KEY", repr=False)
    api_base: ProviderUrl = Field(None, validation_alias="FORVENT_SENDGRID_API_BASE")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    database_url: str = Field("sqlite:///forvent.db", validation_alias="FORVENT_DATABASE_URL")
    playbooks_dir: Path = Field(Path("playbooks"), validation_alias="FORVENT_PLAYBOOKS_DIR")
    templates_dir: Path = Field(Path("templates"), validation_alias="FORVENT_TEMPLATES_DIR")
    business_file: Path = Field(Path("business.yaml"), validation_alias="FORVENT_BUSINESS_FILE")
    outbox_dir: Path = Field(Path("outbox"), validation_alias="FORVENT_OUTBOX_DIR")
    public_url: Annotated[str, AfterValidator(lambda url: url.rstrip("/"))] = Field(
        "http://127.0.0.1:8000", validation_alias="FORVENT_PUBLIC_URL"
    )
    secret: OptionalText = Field(None, validation_alias="FORVENT_SECRET", repr=False)
    sms_channel: Annotated[SmsKind, BeforeValidator(_one_of(*get_args(SmsKind), shown="file or twilio"))] = (
        Field("file", validation_alias="FORVENT_SMS")
    )
    email_channel: Annotated[
        EmailKind, BeforeValidator(_one_of(*get_args(EmailKind), shown="file, smtp or sendgrid"))
    ] = Field("file", validation_alias="FORVENT_EMAIL")
    email_from: OptionalText = Field(None, validation_alias="FORVENT_EMAIL_FROM")
    link_ttl: Annotated[timedelta, BeforeValidator(_days)] = Field(
        timedelta(days=60), validation_alias="FORVENT_LINK_TTL_DAYS"
    )
    max_lateness: Duration = Field(timedelta(hours=12), validation_alias="FORVENT_MAX_LATENESS")
    claim_lease: Duration = Field(timedelta(minutes=5), validation_alias="FORVENT_CLAIM_LEASE")
    max_attempts: Count = Field(6, validation_alias="FORVENT_MAX_ATTEMPTS")
    # Sends in flight per process: 256 behind a 100 ms provider allow 2,560 a second, more than one
    # process renders on its one core, so the provider's latency is not what limits a process.
    dispatch_concurrency: Count = Field(256, validation_alias="FORVENT_DISPATCH_CONCURRENCY")
    # Messages per second per sender; whether it is positive is the channel factory's question.
    sms_rate: Annotated[float | None, BeforeValidator(_number)] = Field(
        None, validation_alias="FORVENT_SMS_RATE"
    )
    staff_password: OptionalText = Field(None, validation_alias="FORVENT_STAFF_PASSWORD", repr=False)
    retention_days: Annotated[int | None, BeforeValidator(_days_kept)] = Field(
        None, validation_alias="FORVENT_RETENTION_DAYS"
    )
    now: OptionalText = Field(None, validation_alias="FORVENT_NOW")
    log_level: Annotated[str, BeforeValidator(_log_level)] = Field(
        "WARNING", validation_alias="FORVENT_LOG_LEVEL"
    )
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    sendgrid: SendGridSettings = Field(default_factory=SendGridSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment is read by from_env() alone

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the variables in ``environ`` (default ``os.environ``) give."""
        source = EnvironmentSource(cls, os.environ if environ is None else environ)
        try:
            return cls(**source())
        except ValidationError as exc:
            raise configuration_error(exc) from exc


class EnvironmentSource(PydanticBaseSettingsSource):
    """The variables named by the fields' aliases, nested models' too, as the strings they are."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        alias = field.validation_alias
        if not isinstance(alias, str):
            return None, field_name, False
        return self.environ.get(alias), alias, False

    def __call__(self) -> dict[str, Any]:
        return self._values(self.settings_cls)

    def _values(self, model: type[BaseModel]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                nested = self._values(field.annotation)
                if nested:
                    values[name] = nested
                continue
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


def configuration_error(exc: ValidationError) -> ConfigurationError:
    """The first problem, named by its variable: ``FORVENT_CLAIM_LEASE: bad duration '5x'``."""
    first = exc.errors()[0]
    name = str(first["loc"][-1]) if first["loc"] else "settings"
    cause = first.get("ctx", {}).get("error")
    problem = str(cause) if isinstance(cause, ValueError) else first["msg"]
    return ConfigurationError(f"{name}: {problem}", field=name)
