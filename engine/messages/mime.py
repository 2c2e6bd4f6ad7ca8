"""The one MIME structure every email channel sends (pure).

:func:`build_mime` turns an :class:`OutgoingEmail` into a stdlib
``EmailMessage``; the file channel writes ``bytes(message)``, SMTP sends it,
SendGrid takes its parts. The layout is what calendar clients expect:

* with an invite: ``multipart/mixed`` holding ``multipart/alternative``
  (``text/plain``, optional ``text/html``, then
  ``text/calendar; method=...; charset=UTF-8``) and the same calendar again as
  an ``invite.ics`` attachment (``application/ics``) for clients that only
  offer attachments;
* without one: ``multipart/alternative`` (text and html) or a single
  ``text/plain`` part.

Calendar parts are base64: other transfer encodings let relays turn the CRLF
line ends RFC 5545 requires into LF. Every message carries ``Message-ID``,
``Date``, ``From``, ``To``, ``Reply-To``, ``Subject`` (RFC 2047-encoded
when not ASCII) and the caller's extra ``headers`` (``X-Forvent-Booking``,
``X-Forvent-Step``, ``X-Forvent-Message``, ``List-Unsubscribe`` ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import policy, utils
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import Policy

#: SMTP line ends; 7bit so bodies become quoted-printable or base64 and pass
#: relays without 8BITMIME.
POLICY = policy.SMTP.clone(cte_type="7bit")
CALENDAR_METHODS = frozenset({"REQUEST", "CANCEL", "PUBLISH"})
ATTACHMENT_NAME = "invite.ics"
# RFC 5322 2.1.1: no line may pass 998 octets, folding or not.
_MAX_LINE = 998
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
# RFC 5322 3.6.8 field name: printable ASCII except the colon.
_HEADER_NAME = re.compile(r"[!-9;-~]+")
# Headers build_mime writes itself; extra headers may not replace them.
_OWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "sender",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
    }
)


@dataclass(frozen=True, kw_only=True)
class OutgoingEmail:
    """One email, ready to serialize.

    ``ics`` is a calendar from ``engine.messages.invites.build_invite`` and
    ``ics_method`` its ``METHOD`` (given together or not at all; they must
    agree, as RFC 6047 requires). ``message_id`` is the full ``<left@right>``;
    ``date`` is aware. Invalid values raise ``ValueError``.
    """

    to: str
    to_name: str | None
    from_addr: str
    from_name: str
    reply_to: str
    subject: str
    text: str
    html: str | None
    ics: bytes | None
    ics_method: str | None
    headers: Mapping[str, str]
    message_id: str
    date: datetime

    def __post_init__(self) -> None:
        if self.date.tzinfo is None or self.date.utcoffset() is None:
            raise ValueError(f"email date must be timezone-aware, got {self.date!r}")
        if not _MESSAGE_ID.fullmatch(self.message_id):
            raise ValueError(f"email message_id must be <left@right>, got {self.message_id!r}")
        if (self.ics is None) != (self.ics_method is None):
            raise ValueError("email ics and ics_method go together")
        if self.ics is not None and self.ics_method is not None:
            _check_calendar(self.ics, self.ics_method)


def build_mime(email: OutgoingEmail) -> EmailMessage:
    """Build the message; ``bytes(result)`` is its SMTP wire form (CRLF)."""
    message = EmailMessage(policy=POLICY)
    _set_headers(message, email)
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    if email.ics is not None and email.ics_method is not None:
        _add_calendar(message, email.ics, email.ics_method)
    return message


def _check_calendar(ics: bytes, method: str) -> None:
    if method not in CALENDAR_METHODS:
        raise ValueError(f"email ics_method must be one of {sorted(CALENDAR_METHODS)}")
    # Clients act on the part's method= parameter and the calendar's METHOD;
    # a mismatch makes them disagree about whether the event was cancelled.
    if f"\r\nMETHOD:{method}\r\n".encode() not in ics:
        raise ValueError(f"email ics does not carry METHOD:{method}")


def _set_headers(message: EmailMessage, email: OutgoingEmail) -> None:
    message["From"] = _address(email.from_name, email.from_addr, "from_addr")
    message["To"] = _address(email.to_name or "", email.to, "to")
    message["Reply-To"] = _address("", email.reply_to, "reply_to")
    message["Subject"] = email.subject
    message["Date"] = utils.format_datetime(email.date)
    message["Message-ID"] = email.message_id
    for name, value in email.headers.items():
        _set_extra_header(message, name, value)


def _address(display_name: str, addr_spec: str, field: str) -> Address:
    try:
        address = Address(display_name, addr_spec=addr_spec)
    except ValueError as exc:
        raise ValueError(f"email {field} {addr_spec!r} is not an address: {exc}") from exc
    if not address.domain:
        raise ValueError(f"email {field} {addr_spec!r} has no domain")
    return address


def _set_extra_header(message: EmailMessage, name: str, value: str) -> None:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"email header name {name!r} is not a valid field name")
    lowered = name.lower()
    if lowered in _OWN_HEADERS or lowered.startswith("content-"):
        raise ValueError(f"email header {name} is set by build_mime, not by headers")
    if "\r" in value or "\n" in value:
        raise ValueError(f"email header {name} must be one line")
    if not value.isascii():
        message[name] = value  # the policy RFC 2047-encodes it
        return
    if len(name) + 2 + len(value) > _MAX_LINE:
        raise ValueError(f"email header {name} is longer than {_MAX_LINE} octets")
    message.set_raw(name, _VerbatimHeader(name, value))


class _VerbatimHeader(str):
    """An ASCII header value written as given, on one line, under any policy.

    The stdlib folder RFC 2047-encodes any word too long for one line, which
    would turn a long ``List-Unsubscribe`` URL into an encoded-word mail
    clients cannot follow. A value with ``name`` and ``fold`` is written by
    calling ``fold``, whichever policy the message is flattened with.
    """

    name: str

    def __new__(cls, name: str, value: str) -> _VerbatimHeader:
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def _add_calendar(message: EmailMessage, ics: bytes, method: str) -> None:
    message.add_alternative(
        ics,
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"method": method, "charset": "UTF-8"},
    )
    message.add_attachment(
        ics,
        maintype="application",
        subtype="ics",
        cte="base64",
        filename=ATTACHMENT_NAME,
        params={"name": ATTACHMENT_NAME},
    )
