"""Email through SendGrid's v3 Mail Send API (``POST /v3/mail/send``) with httpx.

The JSON body follows the contract in ``shared/contracts/sendgrid_mail_v3.json``
and carries what :func:`engine.messages.mime.build_mime` would: text and html content,
the invite as a base64 ``invite.ics`` attachment of type
``text/calendar; method=...``, ``Reply-To``, ``Message-ID`` and the extra
headers. Headers SendGrid reserves (``To``, ``From``, ``Subject``,
``Reply-To``, ``Content-Type`` ...) are left out: it answers 400 to them.
The Forvent message id travels as the custom arg ``forvent_message`` (event
webhooks echo it back).

Errors map onto the channel errors (see ``engine.channels.base``) with the
HTTP status as ``provider_code``: 429 (with ``Retry-After``), 408, 5xx,
timeouts and connection errors are transient; any other 4xx (400, 401, 403,
413 ...) is permanent.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from engine.channels.base import BaseChannel, OutgoingMessage, SendResult
from engine.channels.file import to_email
from engine.channels.http_errors import post, status_error
from engine.messages.mime import ATTACHMENT_NAME, OutgoingEmail

SENDGRID_API_BASE = "https://api.sendgrid.com"
SEND_PATH = "/v3/mail/send"
# From the contract's description of "headers": SendGrid sets these itself.
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)
MAX_CONNECTIONS = 256  # one per concurrent send (FORVENT_DISPATCH_CONCURRENCY's default)


class SendGridEmailChannel(BaseChannel):
    """Sends email with SendGrid; one ``httpx.Client`` shared by all threads.

    The dispatcher's send threads share the client, which is thread-safe and
    keeps up to ``max_connections`` connections alive (the factory gives
    ``FORVENT_DISPATCH_CONCURRENCY``, one per send in flight). Threads rather
    than ``httpx.AsyncClient``: every channel answers the same blocking
    ``send`` (smtplib and Twilio's client have no async form), a send thread
    spends its 100 ms waiting on the socket with the GIL released, and an
    event loop for one channel would add a second way of running sends for
    no more messages a second.
    """

    name = "email"

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = SENDGRID_API_BASE,
        timeout: float = 15.0,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if not api_key.strip():
            raise ValueError("SendGridEmailChannel needs an api_key")
        self._client = httpx.Client(
            base_url=api_base.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        body = mail_send_body(to_email(message), message.id)
        response = post(self._client, SEND_PATH, channel=self.name, who="SendGrid", json=body)
        if response.is_success:
            # SendGrid's own id; its webhooks report "sg_message_id" starting with it.
            return SendResult(provider_id=response.headers.get("X-Message-Id"))
        text = f"SendGrid answered {response.status_code}: {_error_text(response)}"
        raise status_error(response, text, channel=self.name)

    def close(self) -> None:
        self._client.close()


def mail_send_body(email: OutgoingEmail, message_id: str) -> dict[str, Any]:
    """The ``/v3/mail/send`` JSON for ``email`` (pure)."""
    recipient: dict[str, str] = {"email": email.to}
    if email.to_name:
        recipient["name"] = email.to_name
    sender: dict[str, str] = {"email": email.from_addr}
    if email.from_name:
        sender["name"] = email.from_name
    body: dict[str, Any] = {
        # custom_args goes in the personalization: the contract types the
        # top-level one as a string, the personalization's as an object.
        "personalizations": [{"to": [recipient], "custom_args": {"forvent_message": message_id}}],
        "from": sender,
        "reply_to": {"email": email.reply_to},
        "content": _content(email),
        "headers": _headers(email),
    }
    if email.subject:  # the contract wants at least one character
        body["subject"] = email.subject
    if email.ics is not None:
        body["attachments"] = [_calendar_attachment(email.ics, email.ics_method or "REQUEST")]
    return body


def _content(email: OutgoingEmail) -> list[dict[str, str]]:
    # SendGrid wants text/plain first, then text/html; empty values are invalid.
    parts = [("text/plain", email.text), ("text/html", email.html or "")]
    return [{"type": kind, "value": value} for kind, value in parts if value]


def _headers(email: OutgoingEmail) -> dict[str, str]:
    headers = {
        name: value
        for name, value in email.headers.items()
        if name.lower() not in RESERVED_HEADERS and name.lower() != "message-id"
    }
    # Not reserved by the contract; SendGrid keeps it for authenticated domains.
    headers["Message-ID"] = email.message_id
    return headers


def _calendar_attachment(ics: bytes, method: str) -> dict[str, str]:
    return {
        "content": base64.b64encode(ics).decode("ascii"),
        "type": f"text/calendar; method={method}",
        "filename": ATTACHMENT_NAME,
        "disposition": "attachment",
    }


def _error_text(response: httpx.Response) -> str:
    """SendGrid's first error message (``{"errors": [{"message", "field"}]}``), else the body."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return f"{first.get('message')} (field {first.get('field')})"
    except (ValueError, AttributeError, IndexError, TypeError):
        return response.text[:200]
