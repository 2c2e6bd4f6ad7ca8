"""The variables SPEC names (``FORVENT_*``, a provider's), their defaults and how each is read.

This is the one reader of the environment, and it imports no pydantic:
:class:`engine.settings.Settings` declares its fields with these names, defaults
and parsers, and a command that only reads the store (``messages``,
``history``) takes its few values from :func:`read` without loading pydantic at
all, yet refuses a bad variable with the same line the settings give.

A parser takes the variable's text, or a value already of its type (which it
passes on), and raises ``ValueError`` saying what is wrong with the text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.core.timing import parse_timedelta
from engine.exceptions import ConfigurationError

_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_SMTP_PORT = 25
SMS_KINDS = ("file", "twilio", "memory")
EMAIL_KINDS = ("file", "smtp", "sendgrid", "memory")

Parser = Callable[[object], object]


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected 1/0/true/false/yes/no, got {text!r}")


def boolean(value: object) -> object:
    return parse_bool(value) if isinstance(value, str) else value


def blank_is_unset(value: object) -> object:
    return None if value == "" else value


def stripped(value: object) -> object:
    """A provider's value: surrounding blanks dropped, and a blank one is unset."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def duration(value: object) -> object:
    return parse_timedelta(value) if isinstance(value, str) else value


def whole_number(minimum: int) -> Parser:
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


def days(value: object) -> object:
    number = whole_number(1)(value)
    return timedelta(days=number) if isinstance(number, int) else number


def days_kept(value: object) -> object:
    return None if value == "" else whole_number(0)(value)


def number(value: object) -> object:
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None


def one_of(*kinds: str, shown: str) -> Parser:
    def check(value: object) -> object:
        if value not in kinds:
            raise ValueError(f"expected {shown}, got {value!r}")
        return value

    return check


def log_level(value: object) -> object:
    if isinstance(value, str) and value.strip().upper() in LOG_LEVELS:
        return value.strip().upper()
    raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")


def url(value: object) -> object:
    value = stripped(value)
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"expected a URL like http://127.0.0.1:4010, got {value!r}")
    return value


def port(value: object) -> object:
    given = stripped(value)
    if given is None:
        return DEFAULT_SMTP_PORT
    if isinstance(given, str) and given.isdigit():
        given = int(given)
    if not isinstance(given, int) or not 0 < given < 65536:
        raise ValueError(f"expected a port number, got {value!r}")
    return given


def path(value: object) -> object:
    return Path(value) if isinstance(value, str) else value


def no_trailing_slash(value: object) -> object:
    return value.rstrip("/") if isinstance(value, str) else value


def text(value: object) -> object:
    return value


@dataclass(frozen=True)
class Variable:
    name: str  # as SPEC writes it
    default: Any
    parse: Parser = text


# Field name -> variable, in the settings' field order, so the first bad one is the one named.
# A provider's fields are ``provider.field``.
VARIABLES: dict[str, Variable] = {
    "database_url": Variable("FORVENT_DATABASE_URL", "sqlite:///forvent.db"),
    "playbooks_dir": Variable("FORVENT_PLAYBOOKS_DIR", Path("playbooks"), path),
    "templates_dir": Variable("FORVENT_TEMPLATES_DIR", Path("templates"), path),
    "business_file": Variable("FORVENT_BUSINESS_FILE", Path("business.yaml"), path),
    "outbox_dir": Variable("FORVENT_OUTBOX_DIR", Path("outbox"), path),
    "public_url": Variable("FORVENT_PUBLIC_URL", "http://127.0.0.1:8000", no_trailing_slash),
    "secret": Variable("FORVENT_SECRET", None, blank_is_unset),
    "sms_channel": Variable("FORVENT_SMS", "file", one_of(*SMS_KINDS, shown="file or twilio")),
    "email_channel": Variable("FORVENT_EMAIL", "file", one_of(*EMAIL_KINDS, shown="file, smtp or sendgrid")),
    "email_from": Variable("FORVENT_EMAIL_FROM", None, blank_is_unset),
    "link_ttl": Variable("FORVENT_LINK_TTL_DAYS", timedelta(days=60), days),
    "max_lateness": Variable("FORVENT_MAX_LATENESS", timedelta(hours=12), duration),
    "claim_lease": Variable("FORVENT_CLAIM_LEASE", timedelta(minutes=5), duration),
    "max_attempts": Variable("FORVENT_MAX_ATTEMPTS", 6, whole_number(1)),
    # Sends in flight per process: 256 behind a 100 ms provider allow 2,560 a second, more than one
    # process renders on its one core, so the provider's latency is not what limits a process.
    "dispatch_concurrency": Variable("FORVENT_DISPATCH_CONCURRENCY", 256, whole_number(1)),
    # Messages per second per sender; whether it is positive is the channel factory's question.
    "sms_rate": Variable("FORVENT_SMS_RATE", None, number),
    "staff_password": Variable("FORVENT_STAFF_PASSWORD", None, blank_is_unset),
    "retention_days": Variable("FORVENT_RETENTION_DAYS", None, days_kept),
    "now": Variable("FORVENT_NOW", None, blank_is_unset),
    "log_level": Variable("FORVENT_LOG_LEVEL", "WARNING", log_level),
    "twilio.account_sid": Variable("TWILIO_ACCOUNT_SID", None, stripped),
    "twilio.auth_token": Variable("TWILIO_AUTH_TOKEN", None, stripped),
    "twilio.sender": Variable("TWILIO_FROM", None, stripped),
    "twilio.messaging_service_sid": Variable("TWILIO_MESSAGING_SERVICE_SID", None, stripped),
    # A Twilio-compatible server (tests use Prism) instead of https://api.twilio.com.
    "twilio.api_base": Variable("FORVENT_TWILIO_API_BASE", None, url),
    "smtp.host": Variable("SMTP_HOST", None, stripped),
    "smtp.port": Variable("SMTP_PORT", DEFAULT_SMTP_PORT, port),
    "smtp.username": Variable("SMTP_USERNAME", None, stripped),
    "smtp.password": Variable("SMTP_PASSWORD", None, stripped),
    "smtp.starttls": Variable("SMTP_STARTTLS", False, boolean),
    "sendgrid.api_key": Variable("SENDGRID_API_KEY", None, stripped),
    "sendgrid.api_base": Variable("FORVENT_SENDGRID_API_BASE", None, url),
}


def read(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The values of the variables set in ``environ`` (default ``os.environ``), by field name.

    A provider's values are nested (``{"twilio": {"sender": ...}}``); a variable
    not set is left out, so its default applies. A bad value is one
    :class:`ConfigurationError` naming the variable.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field, variable in VARIABLES.items():
        raw = environ.get(variable.name)
        if raw is None:
            continue
        try:
            value = variable.parse(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{variable.name}: {exc}", field=variable.name) from None
        provider, _, name = field.rpartition(".")
        (values.setdefault(provider, {}) if provider else values)[name] = value
    return values


def value(values: Mapping[str, Any], field: str) -> Any:
    """The field's value among ``values`` from :func:`read` (and changes), else its default."""
    return values.get(field, VARIABLES[field].default)
