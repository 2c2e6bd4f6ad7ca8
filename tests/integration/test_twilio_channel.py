"""TwilioSmsChannel with the official client, against Prism and a local stub.

Prism serves Twilio's own OpenAPI contract (``twilio_api_v2010.json``) and
validates each request: path, form body, basic auth. It answers with the
contract's example, so a send returns that example's SID; a request the
contract rejects gets a 422.

Faults Prism cannot make (a 503, a hang, a 429 with ``Retry-After``, Twilio's
21610/21211/21614 error bodies) come from :class:`StubServer`, a stdlib HTTP
server on 127.0.0.1 answering in Twilio's JSON error format
``{"code", "message", "more_info", "status"}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from engine.channels.base import BaseChannel, OutgoingMessage
from engine.channels.factory import build_channels
from engine.channels.ratelimit import RateLimitedChannel
from engine.channels.twilio import TwilioSmsChannel
from engine.exceptions import ConfigurationError, PermanentChannelError, TransientChannelError
from engine.settings import Settings
from tests.integration.peers import Reply, StubServer, free_port, prism

pytestmark = pytest.mark.peers

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
SERVICE_SID = "MG" + "a" * 32
PRISM_EXAMPLE_SID = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # the contract's "create" example
MESSAGE = OutgoingMessage(
    id="42",
    channel="sms",
    booking_ref="B-1001",
    step="reminder_24h",
    to="+4791234567",
    sender="+4759440000",
    body="Hei Åse! Timen din er i morgen kl. 10:00. Svar JA for å bekrefte.",
    encoding="GSM-7",
    segments=1,
    status_callback="https://forvent.example.com/webhooks/twilio/status?m=42",
)
STUB_TIMEOUT = 0.5  # seconds; the hang test waits this long


@pytest.fixture(scope="session")
def twilio_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("prism") / "twilio.log"
    with prism("twilio_api_v2010.json", log) as url:
        yield url


@pytest.fixture
def channel(twilio_prism: str) -> Iterator[TwilioSmsChannel]:
    channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, from_number="+4759440000", api_base=twilio_prism)
    yield channel
    channel.close()


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(lambda request: created()) as server:
        yield server


def stub_channel(stub: StubServer) -> TwilioSmsChannel:
    return TwilioSmsChannel(
        ACCOUNT_SID, AUTH_TOKEN, from_number="+4759440000", api_base=stub.url, timeout=STUB_TIMEOUT
    )


def created(sid: str = "SM" + "1" * 32) -> Reply:
    return Reply(201, {"sid": sid, "status": "queued", "account_sid": ACCOUNT_SID})


def twilio_error(status: int, code: int, headers: dict[str, str] | None = None) -> Reply:
    body = {
        "code": code,
        "message": f"error {code}",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Reply(status, body, headers or {})


# --- through Prism: Twilio's contract ------------------------------------------


def test_send_is_accepted_by_the_contract_and_returns_the_sid(channel: TwilioSmsChannel) -> None:
    assert channel.send(MESSAGE).provider_id == PRISM_EXAMPLE_SID


def test_messaging_service_is_accepted_by_the_contract(twilio_prism: str) -> None:
    with TwilioSmsChannel(
        ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, api_base=twilio_prism
    ) as channel:
        assert channel.send(MESSAGE).provider_id == PRISM_EXAMPLE_SID


def test_a_malformed_status_callback_is_rejected_and_permanent(channel: TwilioSmsChannel) -> None:
    bad = dataclasses.replace(MESSAGE, status_callback="not a uri")
    with pytest.raises(PermanentChannelError) as caught:
        channel.send(bad)
    assert caught.value.provider_code == "422"  # Prism's validation error
    assert caught.value.channel == "sms"


def test_concurrent_sends_share_one_channel(channel: TwilioSmsChannel) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(channel.send, [MESSAGE] * 32))
    assert {result.provider_id for result in results} == {PRISM_EXAMPLE_SID}


def channels_from(env: dict[str, str]) -> dict[str, BaseChannel]:
    """The factory on the settings these variables give, with SMS through Twilio."""
    settings = Settings.from_env({"FORVENT_SMS": "twilio", "FORVENT_EMAIL": "memory", **env})
    return build_channels(SimpleNamespace(settings=settings))  # type: ignore[arg-type]


def test_factory_builds_twilio_from_the_environment(twilio_prism: str) -> None:
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": "+4759440000",
        "FORVENT_TWILIO_API_BASE": twilio_prism,
    }
    channels = channels_from(env)
    try:
        assert isinstance(channels["sms"], TwilioSmsChannel)
        assert channels["sms"].send(MESSAGE).provider_id == PRISM_EXAMPLE_SID
    finally:
        channels["sms"].close()


def test_factory_wraps_twilio_in_the_rate_limit() -> None:
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    env["TWILIO_MESSAGING_SERVICE_SID"] = SERVICE_SID
    channels = channels_from(env | {"FORVENT_SMS_RATE": "1.0"})
    assert isinstance(channels["sms"], RateLimitedChannel)
    assert isinstance(channels["sms"].inner, TwilioSmsChannel)
    channels["sms"].close()


@pytest.mark.parametrize(
    ("missing", "env"),
    [
        ("TWILIO_ACCOUNT_SID", {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM": "+4759440000"}),
        ("TWILIO_AUTH_TOKEN", {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_FROM": "+4759440000"}),
        ("TWILIO_FROM", {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}),
        (
            "FORVENT_TWILIO_API_BASE",
            {
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_FROM": "+4759440000",
                "FORVENT_TWILIO_API_BASE": "127.0.0.1:4010",
            },
        ),
    ],
)
def test_factory_names_the_missing_or_bad_variable(missing: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        channels_from(env)


# --- through the stub: faults Prism cannot make --------------------------------


def test_the_request_carries_the_message_and_the_callback(stub: StubServer) -> None:
    with stub_channel(stub) as channel:
        assert channel.send(MESSAGE).provider_id == "SM" + "1" * 32
    request = stub.requests[0]
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.headers["Authorization"].startswith("Basic ")
    form = parse_qs(request.body.decode())
    assert form == {
        "To": [MESSAGE.to],
        "From": ["+4759440000"],
        "Body": [MESSAGE.body],
        "StatusCallback": [MESSAGE.status_callback],
    }


def test_503_is_transient_and_the_next_send_succeeds(stub: StubServer) -> None:
    stub.reply_in_turn(twilio_error(503, 20503), created())
    with stub_channel(stub) as channel:
        with pytest.raises(TransientChannelError) as caught:
            channel.send(MESSAGE)
        assert caught.value.provider_code == "20503"
        assert channel.send(MESSAGE).provider_id == "SM" + "1" * 32


def test_429_is_transient_with_retry_after(stub: StubServer) -> None:
    stub.reply_in_turn(twilio_error(429, 20429, {"Retry-After": "7"}))
    with stub_channel(stub) as channel, pytest.raises(TransientChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == "20429"
    assert caught.value.retry_after == timedelta(seconds=7)


def test_retry_after_belongs_to_the_thread_that_got_it(stub: StubServer) -> None:
    stub.responder = lambda request: (
        twilio_error(429, 20429, {"Retry-After": "9"}) if b"429" in request.body else created()
    )
    numbers = [f"+47900004{n:02d}" for n in range(32)]  # +4790000429 is throttled
    messages = [dataclasses.replace(MESSAGE, to=number) for number in numbers]

    def outcome(message: OutgoingMessage) -> object:
        try:
            return sms.send(message).provider_id
        except TransientChannelError as exc:
            return exc.retry_after

    with stub_channel(stub) as sms, ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = dict(zip(numbers, pool.map(outcome, messages), strict=True))
    assert outcomes.pop("+4790000429") == timedelta(seconds=9)
    assert set(outcomes.values()) == {"SM" + "1" * 32}


@pytest.mark.parametrize(
    ("reply", "provider_code"),
    [
        (twilio_error(400, 21610), "21610"),  # unsubscribed (STOP)
        (twilio_error(400, 21211), "21211"),  # invalid 'To' number
        (twilio_error(400, 21614), "21614"),  # not a mobile number
        (twilio_error(401, 20003), "20003"),  # authentication
        (Reply(404, b"not found"), "404"),  # no Twilio body: the status is the code
    ],
)
def test_permanent_errors(stub: StubServer, reply: Reply, provider_code: str) -> None:
    stub.reply_in_turn(reply)
    with stub_channel(stub) as channel, pytest.raises(PermanentChannelError) as caught:
        channel.send(MESSAGE)
    assert (caught.value.channel, caught.value.provider_code) == ("sms", provider_code)
    assert caught.value.reason == f"sms:{provider_code}"


@pytest.mark.parametrize(
    ("reply", "provider_code"),
    [(twilio_error(408, 408), "408"), (twilio_error(500, 20500), "20500")],
)
def test_transient_statuses(stub: StubServer, reply: Reply, provider_code: str) -> None:
    stub.reply_in_turn(reply)
    with stub_channel(stub) as channel, pytest.raises(TransientChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == provider_code
    assert caught.value.retry_after is None


def test_a_timeout_is_transient(stub: StubServer) -> None:
    stub.reply_in_turn(Reply(201, hang=True))
    with stub_channel(stub) as channel, pytest.raises(TransientChannelError) as caught:
        channel.send(MESSAGE)
    assert caught.value.provider_code == "timeout"


def test_a_refused_connection_is_transient() -> None:
    api_base = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with (
        TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, from_number="+4759440000", api_base=api_base) as channel,
        pytest.raises(TransientChannelError) as caught,
    ):
        channel.send(MESSAGE)
    assert caught.value.provider_code == "connection"
