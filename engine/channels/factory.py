"""Channels from settings: ``FORVENT_SMS`` and ``FORVENT_EMAIL``.

The kind comes from :class:`engine.settings.Settings`; a provider's own
settings (secrets, hosts) are read from the environment here, when that
provider is chosen, so a missing one is reported only when it matters:

- ``twilio``: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM`` or
  ``TWILIO_MESSAGING_SERVICE_SID``, optional ``FORVENT_TWILIO_API_BASE``;
- ``smtp``: ``SMTP_HOST``, ``SMTP_PORT`` (default 25), ``SMTP_USERNAME`` and
  ``SMTP_PASSWORD`` (together; no AUTH without them), ``SMTP_STARTTLS``;
- ``sendgrid``: ``SENDGRID_API_KEY``, optional ``FORVENT_SENDGRID_API_BASE``.

``FORVENT_SMS_RATE`` wraps the SMS channel in a per-sender rate limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from engine.channels.base import BaseChannel
from engine.channels.file import FileEmailChannel, FileSmsChannel
from engine.channels.memory import MemoryChannel
from engine.channels.ratelimit import RateLimitedChannel
from engine.channels.sendgrid import SENDGRID_API_BASE, SendGridEmailChannel
from engine.channels.smtp import SmtpEmailChannel
from engine.channels.twilio import TwilioSmsChannel
from engine.exceptions import ConfigurationError
from engine.settings import Settings, env_bool

if TYPE_CHECKING:  # the runtime pulls in the database and rendering; channels need neither
    from engine.runtime import Runtime

DEFAULT_SMTP_PORT = 25


def build_channels(runtime: Runtime, env: Mapping[str, str] | None = None) -> dict[str, BaseChannel]:
    """The ``sms`` and ``email`` channels; ``env`` defaults to ``os.environ``."""
    env = os.environ if env is None else env
    settings = runtime.settings
    sms = _sms_channel(settings, env)
    try:
        email = _email_channel(settings, env)
    except BaseException:
        sms.close()
        raise
    return {"sms": sms, "email": email}


def _sms_channel(settings: Settings, env: Mapping[str, str]) -> BaseChannel:
    channel: BaseChannel
    if settings.sms_channel == "file":
        channel = FileSmsChannel(settings.outbox_dir)
    elif settings.sms_channel == "memory":
        channel = MemoryChannel("sms")
    elif settings.sms_channel == "twilio":
        channel = twilio_from_env(env)
    else:
        raise ConfigurationError(f"FORVENT_SMS={settings.sms_channel} is not available")
    if settings.sms_rate is None:
        return channel
    if settings.sms_rate <= 0:
        raise ConfigurationError(
            f"FORVENT_SMS_RATE: must be positive, got {settings.sms_rate}", field="FORVENT_SMS_RATE"
        )
    return RateLimitedChannel(channel, settings.sms_rate)


def _email_channel(settings: Settings, env: Mapping[str, str]) -> BaseChannel:
    if settings.email_channel == "file":
        return FileEmailChannel(settings.outbox_dir)
    if settings.email_channel == "memory":
        return MemoryChannel("email")
    if settings.email_channel == "smtp":
        return smtp_from_env(env)
    if settings.email_channel == "sendgrid":
        return sendgrid_from_env(env)
    raise ConfigurationError(f"FORVENT_EMAIL={settings.email_channel} is not available")


def twilio_from_env(env: Mapping[str, str]) -> TwilioSmsChannel:
    account_sid = _required(env, "TWILIO_ACCOUNT_SID", "FORVENT_SMS=twilio")
    auth_token = _required(env, "TWILIO_AUTH_TOKEN", "FORVENT_SMS=twilio")
    from_number = _optional(env, "TWILIO_FROM")
    service = _optional(env, "TWILIO_MESSAGING_SERVICE_SID")
    if not (from_number or service):
        raise ConfigurationError(
            "FORVENT_SMS=twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID",
            field="TWILIO_FROM",
        )
    return TwilioSmsChannel(
        account_sid,
        auth_token,
        from_number=from_number,
        messaging_service_sid=service,
        api_base=_url(env, "FORVENT_TWILIO_API_BASE"),
    )


def smtp_from_env(env: Mapping[str, str]) -> SmtpEmailChannel:
    username = _optional(env, "SMTP_USERNAME")
    password = _optional(env, "SMTP_PASSWORD")
    if (username is None) != (password is None):
        missing = "SMTP_PASSWORD" if password is None else "SMTP_USERNAME"
        raise ConfigurationError(
            f"{missing} is not set: SMTP_USERNAME and SMTP_PASSWORD go together", field=missing
        )
    return SmtpEmailChannel(
        _required(env, "SMTP_HOST", "FORVENT_EMAIL=smtp"),
        _port(env, "SMTP_PORT"),
        username=username,
        password=password,
        starttls=env_bool(env.get("SMTP_STARTTLS"), name="SMTP_STARTTLS"),
    )


def sendgrid_from_env(env: Mapping[str, str]) -> SendGridEmailChannel:
    return SendGridEmailChannel(
        _required(env, "SENDGRID_API_KEY", "FORVENT_EMAIL=sendgrid"),
        api_base=_url(env, "FORVENT_SENDGRID_API_BASE") or SENDGRID_API_BASE,
    )


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _required(env: Mapping[str, str], name: str, needed_by: str) -> str:
    value = _optional(env, name)
    if value is None:
        raise ConfigurationError(f"{name} is not set: {needed_by} needs it", field=name)
    return value


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = _optional(env, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigurationError(
            f"{name}: expected a URL like http://127.0.0.1:4010, got {value!r}", field=name
        )
    return value


def _port(env: Mapping[str, str], name: str) -> int:
    raw = _optional(env, name)
    if raw is None:
        return DEFAULT_SMTP_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigurationError(f"{name}: expected a port number, got {raw!r}", field=name)
    return int(raw)
