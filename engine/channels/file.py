"""File channels: each message becomes a file under the outbox directory.

SMS as ``<message-id>.sms.json``, email as ``<message-id>.eml``; written to a
temporary file and renamed, so a reader never sees half a message.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from engine.channels.base import BaseChannel, OutgoingMessage, SendResult
from engine.messages.mime import OutgoingEmail, build_mime


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileSmsChannel(BaseChannel):
    name = "sms"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: OutgoingMessage) -> SendResult:
        payload = {
            "to": message.to,
            "from": message.sender,
            "body": message.body,
            "encoding": message.encoding,
            "segments": message.segments,
            "booking": message.booking_ref,
            "step": message.step,
        }
        data = json.dumps(payload, ensure_ascii=False, indent=2).encode() + b"\n"
        write_atomically(self.directory / f"{message.id}.sms.json", data)
        return SendResult(provider_id=f"file-{message.id}")


def to_email(message: OutgoingMessage) -> OutgoingEmail:
    """The one MIME shape every email channel sends."""
    assert message.date is not None and message.from_addr is not None
    return OutgoingEmail(
        to=message.to,
        to_name=message.to_name,
        from_addr=message.from_addr,
        from_name=message.from_name or "",
        reply_to=message.reply_to or message.from_addr,
        subject=message.subject or "",
        text=message.body,
        html=message.html,
        ics=message.ics,
        ics_method=message.ics_method,
        # build_mime owns Message-ID; the dispatcher passes it among the headers.
        headers={k: v for k, v in message.headers.items() if k.lower() != "message-id"},
        message_id=message.headers.get("Message-ID", f"<{message.id}@forvent>"),
        date=message.date,
    )


class FileEmailChannel(BaseChannel):
    name = "email"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: OutgoingMessage) -> SendResult:
        mime = build_mime(to_email(message))
        write_atomically(self.directory / f"{message.id}.eml", bytes(mime))
        return SendResult(provider_id=f"file-{message.id}")
