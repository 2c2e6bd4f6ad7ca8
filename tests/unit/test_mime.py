"""Emails serialized to wire bytes and parsed back with the stdlib's default policy."""

from __future__ import annotations

import dataclasses
import email
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.messages.invites import Invite, build_invite
from engine.messages.mime import OutgoingEmail, build_mime

OSLO = ZoneInfo("Europe/Oslo")
SUBJECT = "Timen din i morgen – Ærlig Bil 😀"
TEXT = "Hei Åse,\nvelkommen i morgen kl. 10:00.\n"
HTML = "<p>Hei Åse,<br>velkommen i morgen kl. 10:00.</p>\n"
UNSUBSCRIBE = (
    "<https://forvent.example.com/u/eyJhbGciOiJIUzI1NiJ9.eyJtIjoiMDFKMEFCQyJ9."
    "c2lnbmF0dXJlLXRoYXQtaXMtbG9uZy1lbm91Z2gtdG8tbmVlZC1mb2xkaW5n>, <mailto:unsub@aerligbil.no>"
)
INVITE = Invite(
    uid="forvent-42@forvent.example.com",
    sequence=0,
    method="REQUEST",
    start=datetime(2026, 7, 14, 10, tzinfo=OSLO),
    end=datetime(2026, 7, 14, 11, tzinfo=OSLO),
    timezone="Europe/Oslo",
    summary="EU-kontroll",
    description="Lever bilen før 10:00.",
    location=None,
    url=None,
    organizer_name="Ærlig Bil AS",
    organizer_email="post@aerligbil.no",
    attendee_name="Åse Øvre",
    attendee_email="ase@example.com",
    stamp=datetime(2026, 7, 1, 9, tzinfo=UTC),
)
ICS = build_invite(INVITE)
CANCEL_ICS = build_invite(dataclasses.replace(INVITE, method="CANCEL", sequence=1))

BASE = OutgoingEmail(
    to="ase@example.com",
    to_name="Åse Øvre",
    from_addr="post@aerligbil.no",
    from_name="Ærlig Bil AS",
    reply_to="verksted@aerligbil.no",
    subject=SUBJECT,
    text=TEXT,
    html=HTML,
    ics=ICS,
    ics_method="REQUEST",
    headers={
        "X-Forvent-Booking": "BK-42",
        "X-Forvent-Step": "reminder",
        "X-Forvent-Message": "01J0ABC",
        "List-Unsubscribe": UNSUBSCRIBE,
    },
    message_id="<01J0ABC@forvent.example.com>",
    date=datetime(2026, 7, 13, 9, 0, tzinfo=OSLO),
)

Serializer = Callable[[EmailMessage], bytes]
SERIALIZERS: dict[str, Serializer] = {
    "bytes": bytes,
    "as_bytes_smtp": lambda message: message.as_bytes(policy=policy.SMTP),
}


def _email(**changes: Any) -> OutgoingEmail:
    return dataclasses.replace(BASE, **changes)


def _wire(outgoing: OutgoingEmail) -> bytes:
    return bytes(build_mime(outgoing))


