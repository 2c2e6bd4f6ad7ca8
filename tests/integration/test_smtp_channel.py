"""SmtpEmailChannel against a real aiosmtpd server on 127.0.0.1.

The handler stores each envelope, or answers with the reply code a test
asks for; the received bytes are parsed back with the stdlib's modern email
policy and checked part by part.
"""

from __future__ import annotations

import base64
import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from engine.channels.base import BaseChannel, OutgoingMessage
from engine.channels.factory import build_channels
from engine.channels.smtp import MAX_IDLE_SECONDS, SmtpEmailChannel
from engine.exceptions import ConfigurationError, PermanentChannelError, TransientChannelError
from engine.settings import Settings
from tests.integration.peers import free_port

ICS = "".join(
    f"{line}\r\n"
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Forvent//test//EN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        "UID:forvent-b1001@verksted.example.no",
        "SEQUENCE:0",
        "DTSTAMP:20260701T090000Z",
        "DTSTART:20260714T080000Z",
        "DTEND:20260714T090000Z",
        "SUMMARY:EU-kontroll",
        "ORGANIZER;CN=Verkstedet:mailto:post@verksted.example.no",
        "ATTENDEE;CN=Åse Øvre:mailto:ase@example.com",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
).encode()
MESSAGE = OutgoingMessage(
    id="42",
    channel="email",
    booking_ref="B-1001",
    step="confirmation",
    to="ase@example.com",
    to_name="Åse Øvre",
    body="Hei Åse,\n\nvelkommen tirsdag 14. juli kl. 10:00.\n",
    subject="Timen din er bekreftet",
    html="<p>Hei Åse,</p><p>velkommen tirsdag 14. juli kl. 10:00.</p>",
    from_addr="post@verksted.example.no",
    from_name="Verkstedet",
    reply_to="kontakt@verksted.example.no",
    ics=ICS,
    ics_method="REQUEST",
    headers={
        "X-Forvent-Booking": "B-1001",
        "X-Forvent-Step": "confirmation",
        "X-Forvent-Message": "42",
        "Message-ID": "<forvent-42-0@verksted.example.no>",
    },
    date=datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
)


