"""Settings (SPEC "Channels and configuration"), validated.

Each field's alias is the variable SPEC names for it; names, defaults and the
reading of each variable live in :mod:`engine.environment`, the one reader of
the environment. ``Settings(...)`` holds the values it is given and the
defaults, nothing else, so a test or a program that builds one gets exactly what
it built whatever the process environment holds; ``Settings.from_env()`` reads
the variables, and a bad value is one :class:`ConfigurationError` naming the
variable.

A provider's settings (Twilio, SMTP, SendGrid) are checked for form here and for
presence by :mod:`engine.channels.factory`, only when that provider is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from engine import environment
from engine.environment import DEFAULT_SMTP_PORT, VARIABLES
from engine.exceptions import ConfigurationError

__all__ = ["DEFAULT_SMTP_PORT", "SendGridSettings", "Settings", "SmtpSettings", "TwilioSettings", "env_bool"]


def env_bool(value: str | None, *, name: str, default: bool = False) -> bool:
    if value is None:
        return default
    try:
        return environment.parse_bool(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: {exc}", field=name) from None


def _variable(field: str, **options: Any) -> Any:
    """The field's default and alias, from the one table of variables."""
    variable = VARIABLES[field]
    return Field(variable.default, validation_alias=variable.name, **options)


def _read(field: str) -> BeforeValidator:
    return BeforeValidator(VARIABLES[field].parse)


OptionalText = Annotated[str | None, BeforeValidator(environment.blank_is_unset)]
ProviderText = Annotated[str | None, BeforeValidator(environment.stripped)]
ProviderUrl = Annotated[str | None, BeforeValidator(environment.url)]
Duration = Annotated[timedelta, BeforeValidator(environment.duration)]
Count = Annotated[int, BeforeValidator(environment.whole_number(1))]
SmsKind = Literal["file", "twilio", "memory"]
EmailKind = Literal["file", "smtp", "sendgrid", "memory"]

# Names and aliases are both accepted: names in code and tests, aliases from the environment.
_CHANNEL_CONFIG = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)


class TwilioSettings(BaseModel):
    """``FORVENT_SMS=twilio``: the account, the sender (a number or an alphanumeric name)."""

    model_config = _CHANNEL_CONFIG

    account_sid: ProviderText = _variable("twilio.account_sid")
    auth_token: ProviderText = _variable("twilio.auth_token", repr=False)
    sender: ProviderText = _variable("twilio.sender")
    messaging_service_sid: ProviderText = _variable("twilio.messaging_service_sid")
    api_base: ProviderUrl = _variable("twilio.api_base")


class SmtpSettings(BaseModel):
    """``FORVENT_EMAIL=smtp``; no AUTH without both username and password."""

    model_config = _CHANNEL_CONFIG

    host: ProviderText = _variable("smtp.host")
    port: Annotated[int, _read("smtp.port")] = _variable("smtp.port")
    username: ProviderText = _variable("smtp.username")
    password: ProviderText = _variable("smtp.password", repr=False)
    starttls: Annotated[bool, _read("smtp.starttls")] = _variable("smtp.starttls")


class SendGridSettings(BaseModel):
    """``FORVENT_EMAIL=sendgrid``."""

    model_config = _CHANNEL_CONFIG

    api_key: ProviderText = _variable("sendgrid.api_key", repr=False)
    api_base: ProviderUrl = _variable("sendgrid.api_base")


class Settings(BaseModel):
    # What pydantic-settings' BaseSettings gave: unknown fields refused, defaults validated too.
    model_config = ConfigDict(
        frozen=True, validate_by_name=True, validate_by_alias=True, extra="forbid", validate_default=True
    )

    database_url: str = _variable("database_url")
    playbooks_dir: Path = _variable("playbooks_dir")
    templates_dir: Path = _variable("templates_dir")
    business_file: Path = _variable("business_file")
    outbox_dir: Path = _variable("outbox_dir")
    public_url: Annotated[str, AfterValidator(environment.no_trailing_slash)] = _variable("public_url")
    secret: OptionalText = _variable("secret", repr=False)
    sms_channel: Annotated[SmsKind, _read("sms_channel")] = _variable("sms_channel")
    email_channel: Annotated[EmailKind, _read("email_channel")] = _variable("email_channel")
    email_from: OptionalText = _variable("email_from")
    link_ttl: Annotated[timedelta, _read("link_ttl")] = _variable("link_ttl")
    max_lateness: Duration = _variable("max_lateness")
    claim_lease: Duration = _variable("claim_lease")
    max_attempts: Count = _variable("max_attempts")
    dispatch_concurrency: Count = _variable("dispatch_concurrency")
    sms_rate: Annotated[float | None, _read("sms_rate")] = _variable("sms_rate")
    staff_password: OptionalText = _variable("staff_password", repr=False)
    retention_days: Annotated[int | None, _read("retention_days")] = _variable("retention_days")
    now: OptionalText = _variable("now")
    log_level: Annotated[str, _read("log_level")] = _variable("log_level")
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    sendgrid: SendGridSettings = Field(default_factory=SendGridSettings)

    @classmethod
    def from_env(cls, variables: Mapping[str, str] | None = None) -> Settings:
        """The settings the given variables (default: the process's) give."""
        return cls.of(environment.read(variables))

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from :func:`engine.environment.read`'s values (by field name) and changes to them."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise configuration_error(exc) from exc


def configuration_error(exc: ValidationError) -> ConfigurationError:
    """The first problem, named by its variable: ``FORVENT_CLAIM_LEASE: bad duration '5x'``."""
    first = exc.errors()[0]
    name = str(first["loc"][-1]) if first["loc"] else "settings"
    cause = first.get("ctx", {}).get("error")
    problem = str(cause) if isinstance(cause, ValueError) else first["msg"]
    return ConfigurationError(f"{name}: {problem}", field=name)
