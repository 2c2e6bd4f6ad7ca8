"""Hostile bytes at the HTTP door, on SQLite and on a real PostgreSQL.

PostgreSQL refuses NUL in text and integers past bigint, where SQLite stores
or converts them: inputs that were harmless on one gave a 500 on the other.
Each test runs on both (``database_url``), through the whole app
(``engine.web.app.create_app``), with Twilio's own request signing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from engine.core.clock import FixedClock
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.settings import Settings, TwilioSettings
from engine.store.tables import HistoryRow, MessageRow
from engine.store.tokens import create_token
from engine.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
PUBLIC = "http://127.0.0.1:8000"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Europe/Oslo"))


@dataclass
class Site:
    rt: Runtime
    http: TestClient
    token: str

    def twilio(self, path: str, form: dict[str, str]) -> int:
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, form)
        return self.http.post(path, data=form, headers={"X-Twilio-Signature": signature}).status_code

    def history(self) -> list[tuple[str, str | None]]:
        with self.rt.database.session() as session:
            return [(h.kind, h.detail) for h in session.query(HistoryRow).order_by(HistoryRow.id)]


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    settings = Settings(
        database_url=database_url,
        playbooks_dir=REPO / "playbooks",
        templates_dir=REPO / "templates",
        business_file=REPO / "business.yaml",
        outbox_dir=tmp_path / "outbox",
        public_url=PUBLIC,
        secret="test-secret-not-for-production",
        twilio=TwilioSettings(auth_token=TWILIO_TOKEN),
    )
    rt = Runtime(settings, clock=FixedClock(MONDAY_NOON))
    rt.database.upgrade()
    with rt.database.session() as session:
        token = create_token(
            session, business_id=rt.business.id, business_name=rt.business.name, name="t", now=rt.now()
        )
    BookingService(rt).book(
        BookingInput(
            ref="C-1",
            playbook="car_service",
            name="Kari Nordmann",
            phone="+4791234567",
            email="kari@example.com",
            start="2026-11-26T10:00",
            end="2026-11-26T14:00",
            facts={"vehicle": "Toyota Corolla"},
        )
    )
    with TestClient(create_app(rt, dispatch=False), base_url=PUBLIC, raise_server_exceptions=False) as http:
        yield Site(rt, http, token)
    rt.close()


def test_an_inbound_sms_with_nul_bytes_is_taken_without_them(site: Site) -> None:
    form = {"MessageSid": "SM\x00nul", "From": "+4791234567\x00", "To": "+4759441122", "Body": "Ja\x00 takk!"}
    assert site.twilio("/webhooks/twilio/inbound", form) == 200
    [reply] = [detail for kind, detail in site.history() if kind == "reply"]
    assert reply is not None and "Ja takk!" in reply and "\x00" not in reply
    assert site.twilio("/webhooks/twilio/inbound", form) == 200  # the replay is still recognised
    assert [kind for kind, _ in site.history()].count("reply") == 1


@pytest.mark.parametrize(
    "message_id",
    [
        pytest.param("²", id="superscript-two"),  # "²".isdigit() is True, int("²") raises
        pytest.param("١", id="arabic-indic-one"),  # int() reads it as 1: it must not find message 1
        pytest.param("9" * 30, id="past-bigint"),
        pytest.param("-1", id="negative"),
        pytest.param("1\x00", id="nul"),
    ],
)
def test_a_status_callback_for_no_message_of_ours_is_ignored(site: Site, message_id: str) -> None:
    with site.rt.database.session() as session:
        before = [(m.id, m.status) for m in session.query(MessageRow).order_by(MessageRow.id)]
    path = "/webhooks/twilio/status?" + urlencode({"m": message_id})
    assert site.twilio(path, {"MessageSid": "SM1", "MessageStatus": "undelivered"}) == 204
    with site.rt.database.session() as session:
        assert [(m.id, m.status) for m in session.query(MessageRow).order_by(MessageRow.id)] == before


def test_a_csv_row_with_a_nul_byte_is_reported_and_the_good_rows_are_imported(site: Site) -> None:
    csv = (
        "ref,customer_name,customer_phone,start,fact_vehicle\n"
        "C-10,Kari Nordmann,912 34 567,2026-11-24T10:00,Toyota Corolla\n"
        "C-11,Ola\x00 Hansen,913 45 678,2026-11-24T11:00,Skoda Octavia\n"
        "C-12,Per Olsen,+4796789012,2026-11-25T09:00,Volvo\x00 V70\n"
        "C-13,Ingrid Berg,+4794567890,2026-11-25T10:00,Tesla\n"
    )
    answer = site.http.post(
        "/api/v1/bookings:import?playbook=car_service",
        content=csv.encode(),
        headers={"Content-Type": "text/csv", "Authorization": f"Bearer {site.token}"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["created"] == 2
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(3, "customer_name"), (4, "fact_vehicle")]
    assert report["errors"][0]["message"] == "customer_name: must not contain NUL characters"
    for ref in ("C-10", "C-13"):
        shown = site.http.get(f"/api/v1/bookings/{ref}", headers={"Authorization": f"Bearer {site.token}"})
        assert shown.status_code == 200
