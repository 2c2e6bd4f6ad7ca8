"""The JSON API over the real app: auth, create-or-update, job events, errors, invites, metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from engine.store.tables import HistoryRow
from engine.store.tokens import revoke_token
from tests.web.conftest import OSLO, Deployment

BOOKING: dict[str, Any] = {
    "ref": "API-1",
    "playbook": "car_service",
    "customer": {"name": "Kari Nordmann", "phone": "912 34 567", "email": "kari@example.com", "locale": "nb"},
    "start": "2026-11-24T10:00",
    "end": "2026-11-24T14:00",
    "location": "Verkstedveien 7",
    "facts": {"vehicle": "Toyota Corolla", "estimate": 3450},
}


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    # A refused action (409) also says what the booking is now.
    assert set(body) - {"booking"} == {"code", "message", "field"}
    assert ("booking" in body) <= (response.status_code == 409)
    return body


def test_every_api_route_needs_a_valid_token(deployment: Deployment, client: TestClient) -> None:
    assert client.get("/api/v1/playbooks").status_code == 401
    answer = client.get("/api/v1/playbooks", headers={"Authorization": "Bearer fv_not-a-token"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert error(answer)["code"] == "unauthorized"
    assert client.post("/api/v1/bookings", json=BOOKING).status_code == 401
    assert (
        client.get("/api/v1/playbooks", headers={"Authorization": f"Basic {deployment.token}"}).status_code
        == 401
    )
    good = {"Authorization": f"Bearer {deployment.token}"}
    assert client.get("/api/v1/playbooks", headers=good).status_code == 200
    with deployment.rt.database.session() as session:
        revoke_token(session, business_id=deployment.rt.business.id, name="tests", now=deployment.rt.now())
    assert client.get("/api/v1/playbooks", headers=good).status_code == 401


def test_create_then_update_by_ref_is_idempotent(api: TestClient) -> None:
    created = api.post("/api/v1/bookings", json=BOOKING)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] and body["customer"]["phone"] == "+4791234567"
    assert body["start"] == "2026-11-24T10:00:00+01:00" and body["facts"]["estimate"] == "3450.00"
    assert {m["step"] for m in body["messages"]} >= {"confirmation"}
    again = api.post("/api/v1/bookings", json=BOOKING)
    assert again.status_code == 200 and not again.json()["created"] and not again.json()["changed"]
    assert len(again.json()["messages"]) == len(body["messages"])
    moved = api.post(
        "/api/v1/bookings", json={**BOOKING, "start": "2026-11-25T10:00", "end": "2026-11-25T14:00"}
    )
    assert moved.status_code == 200 and moved.json()["changed"]
    assert moved.json()["promised_start"] == "2026-11-25T10:00:00+01:00"


def test_get_booking_has_the_contract_fields(api: TestClient) -> None:
    api.post("/api/v1/bookings", json=BOOKING)
    body = api.get("/api/v1/bookings/API-1").json()
    for key in (
        "ref", "id", "playbook", "status", "confirmed", "start", "end", "promised_start", "promised_end",
        "timezone", "location", "delay_minutes", "customer", "facts", "messages",
    ):  # fmt: skip
        assert key in body
    assert body["status"] == "booked" and body["delay_minutes"] == 0


def test_job_events_with_at_and_the_history(api: TestClient, deployment: Deployment) -> None:
    api.post("/api/v1/bookings", json={**BOOKING, "start": "2026-11-23T10:00", "end": "2026-11-23T14:00"})
    delayed = api.post("/api/v1/bookings/API-1/delay", json={"minutes": 20, "reason": "kø"})
    assert delayed.status_code == 200 and delayed.json()["delay_minutes"] == 20
    deployment.clock.set(datetime(2026, 11, 23, 10, 40, tzinfo=OSLO))  # reported a little after
    assert (
        api.post("/api/v1/bookings/API-1/start", json={"at": "2026-11-23T10:25"}).json()["status"]
        == "started"
    )
    finding = api.post("/api/v1/bookings/API-1/findings", json={"text": "Bremseklosser", "price": "1 890,50"})
    assert finding.json()["findings"][0] == {
        "id": finding.json()["findings"][0]["id"],
        "text": "Bremseklosser",
        "price": "1890.50",
        "must_fix": False,
        "decision": "pending",
    }
    # Above the 3450 estimate with the finding not approved: staff confirm the price (else 409).
    ready = api.post(
        "/api/v1/bookings/API-1/ready",
        json={"price": 5340, "pickup": "2026-11-23T16:00", "confirm_price": True},
    )
    assert ready.json()["status"] == "ready" and ready.json()["final_price"] == "5340.00"
    assert api.post("/api/v1/bookings/API-1/complete").json()["status"] == "completed"
    history = api.get("/api/v1/bookings/API-1/history").json()
    started = [h for h in history if h["kind"] == "event:job.started"]
    assert started[0]["at"] == "2026-11-23T10:25:00+01:00"
    kinds = [h["kind"] for h in history]
    assert kinds.index("event:booking.delayed") < kinds.index("event:job.completed")


def test_error_shapes(api: TestClient) -> None:
    malformed = api.post(
        "/api/v1/bookings", content=b'{"ref": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and error(malformed)["code"] == "malformed"
    assert error(api.get("/api/v1/bookings/NOPE"))["field"] == "ref"
    assert api.get("/api/v1/bookings/NOPE").status_code == 404
    unknown = api.post("/api/v1/bookings", json={**BOOKING, "playbook": "yoga"})
    assert unknown.status_code == 404 and error(unknown)["field"] == "playbook"
    bad_phone = api.post(
        "/api/v1/bookings", json={**BOOKING, "customer": {**BOOKING["customer"], "phone": "12"}}
    )
    assert bad_phone.status_code == 422 and error(bad_phone)["field"] == "customer.phone"
    bad_time = api.post("/api/v1/bookings", json={**BOOKING, "start": "tomorrow"})
    assert bad_time.status_code == 422 and error(bad_time)["field"] == "start"
    extra = api.post("/api/v1/bookings", json={**BOOKING, "colour": "red"})
    assert extra.status_code == 422 and error(extra)["field"] == "colour"
    api.post("/api/v1/bookings", json=BOOKING)
    zero = api.post("/api/v1/bookings/API-1/delay", json={"minutes": 0})
    assert zero.status_code == 422 and error(zero)["field"] == "minutes"
    both = api.post("/api/v1/bookings/API-1/delay", json={"minutes": 5, "until": "2026-11-24T11:00"})
    assert both.status_code == 422
    api.post("/api/v1/bookings/API-1/start")
    late = api.post("/api/v1/bookings/API-1/delay", json={"minutes": 15})
    assert late.status_code == 409 and error(late)["code"] == "conflict"
    assert api.get("/api/v1/nothing-here").status_code == 404
    assert error(api.delete("/api/v1/bookings/API-1"))["code"] == "method_not_allowed"


def test_a_playbook_that_is_not_a_plain_id_is_a_422_that_reads_no_file(
    api: TestClient, deployment: Deployment
) -> None:
    """``playbook`` becomes a file name: a path must not load, or even probe, files outside the folder."""
    for playbook in (
        "../business",
        "/etc/hostname",
        "../playbooks/car_service",
        "car_service/../car_service",
    ):
        answer = api.post("/api/v1/bookings", json={**BOOKING, "playbook": playbook})
        assert answer.status_code == 422, (playbook, answer.text)
        body = error(answer)
        assert body["field"] == "playbook" and body["message"].startswith("playbook: "), body
        assert "yaml" not in body["message"] and "/work" not in body["message"]
    preview = api.post("/api/v1/playbooks/%2E%2E/preview", json={"start": "2026-11-26T10:00"})
    assert preview.status_code == 422 and error(preview)["field"] == "playbook"
    item = {k: v for k, v in BOOKING.items() if k != "playbook"}
    imported = api.post("/api/v1/bookings:import", json={"playbook": "../business", "bookings": [item]})
    assert [(e["line"], e["field"]) for e in imported.json()["errors"]] == [(1, "playbook")]
    with deployment.rt.database.session() as session:
        assert session.query(HistoryRow).count() == 0


def test_a_name_or_email_no_send_could_carry_is_a_422_at_the_door(
    api: TestClient, deployment: Deployment
) -> None:
    for change, field in (
        ({"name": "Kari\r\nBcc: all@example.com"}, "customer.name"),
        ({"name": "Kari\u2028Nordmann"}, "customer.name"),
        ({"email": "kåre@example.com"}, "customer.email"),
    ):
        answer = api.post("/api/v1/bookings", json={**BOOKING, "customer": {**BOOKING["customer"], **change}})
        assert answer.status_code == 422, answer.text
        assert error(answer)["field"] == field
    assert api.post("/api/v1/bookings", json=BOOKING).status_code == 201
    renamed = api.post(
        "/api/v1/bookings", json={**BOOKING, "customer": {**BOOKING["customer"], "name": "Kari\tNordmann"}}
    )
    assert renamed.status_code == 422 and error(renamed)["field"] == "customer.name"
    assert api.get("/api/v1/bookings/API-1").json()["customer"]["name"] == "Kari Nordmann"


def test_the_api_refuses_a_start_in_the_past_but_import_takes_it(api: TestClient) -> None:
    past = api.post(
        "/api/v1/bookings", json={**BOOKING, "start": "2026-11-20T10:00", "end": "2026-11-20T12:00"}
    )
    assert past.status_code == 422 and error(past)["field"] == "start"
    imported = api.post(
        "/api/v1/bookings:import",
        json={"playbook": "car_service", "bookings": [{**BOOKING, "start": "2026-11-20T10:00", "end": None}]},
    )
    assert imported.json() == {"created": 1, "updated": 0, "unchanged": 0, "errors": []}


def test_invite_is_request_then_cancel_with_the_same_uid(api: TestClient) -> None:
    api.post("/api/v1/bookings", json=BOOKING)
    first = api.get("/api/v1/bookings/API-1/invite.ics")
    assert first.headers["content-type"].startswith("text/calendar")
    assert "METHOD:REQUEST" in first.text and "ATTENDEE" in first.text
    uid = next(line for line in first.text.splitlines() if line.startswith("UID:"))
    api.post("/api/v1/bookings/API-1/cancel", json={"reason": "sick"})
    cancelled = api.get("/api/v1/bookings/API-1/invite.ics").text
    assert "METHOD:CANCEL" in cancelled and uid in cancelled and "SEQUENCE:1" in cancelled


def test_playbooks_preview_and_report(api: TestClient) -> None:
    playbooks = {p["id"]: p for p in api.get("/api/v1/playbooks").json()}
    assert set(playbooks) == {"car_service", "plumber_visit"}
    assert playbooks["plumber_visit"]["options"][0]["id"] == "cleanup"
    preview = api.post(
        "/api/v1/playbooks/car_service/preview",
        json={
            "start": "2026-11-26T10:00",
            "end": "2026-11-26T14:00",
            "locale": "en",
            "events": [{"name": "booking.delayed", "at": "2026-11-26T08:00", "data": {"minutes": 30}}],
        },
    )
    assert preview.status_code == 200, preview.text
    delay = [r for r in preview.json() if r["step"] == "delay_notice" and r["channel"] == "sms"]
    assert delay and "10:30" in delay[0]["body"]
    assert api.post("/api/v1/playbooks/yoga/preview", json={"start": "2026-11-26T10:00"}).status_code == 404
    bad = api.post(
        "/api/v1/playbooks/car_service/preview",
        json={
            "start": "2026-11-26T10:00",
            "events": [{"name": "booking.rescheduled", "at": "2026-11-25T10:00"}],
        },
    )
    assert bad.status_code == 422 and error(bad)["field"] == "events.0.data.start"
    report = api.get("/api/v1/report", params={"since": "2026-11-01T00:00", "until": "2026-12-01T00:00"})
    assert report.status_code == 200 and "overall" in report.json()
    assert api.get("/api/v1/report", params={"since": "yesterday"}).status_code == 422


def test_health_metrics_and_docs(api: TestClient, deployment: Deployment) -> None:
    deployment.book()
    health = api.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'forvent_messages{status="planned",channel="sms"}' in metrics.text
    assert "forvent_dispatch_lag_seconds 0.000" in metrics.text
    deployment.clock.set(deployment.clock.now().replace(hour=9, minute=5))
    lag = next(
        line for line in api.get("/metrics").text.splitlines() if line.startswith("forvent_dispatch_lag")
    )
    assert lag == "forvent_dispatch_lag_seconds 300.000"
    api.post("/webhooks/twilio/status?m=1", data={"MessageStatus": "delivered"})  # unsigned: 403, counted
    assert 'forvent_webhook_requests_total{route="status",outcome="forbidden"} 1' in api.get("/metrics").text
    schema = api.get("/openapi.json").json()
    assert "/api/v1/bookings:import" in schema["paths"] and "ImportIn" in schema["components"]["schemas"]
    assert api.get("/docs").status_code == 200


def test_at_is_recorded_when_given(api: TestClient, deployment: Deployment) -> None:
    api.post("/api/v1/bookings", json=BOOKING)
    deployment.clock.set(datetime(2026, 11, 24, 11, 0, tzinfo=OSLO))
    api.post("/api/v1/bookings/API-1/no-show", json={"at": "2026-11-24T10:20:00+01:00"})
    with deployment.rt.database.session() as session:
        row = session.query(HistoryRow).filter_by(kind="event:booking.no_show").one()
        assert row.at.isoformat() == "2026-11-24T09:20:00+00:00"


def test_a_refused_action_answers_409_with_the_booking_as_it_now_is(api: TestClient) -> None:
    api.post("/api/v1/bookings", json=BOOKING)
    assert api.post("/api/v1/bookings/API-1/cancel", json={"reason": "kunden ringte"}).status_code == 200
    late = api.post("/api/v1/bookings/API-1/delay", json={"minutes": 15})
    assert late.status_code == 409
    body = error(late)
    assert body["code"] == "conflict" and body["message"] == "cannot delay booking API-1: it is cancelled"
    assert body["booking"]["status"] == "cancelled" and body["booking"]["delay_minutes"] == 0
    assert api.get("/api/v1/bookings/API-1").json()["status"] == "cancelled"