def _parse(wire: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(wire, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _types(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.iter_parts()]


def _part(message: EmailMessage, content_type: str) -> EmailMessage:
    (part,) = [p for p in message.walk() if p.get_content_type() == content_type]
    assert isinstance(part, EmailMessage)
    return part


# --- structure --------------------------------------------------------------------------


@pytest.mark.parametrize("serialize", SERIALIZERS.values(), ids=SERIALIZERS.keys())
def test_invite_email_is_mixed_with_alternative_and_attachment(serialize: Serializer) -> None:
    parsed = _parse(serialize(build_mime(BASE)))

    assert parsed.get_content_type() == "multipart/mixed"
    assert _types(parsed) == ["multipart/alternative", "application/ics"]
    alternative = next(parsed.iter_parts())
    assert isinstance(alternative, EmailMessage)
    assert _types(alternative) == ["text/plain", "text/html", "text/calendar"]


def test_calendar_part_carries_method_and_keeps_crlf_through_base64() -> None:
    calendar = _part(_parse(_wire(BASE)), "text/calendar")

    assert calendar.get_param("method") == "REQUEST"
    assert str(calendar.get_param("charset")).upper() == "UTF-8"
    assert calendar["Content-Transfer-Encoding"] == "base64"
    decoded = calendar.get_payload(decode=True)
    assert decoded == ICS
    assert isinstance(decoded, bytes)
    assert decoded.count(b"\r\n") == decoded.count(b"\n")  # no line lost its CR


def test_cancel_calendar_part_says_cancel() -> None:
    calendar = _part(_parse(_wire(_email(ics=CANCEL_ICS, ics_method="CANCEL"))), "text/calendar")

    assert calendar.get_param("method") == "CANCEL"
    assert calendar.get_payload(decode=True) == CANCEL_ICS


def test_invite_is_also_attached_as_invite_ics() -> None:
    attachment = _part(_parse(_wire(BASE)), "application/ics")

    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_param("name") == "invite.ics"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_payload(decode=True) == ICS


def test_invite_without_html_keeps_text_and_calendar_as_alternatives() -> None:
    parsed = _parse(_wire(_email(html=None)))

    alternative = next(parsed.iter_parts())
    assert isinstance(alternative, EmailMessage)
    assert _types(parsed) == ["multipart/alternative", "application/ics"]
    assert _types(alternative) == ["text/plain", "text/calendar"]


def test_email_without_invite_is_text_and_html_alternatives() -> None:
    parsed = _parse(_wire(_email(ics=None, ics_method=None)))

    assert parsed.get_content_type() == "multipart/alternative"
    assert _types(parsed) == ["text/plain", "text/html"]
    assert b"calendar" not in _wire(_email(ics=None, ics_method=None))


def test_plain_email_is_one_text_part_with_every_header() -> None:
    parsed = _parse(_wire(_email(ics=None, ics_method=None, html=None)))

    assert parsed.get_content_type() == "text/plain"
    assert not parsed.is_multipart()
    assert parsed.get_content() == TEXT.replace("\n", "\r\n")  # text travels with CRLF
    assert parsed["Message-ID"] == "<01J0ABC@forvent.example.com>"
    assert parsed["X-Forvent-Step"] == "reminder"


def test_bodies_round_trip() -> None:
    parsed = _parse(_wire(BASE))

    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and html is not None
    # Text travels in canonical form: every line ends in CRLF (RFC 5322, 2046).
    assert plain.get_content() == TEXT.replace("\n", "\r\n")
    assert html.get_content() == HTML.replace("\n", "\r\n")


# --- headers ----------------------------------------------------------------------------


@pytest.mark.parametrize("serialize", SERIALIZERS.values(), ids=SERIALIZERS.keys())
def test_headers_round_trip(serialize: Serializer) -> None:
    parsed = _parse(serialize(build_mime(BASE)))

    assert parsed["Subject"] == SUBJECT
    assert parsed["From"].addresses[0].display_name == "Ærlig Bil AS"
    assert parsed["From"].addresses[0].addr_spec == "post@aerligbil.no"
    assert parsed["To"].addresses[0].display_name == "Åse Øvre"
    assert parsed["To"].addresses[0].addr_spec == "ase@example.com"
    assert parsed["Reply-To"].addresses[0].addr_spec == "verksted@aerligbil.no"
    assert parsed["Date"].datetime == datetime(2026, 7, 13, 7, tzinfo=UTC)
    assert parsed["Message-ID"] == "<01J0ABC@forvent.example.com>"
    assert parsed["X-Forvent-Booking"] == "BK-42"
    assert parsed["X-Forvent-Step"] == "reminder"
    assert parsed["X-Forvent-Message"] == "01J0ABC"
    assert parsed["List-Unsubscribe"] == UNSUBSCRIBE


@pytest.mark.parametrize("name", ["Ærlig Bil, avd. Øst", "Bil AS, Oslo", 'Ola "Bud" Nordmann'])
def test_sender_name_with_comma_or_quotes_stays_one_address(name: str) -> None:
    # An unquoted comma would split From into two addresses.
    parsed = _parse(_wire(_email(from_name=name)))

    (sender,) = parsed["From"].addresses
    assert sender.display_name == name
    assert sender.addr_spec == "post@aerligbil.no"


@pytest.mark.parametrize("serialize", SERIALIZERS.values(), ids=SERIALIZERS.keys())
def test_wire_form_is_ascii_with_crlf_line_ends(serialize: Serializer) -> None:
    wire = serialize(build_mime(BASE))
    (subject,) = [line for line in wire.split(b"\r\n") if line.startswith(b"Subject:")]

    assert wire.isascii()  # non-ASCII went into RFC 2047 words and QP/base64 bodies
    assert wire.count(b"\n") == wire.count(b"\r\n")
    assert b"=?utf-8?" in subject
    assert all(len(line) <= 998 for line in wire.split(b"\r\n"))


@pytest.mark.parametrize("serialize", SERIALIZERS.values(), ids=SERIALIZERS.keys())
def test_long_list_unsubscribe_is_written_verbatim(serialize: Serializer) -> None:
    # A URL folded into RFC 2047 encoded-words is one mail clients cannot follow.
    wire = serialize(build_mime(BASE))

    assert f"\r\nList-Unsubscribe: {UNSUBSCRIBE}\r\n".encode() in wire


def test_non_ascii_extra_header_is_encoded() -> None:
    wire = _wire(_email(headers={"X-Forvent-Step": "påminnelse"}))

    assert b"X-Forvent-Step: =?utf-8?" in wire
    assert _parse(wire)["X-Forvent-Step"] == "påminnelse"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forvent-Step": "reminder\r\nBcc: victim@example.com"},
        {"X-Forvent-Step": "reminder\nBcc: victim@example.com"},
        {"Subject": "another subject"},
        {"content-type": "text/html"},
        {"Bad Name": "x"},
        {"X-Long": "x" * 1000},
    ],
)
def test_unsafe_extra_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        build_mime(_email(headers=headers))


# --- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"date": datetime(2026, 7, 13, 9)},
        {"message_id": "01J0ABC@forvent.example.com"},
        {"ics_method": None},
        {"ics": None},
        {"ics_method": "CANCEL"},  # the calendar says REQUEST
        {"ics_method": "REPLY"},
    ],
)
def test_invalid_email_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _email(**changes)


@pytest.mark.parametrize("field", ["to", "from_addr", "reply_to"])
def test_bad_address_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        build_mime(_email(**{field: "not-an-address"}))
