"""Ready later over HTTP: ``POST /api/v1/bookings/{ref}/delay-ready``, the staff board's
"Ready later" and what the report counts.

The deployment's clock stands at Monday 09:00; the car is promised ready at 17:00.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.channels.memory import MemoryChannel
from engine.dispatch.dispatcher import Dispatcher
from engine.store.tables import MessageRow
from tests.web.conftest import OSLO, Deployment, form_csrf, login

REASON = "Venter på en del"


def dispatch(deployment: Deployment) -> MemoryChannel:
    sms = MemoryChannel("sms")
    dispatcher = Dispatcher(deployment.rt, {"sms": sms, "email": MemoryChannel("email")})
    try:
        dispatcher.run_until_idle()
    finally:
        dispatcher.close()
    return sms


def started(deployment: Deployment, ref: str = "C-1", playbook: str = "car_service") -> None:
    deployment.book(ref, playbook=playbook)
    deployment.service.start(ref)


def delay_ready(api: TestClient, ref: str, body: dict[str, Any]) -> Any:
    return api.post(f"/api/v1/bookings/{ref}/delay-ready", json=body)


def test_the_api_moves_the_ready_time_and_the_customer_is_told_before_the_promise(
    deployment: Deployment, api: TestClient
) -> None:
    started(deployment)
    answer = delay_ready(api, "C-1", {"minutes": 45, "reason": REASON})
    assert answer.status_code == 200
    booking = answer.json()
    assert (booking["status"], booking["end"], booking["promised_end"]) == (
        "started",
        "2026-11-23T17:45:00+01:00",
        "2026-11-23T17:00:00+01:00",
    )
    [sms] = [m for m in dispatch(deployment).sent if m.step == "ready_delay_notice"]
    assert "Vi regner nå med at den er klar i dag kl. 17:45.\nÅrsak: Venter på en del" in sms.body

    later = delay_ready(api, "C-1", {"until": "2026-11-23T18:30"})
    assert later.status_code == 200 and later.json()["end"] == "2026-11-23T18:30:00+01:00"


def test_the_api_refuses_what_the_booking_cannot_take(deployment: Deployment, api: TestClient) -> None:
    started(deployment)
    started(deployment, "P-1", playbook="plumber_visit")

    arrival = delay_ready(api, "P-1", {"minutes": 30})
    assert arrival.status_code == 409
    assert arrival.json()["error"]["message"] == (
        "cannot delay the ready time of booking P-1: its playbook plumber_visit promises arrival, "
        "not a ready time; use delay"
    )
    earlier = delay_ready(api, "C-1", {"until": "2026-11-23T16:00"})
    assert earlier.status_code == 409 and earlier.json()["error"]["field"] == "until"
    assert delay_ready(api, "C-1", {}).status_code == 422
    assert delay_ready(api, "C-1", {"minutes": 0}).status_code == 422
    assert delay_ready(api, "NOPE", {"minutes": 30}).status_code == 404

    deployment.service.ready("C-1")
    deployment.service.complete("C-1")
    closed = delay_ready(api, "C-1", {"minutes": 30})
    assert closed.status_code == 409
    assert closed.json()["error"]["message"] == "cannot delay the ready time of booking C-1: it is completed"
    assert closed.json()["error"]["booking"]["end"] == "2026-11-23T17:00:00+01:00"


def test_the_board_offers_ready_later_for_a_started_car_and_previews_the_text(
    deployment: Deployment, client: TestClient
) -> None:
    started(deployment)
    deployment.book("C-2", name="Ola Hansen")  # not started: running late is its control
    started(deployment, "P-1", playbook="plumber_visit")  # an arrival promise: no ready time
    login(client)
    board = client.get("/staff").text
    assert board.count("/delay-ready?minutes=30") == 1
    assert 'href="/staff/b/C-1/delay-ready?minutes=60"' in board

    preview = client.get("/staff/b/C-1/delay-ready", params={"minutes": 60, "reason": REASON})
    assert preview.status_code == 200
    assert "Vi regner nå med at den er klar i dag kl. 18:00." in preview.text
    assert "Årsak: Venter på en del" in preview.text
    with deployment.rt.database.session() as session:
        assert deployment.service.get(session, "C-1").end_at.astimezone(OSLO).hour == 17  # unchanged

    sent = client.post(
        "/staff/b/C-1/delay-ready",
        data={"csrf": form_csrf(preview.text), "minutes": "60", "reason": REASON},
    )
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/staff?day=2026-11-23&done=ready-later&ref=C-1")
    assert "New ready time saved: the customer is told" in client.get(sent.headers["location"]).text
    with deployment.rt.database.session() as session:
        booking = deployment.service.get(session, "C-1")
        assert booking.end_at.astimezone(OSLO).hour == 18
        notice = session.query(MessageRow).filter_by(booking_id=booking.id, step="ready_delay_notice").one()
        assert notice.status == "planned"

    chosen = client.get("/staff/b/C-1/delay-ready", params={"until": "18:05"})
    assert "No message: the change is below the playbook's minimum delay notice" in chosen.text
    assert client.get("/staff/b/P-1/delay-ready", params={"minutes": 30}).status_code == 409


@pytest.mark.parametrize("told", [True, False])
def test_the_report_counts_a_ready_later_notice_as_announced_in_time(
    deployment: Deployment, api: TestClient, told: bool
) -> None:
    started(deployment)
    if told:
        assert delay_ready(api, "C-1", {"minutes": 45}).status_code == 200
    dispatch(deployment)
    deployment.clock.set(datetime(2026, 11, 23, 17, 30, tzinfo=OSLO))
    deployment.service.ready("C-1")

    report = api.get("/api/v1/report", params={"since": "2026-11-20T00:00", "until": "2026-11-30T00:00"})
    figures = report.json()["playbooks"]["car_service"]
    assert figures["late"] == 1
    if told:
        assert figures["late_announced_in_time_rate"] == 1.0
        assert figures["notice_lead_minutes_median"] == 480.0  # told at 09:00 about 17:00
        assert figures["unannounced_late"] == 0
    else:
        assert figures["late_announced_in_time_rate"] == 0.0
        assert figures["unannounced_late"] == 1
