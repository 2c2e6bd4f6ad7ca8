"""SendGridEmailChannel against Prism and a local stub.

Prism serves SendGrid's own contract (``sendgrid_mail_v3.json``) and checks
the JSON body against its schema and the bearer token: a 202 means SendGrid's
contract accepts what we send. Its error answers are the contract's canned
examples.

The stub (:class:`StubServer`, stdlib HTTP on 127.0.0.1) records the body
for checks Prism does not make (base64 attachment, content order, headers)
and makes the faults Prism cannot: 400 with an error list, 429 with
``Retry-After``, 503, a hang.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from engine.channels.base import BaseChannel, OutgoingMessage
from engine.channels.factory import build_channels
from engine.channels.sendgrid import SendGridEmailChannel
from engine.exceptions import ConfigurationError, PermanentChannelError, TransientChannelError
from engine.settings import Settings
from tests.integration.peers import Reply, StubServer, free_port, prism

pytestmark = pytest.mark.peers

API_KEY = "SG.test-key"
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Forvent//test//EN\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:forvent-b1001@verksted.example.no\r\nSEQUENCE:0\r\n"
    "DTSTAMP:20260701T090000Z\r\nDTSTART:20260714T080000Z\r\nDTEND:20260714T090000Z\r\n"
    "SUMMARY:EU-kontroll\r\nATTENDEE;CN=Åse Øvre:mailto:ase@example.com\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
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
    html="<p>Hei Åse,</p>",
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
        "List-Unsubscribe": "<https://forvent.example.com/u/abc>",
    },
    date=datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
)
ACCEPTED = Reply(202, b"", {"X-Message-Id": "sg-abc123"})


@pytest.fixture(scope="session")
def sendgrid_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("prism") / "sendgrid.log"
    with prism("sendgrid_mail_v3.json", log) as url:
        yield url


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(lambda request: ACCEPTED) as server:
        yield server


def stub_channel(stub: StubServer) -> SendGridEmailChannel:
    return SendGridEmailChannel(API_KEY, api_base=stub.url, timeout=0.5)


# --- through Prism: SendGrid's contract ----------------------------------------


def test_an_email_with_an_invite_is_accepted_by_the_contract(sendgrid_prism: str) -> None:
    with SendGridEmailChannel(API_KEY, api_base=sendgrid_prism) as channel:
        result = channel.send(MESSAGE)
    assert result.status == "sent"


def test_a_plain_email_is_accepted_by_the_contract(sendgrid_prism: str) -> None:
    plain = dataclasses.replace(MESSAGE, html=None, ics=None, ics_method=None, to_name=None)
    with SendGridEmailChannel(API_KEY, api_base=sendgrid_prism) as channel:
        channel.send(plain)


def test_an_empty_key_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="api_key"):
        SendGridEmailChannel("")


def test_a_body_the_contract_rejects_is_permanent(sendgrid_prism: str) -> None:
    bad = dataclasses.replace(MESSAGE, reply_to="not an address")
    with (
        SendGridEmailChannel(API_KEY, api_base=sendgrid_prism) as channel,
        pytest.raises(PermanentChannelError) as caught,
    ):
        channel.send(bad)
    assert caught.value.provider_code == "400"


def channels_from(env: dict[str, str]) -> dict[str, BaseChannel]:
    """The factory on the settings these variables give, with email through SendGrid."""
    settings = Settings.from_env({"FORVENT_SMS": "memory", "FORVENT_EMAIL": "sendgrid", **env})
    return build_channels(SimpleNamespace(settings=settings))  # type: ignore[arg-type]


def test_factory_builds_sendgrid_from_the_environment(sendgrid_prism: str) -> None:
    env = {"SENDGRID_API_KEY": API_KEY, "FORVENT_SENDGRID_API_BASE": sendgrid_prism}
    channels = channels_from(env)
    try:
        assert isinstance(channels["email"], SendGridEmailChannel)
        channels["email"].send(MESSAGE)
    finally:
        channels["email"].close()


def test_factory_names_the_missing_key() -> None:
    with pytest.raises(ConfigurationError, match="SENDGRID_API_KEY"):
        channels_from({})


# --- through the stub: the body, and faults Prism cannot make ------------------


def test_the_body_carries_the_whole_email(stub: StubServer) -> None:
    with stub_channel(stub) as channel:
        assert channel.send(MESSAGE).provider_id == "sg-abc123"
    request = stub.requests[0]
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = request.json()
    assert body["personalizations"] == [
        {
            "to": [{"email": "ase@example.com", "name": "Åse Øvre"}],
            "custom_args": {"forvent_message": "42"},
        }
    ]
    assert body["from"] == {"email": "post@verksted.example.no", "name": "Verkstedet"}
    assert body["reply_to"] == {"email": "kontakt@verksted.example.no"}
    assert body["subject"] == "Timen din er bekreftet"
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][0]["value"] == MESSAGE.body


def test_the_invite_is_a_base64_calendar_attachment(stub: StubServer) -> None:
    with stub_channel(stub) as channel:
        channel.send(MESSAGE)
    (attachment,) = stub.requests[0].json()["attachments"]
    assert attachment["type"] == "text/calendar; method=REQUEST"
    assert attachment["filename"] == "invite.ics"
    assert attachment["disposition"] == "attachment"
    assert base64.b64decode(attachment["content"], validate=True) == ICS  # CRLF kept


def test_headers_leave_out_what_sendgrid_reserves(stub: StubServer) -> None:
    reserved = {**MESSAGE.headers, "Reply-To": "x@example.com", "Content-Type": "text/plain"}
    with stub_channel(stub) as channel:
        channel.send(dataclasses.replace(MESSAGE, headers=reserved))
    assert stub.requests[0].json()["headers"] == {
        "X-Forvent-Booking": "B-1001",
        "X-Forvent-Step": "confirmation",
        "X-Forvent-Message": "42",
        "List-Unsubscribe": "<https://forvent.example.com/u/abc>",
        "Message-ID": "<forvent-42-0@verksted.example.no>",
    }


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_client_errors_are_permanent(stub: StubServer, status: int) -> None:
    errors = {"errors": [{"message": "The from email does not match", "field": "from"}]}
    stub.reply_in_turn(Reply(status, errors))
    with stub_channel(stub) as channel, pytest.raises(PermanentChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == str(status)
    assert "The from email does not match (field from)" in str(caught.value)


def test_429_is_transient_with_retry_after(stub: StubServer) -> None:
    stub.reply_in_turn(Reply(429, {"errors": [{"message": "too many requests"}]}, {"Retry-After": "30"}))
    with stub_channel(stub) as channel, pytest.raises(TransientChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == "429"
    assert caught.value.retry_after == timedelta(seconds=30)


def test_503_is_transient_and_the_next_send_succeeds(stub: StubServer) -> None:
    stub.reply_in_turn(Reply(503, b"Service Unavailable"), ACCEPTED)
    with stub_channel(stub) as channel:
        with pytest.raises(TransientChannelError) as caught:
            channel.send(MESSAGE)
        assert (caught.value.provider_code, caught.value.retry_after) == ("503", None)
        assert channel.send(MESSAGE).provider_id == "sg-abc123"


def test_a_timeout_is_transient(stub: StubServer) -> None:
    stub.reply_in_turn(Reply(202, hang=True))
    with stub_channel(stub) as channel, pytest.raises(TransientChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == "timeout"


def test_a_refused_connection_is_transient() -> None:
    api_base = f"http://127.0.0.1:{free_port()}"
    with (
        SendGridEmailChannel(API_KEY, api_base=api_base) as channel,
        pytest.raises(TransientChannelError) as caught,
    ):
        channel.send(MESSAGE)
    assert caught.value.provider_code == "connection"
