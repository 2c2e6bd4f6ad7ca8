"""Channels from settings: ``FORVENT_SMS`` and ``FORVENT_EMAIL``.

The kind and each provider's settings come from :class:`engine.settings.Settings`,
which has checked their form; what a provider cannot work without is checked
here, when that provider is chosen, so a missing one is reported only when it
matters:

- ``twilio``: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM`` or
  ``TWILIO_MESSAGING_SERVICE_SID``, optional ``FORVENT_TWILIO_API_BASE``;
- ``smtp``: ``SMTP_HOST``, ``SMTP_PORT`` (default 25), ``SMTP_USERNAME`` and
  ``SMTP_PASSWORD`` (together; no AUTH without them), ``SMTP_STARTTLS``;
- ``sendgrid``: ``SENDGRID_API_KEY``, optional ``FORVENT_SENDGRID_API_BASE``.

``FORVENT_SMS_RATE`` wraps the SMS channel in a per-sender rate limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.channels.base import BaseChannel
from engine.channels.file import FileEmailChannel, FileSmsChannel
from engine.channels.memory import MemoryChannel
from engine.channels.ratelimit import RateLimitedChannel
from engine.channels.sendgrid import MAX_CONNECTIONS, SENDGRID_API_BASE, SendGridEmailChannel
from engine.channels.smtp import SmtpEmailChannel
from engine.channels.twilio import POOL_SIZE, TwilioSmsChannel
from engine.channels.webhook import WebhookChannel
from engine.exceptions import ConfigurationError
from engine.settings import SendGridSettings, Settings, SmtpSettings, TwilioSettings

if TYPE_CHECKING:  # the runtime pulls in the database and rendering; channels need neither
    from engine.runtime import Runtime


def build_channels(runtime: Runtime) -> dict[str, BaseChannel]:
    """The ``sms`` and ``email`` channels the runtime's settings choose, and the ``webhook`` one."""
    settings = runtime.settings
    sms = _sms_channel(settings)
    try:
        email = _email_channel(settings)
    except BaseException:
        sms.close()
        raise
    # Outbound webhooks (business.yaml's webhooks:) share the dispatcher's passes.
    return {"sms": sms, "email": email, "webhook": WebhookChannel()}


def _sms_channel(settings: Settings) -> BaseChannel:
    if settings.sms_rate is not None and settings.sms_rate <= 0:
        raise ConfigurationError(
            f"FORVENT_SMS_RATE: must be positive, got {settings.sms_rate}", field="FORVENT_SMS_RATE"
        )
    channel: BaseChannel
    if settings.sms_channel == "file":
        channel = FileSmsChannel(settings.outbox_dir)
    elif settings.sms_channel == "memory":
        channel = MemoryChannel("sms")
    elif settings.sms_channel == "twilio":
        channel = twilio_channel(settings.twilio, connections=settings.dispatch_concurrency)
    else:
        raise ConfigurationError(f"FORVENT_SMS={settings.sms_channel} is not available")
    if settings.sms_rate is None:
        return channel
    return RateLimitedChannel(channel, settings.sms_rate)


def _email_channel(settings: Settings) -> BaseChannel:
    if settings.email_channel == "file":
        return FileEmailChannel(settings.outbox_dir)
    if settings.email_channel == "memory":
        return MemoryChannel("email")
    if settings.email_channel == "smtp":
        return smtp_channel(settings.smtp)
    if settings.email_channel == "sendgrid":
        return sendgrid_channel(settings.sendgrid, connections=settings.dispatch_concurrency)
    raise ConfigurationError(f"FORVENT_EMAIL={settings.email_channel} is not available")


def twilio_channel(twilio: TwilioSettings, *, connections: int = POOL_SIZE) -> TwilioSmsChannel:
    """``connections``: kept open to Twilio, one per send in flight."""
    account_sid = _required(twilio.account_sid, "TWILIO_ACCOUNT_SID", "FORVENT_SMS=twilio")
    auth_token = _required(twilio.auth_token, "TWILIO_AUTH_TOKEN", "FORVENT_SMS=twilio")
    if not (twilio.sender or twilio.messaging_service_sid):
        raise ConfigurationError(
            "FORVENT_SMS=twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID",
            field="TWILIO_FROM",
        )
    return TwilioSmsChannel(
        account_sid,
        auth_token,
        from_number=twilio.sender,
        messaging_service_sid=twilio.messaging_service_sid,
        api_base=twilio.api_base,
        pool_size=connections,
    )


def smtp_channel(smtp: SmtpSettings) -> SmtpEmailChannel:
    if (smtp.username is None) != (smtp.password is None):
        missing = "SMTP_PASSWORD" if smtp.password is None else "SMTP_USERNAME"
        raise ConfigurationError(
            f"{missing} is not set: SMTP_USERNAME and SMTP_PASSWORD go together", field=missing
        )
    return SmtpEmailChannel(
        _required(smtp.host, "SMTP_HOST", "FORVENT_EMAIL=smtp"),
        smtp.port,
        username=smtp.username,
        password=smtp.password,
        starttls=smtp.starttls,
    )


def sendgrid_channel(
    sendgrid: SendGridSettings, *, connections: int = MAX_CONNECTIONS
) -> SendGridEmailChannel:
    """``connections``: kept open to SendGrid, one per send in flight."""
    return SendGridEmailChannel(
        _required(sendgrid.api_key, "SENDGRID_API_KEY", "FORVENT_EMAIL=sendgrid"),
        api_base=sendgrid.api_base or SENDGRID_API_BASE,
        max_connections=connections,
    )


def _required(value: str | None, name: str, needed_by: str) -> str:
    if value is None:
        raise ConfigurationError(f"{name} is not set: {needed_by} needs it", field=name)
    return value