class Handler:
    """Stores envelopes; ``rcpt_reply`` / ``data_reply`` override the 250."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.peers: list[Any] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        return "250 2.0.0 queued"


def accept_test_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"forvent", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def server(handler: Handler) -> Iterator[Controller]:
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=accept_test_login,
        auth_require_tls=False,  # a test server on loopback, without a certificate
    )
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def channel(server: Controller) -> Iterator[SmtpEmailChannel]:
    channel = SmtpEmailChannel(server.hostname, server.port, timeout=5.0)
    yield channel
    channel.close()


def received(handler: Handler) -> EmailMessage:
    content = handler.envelopes[-1].content
    assert isinstance(content, bytes)
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_an_email_with_an_invite_arrives_whole(channel: SmtpEmailChannel, handler: Handler) -> None:
    result = channel.send(MESSAGE)

    assert result.provider_id == "<forvent-42-0@verksted.example.no>"
    envelope = handler.envelopes[0]
    assert (envelope.mail_from, envelope.rcpt_tos) == (MESSAGE.from_addr, [MESSAGE.to])
    message = received(handler)
    assert message["X-Forvent-Booking"] == "B-1001"
    assert message["X-Forvent-Step"] == "confirmation"
    assert message["X-Forvent-Message"] == "42"
    assert message["Message-ID"] == "<forvent-42-0@verksted.example.no>"
    assert message.get_all("Message-ID") == ["<forvent-42-0@verksted.example.no>"]
    assert message["Reply-To"] == "kontakt@verksted.example.no"
    assert message["To"] == "Åse Øvre <ase@example.com>"
    assert message["Subject"] == "Timen din er bekreftet"
    assert message["Date"].datetime == MESSAGE.date


def test_the_invite_is_an_alternative_and_an_attachment(channel: SmtpEmailChannel, handler: Handler) -> None:
    channel.send(MESSAGE)
    message = received(handler)

    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    plain, html, calendar = alternative.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert plain.get_content_type() == "text/plain"
    assert "velkommen tirsdag 14. juli" in plain.get_content()
    assert html.get_content_type() == "text/html"
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST"
    assert calendar["Content-Transfer-Encoding"] == "base64"
    assert calendar.get_payload(decode=True) == ICS  # CRLF line ends intact
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_payload(decode=True) == ICS


def test_the_wire_form_uses_crlf_and_7bit(channel: SmtpEmailChannel, handler: Handler) -> None:
    channel.send(MESSAGE)
    raw = handler.envelopes[0].original_content
    assert raw is not None
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert base64.b64encode(ICS)[:40] in raw.replace(b"\r\n", b"")


def test_connections_are_reused(channel: SmtpEmailChannel, handler: Handler) -> None:
    for _ in range(3):
        channel.send(MESSAGE)
    assert len(handler.envelopes) == 3
    assert len(set(handler.peers)) == 1  # one client port: one connection


def test_a_long_idle_connection_is_not_reused(server: Controller, handler: Handler) -> None:
    now = [0.0]
    with SmtpEmailChannel(server.hostname, server.port, clock=lambda: now[0]) as channel:
        channel.send(MESSAGE)
        now[0] += MAX_IDLE_SECONDS + 1  # servers drop idle clients; do not wait to find out
        channel.send(MESSAGE)
    assert handler.peers[0] != handler.peers[1]


def test_a_connection_the_server_dropped_is_replaced(handler: Handler) -> None:
    port = free_port()
    first = Controller(handler, hostname="127.0.0.1", port=port)
    first.start()
    channel = SmtpEmailChannel("127.0.0.1", port, timeout=5.0)
    channel.send(MESSAGE)
    first.stop()  # drops the pooled connection
    second = Controller(handler, hostname="127.0.0.1", port=port)
    second.start()
    try:
        channel.send(MESSAGE)
    finally:
        channel.close()
        second.stop()
    assert len(handler.envelopes) == 2
    assert handler.peers[0] != handler.peers[1]


def test_auth_with_username_and_password(server: Controller, handler: Handler) -> None:
    with SmtpEmailChannel(server.hostname, server.port, username="forvent", password="s3cret") as channel:
        channel.send(MESSAGE)
    assert len(handler.envelopes) == 1


def test_a_wrong_password_is_permanent(server: Controller) -> None:
    with (
        SmtpEmailChannel(server.hostname, server.port, username="forvent", password="wrong") as channel,
        pytest.raises(PermanentChannelError) as caught,
    ):
        channel.send(MESSAGE)
    assert caught.value.provider_code == "smtp:535"


def test_451_is_transient(channel: SmtpEmailChannel, handler: Handler) -> None:
    handler.data_reply = "451 4.3.0 try again later"
    with pytest.raises(TransientChannelError) as caught:
        channel.send(MESSAGE)
    assert (caught.value.channel, caught.value.provider_code) == ("email", "smtp:451")
    handler.data_reply = None
    channel.send(MESSAGE)  # the failed connection was dropped; a new one works
    assert len(handler.envelopes) == 1


def test_a_refused_recipient_is_permanent(channel: SmtpEmailChannel, handler: Handler) -> None:
    handler.rcpt_reply = "550 5.1.1 no such user"
    with pytest.raises(PermanentChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == "smtp:550"
    assert "no such user" in str(caught.value)


def test_a_rejected_message_is_permanent(channel: SmtpEmailChannel, handler: Handler) -> None:
    handler.data_reply = "554 5.7.1 rejected as spam"
    with pytest.raises(PermanentChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == "smtp:554"


def test_a_greylisted_recipient_is_transient(channel: SmtpEmailChannel, handler: Handler) -> None:
    handler.rcpt_reply = "450 4.2.0 greylisted"
    with pytest.raises(TransientChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == "smtp:450"


def test_starttls_on_a_server_without_it_is_permanent(server: Controller) -> None:
    with (
        SmtpEmailChannel(server.hostname, server.port, starttls=True) as channel,
        pytest.raises(PermanentChannelError) as caught,
    ):
        channel.send(MESSAGE)
    assert caught.value.provider_code == "smtp:unsupported"


def test_a_refused_connection_is_transient() -> None:
    with (
        SmtpEmailChannel("127.0.0.1", free_port()) as channel,
        pytest.raises(TransientChannelError) as caught,
    ):
        channel.send(MESSAGE)
    assert caught.value.provider_code == "smtp:connection"


def test_a_silent_server_times_out_as_transient() -> None:
    with socket.socket() as silent:  # accepts TCP (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with (
            SmtpEmailChannel("127.0.0.1", port, timeout=0.3) as channel,
            pytest.raises(TransientChannelError) as caught,
        ):
            channel.send(MESSAGE)
    assert caught.value.provider_code == "smtp:timeout"


def channels_from(env: dict[str, str]) -> dict[str, BaseChannel]:
    """The factory on the settings these variables give, with email through SMTP."""
    settings = Settings.from_env({"FORVENT_SMS": "memory", "FORVENT_EMAIL": "smtp", **env})
    return build_channels(SimpleNamespace(settings=settings))  # type: ignore[arg-type]


def test_factory_builds_smtp_from_the_environment(server: Controller, handler: Handler) -> None:
    env = {"SMTP_HOST": server.hostname, "SMTP_PORT": str(server.port), "SMTP_STARTTLS": "no"}
    env |= {"SMTP_USERNAME": "forvent", "SMTP_PASSWORD": "s3cret"}
    channels = channels_from(env)
    try:
        assert isinstance(channels["email"], SmtpEmailChannel)
        channels["email"].send(MESSAGE)
    finally:
        channels["email"].close()
    assert len(handler.envelopes) == 1


@pytest.mark.parametrize(
    ("named", "env"),
    [
        ("SMTP_HOST", {"SMTP_PORT": "25"}),
        ("SMTP_PORT", {"SMTP_HOST": "localhost", "SMTP_PORT": "smtp"}),
        ("SMTP_PASSWORD", {"SMTP_HOST": "localhost", "SMTP_USERNAME": "forvent"}),
        ("SMTP_STARTTLS", {"SMTP_HOST": "localhost", "SMTP_STARTTLS": "maybe"}),
    ],
)
def test_factory_names_the_missing_or_bad_variable(named: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=named):
        channels_from(env)
