"""Channels from settings: ``FORVENT_SMS`` and ``FORVENT_EMAIL``."""

from __future__ import annotations

from engine.channels.base import BaseChannel
from engine.channels.file import FileEmailChannel, FileSmsChannel
from engine.exceptions import ConfigurationError
from engine.runtime import Runtime


def build_channels(runtime: Runtime) -> dict[str, BaseChannel]:
    settings = runtime.settings
    channels: dict[str, BaseChannel] = {}
    if settings.sms_channel == "file":
        channels["sms"] = FileSmsChannel(settings.outbox_dir)
    else:
        raise ConfigurationError(f"FORVENT_SMS={settings.sms_channel} is not available in this build")
    if settings.email_channel == "file":
        channels["email"] = FileEmailChannel(settings.outbox_dir)
    else:
        raise ConfigurationError(f"FORVENT_EMAIL={settings.email_channel} is not available in this build")
    return channels
