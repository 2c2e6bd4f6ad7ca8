"""A final price above estimate + approved extras is held until staff confirm it (API and board).

Kari's Toyota was estimated at NOK 3,450; she approved new brake pads at NOK 1,890 on her
page, so she expects at most NOK 5,340. Staff mark the car ready at NOK 6,000: nothing
is recorded or sent until they confirm, and then the ready notice names the extra work.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from engine.messages.formatting import money
from engine.store.tables import FindingRow
from tests.web.conftest import Deployment, form_csrf, login
from tests.web.test_written_confirmations import Inbox, Page, inbox, to_customer

__all__ = ["inbox"]  # the fixture, shared with the written confirmations' tests


def kari_approved_brake_pads(deployment: Deployment, client: TestClient, locale: str = "nb") -> None:
    deployment.book("C-1", locale=locale, facts={"vehicle": "Toyota Corolla", "estimate": 3450})
    deployment.service.start("C-1")
    deployment.service.finding("C-1", text="Bremseklosser foran", price="1890", must_fix=True)
    with deployment.rt.database.session() as session:
        finding = session.query(FindingRow).one().id
    Page(client, deployment, "C-1").post(f"findings/{finding}", decision="approved")


def booking(api: TestClient, ref: str = "C-1") -> dict[str, Any]:
    answer = api.get(f"/api/v1/bookings/{ref}")
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def history_kinds(api: TestClient, ref: str = "C-1") -> list[str]:
    return [h["kind"] for h in api.get(f"/api/v1/bookings/{ref}/history").json()]


def test_the_api_holds_a_price_over_the_estimate_with_the_figures_then_sends_it_confirmed(
    deployment: Deployment, client: TestClient, api: TestClient, inbox: Inbox
) -> None:
    kari_approved_brake_pads(deployment, client)
    inbox.dispatch()
    before = history_kinds(api)

    held = api.post("/api/v1/bookings/C-1/ready", json={"price": 6000})
    assert held.status_code == 409
    error = held.json()["error"]
    assert (error["code"], error["field"]) == ("price_over_estimate", "price")
    assert {k: error[k] for k in ("price", "estimate", "approved_extras", "allowed")} == {
        "price": "6000.00",
        "estimate": "3450.00",
        "approved_extras": "1890.00",
        "allowed": "5340.00",
    }
    assert "confirm_price" in error["message"]
    assert error["booking"]["status"] == "started"
    # Nothing recorded, nothing planned.
    assert booking(api)["status"] == "started" and booking(api)["final_price"] is None
    assert history_kinds(api) == before
    assert inbox.dispatch() == []

    sent = api.post("/api/v1/bookings/C-1/ready", json={"price": 6000, "confirm_price": True})
    assert sent.status_code == 200
    assert (sent.json()["status"], sent.json()["final_price"]) == ("ready", "6000.00")
    [notice] = [body for channel, step, body in to_customer(inbox.dispatch()) if channel == "sms"]
    assert notice == (
        "Hei Kari! Bilen din er klar.\n"
        "Du kan hente den når det passer i åpningstiden.\n"
        "Å betale: 6 000,00 kr (prisoverslag: 3 450,00 kr).\n"
        "Ekstraarbeid du godkjente:\n"
        "- Bremseklosser foran (1 890,00 kr)\n"
        "Hilsen Fjordbyen Bil & Rør AS"
    )
    # The report still counts it: the price is above what Kari agreed to, confirmed or not.
    report = api.get("/api/v1/report", params={"since": "2026-11-01T00:00", "until": "2026-12-01T00:00"})
    assert report.json()["playbooks"]["car_service"]["over_estimate"] == 1


def test_a_price_within_estimate_and_approved_extras_goes_at_once(
    deployment: Deployment, client: TestClient, api: TestClient, inbox: Inbox
) -> None:
    kari_approved_brake_pads(deployment, client, locale="en")
    inbox.dispatch()
    assert api.post("/api/v1/bookings/C-1/ready", json={"price": "5340"}).status_code == 200
    [notice] = [body for channel, step, body in to_customer(inbox.dispatch()) if step == "ready_notice"]
    assert "Extra work you approved:\n- Bremseklosser foran (NOK 1,890.00)\n" in notice


def test_without_an_estimate_there_is_nothing_to_hold_the_price_against(
    deployment: Deployment, api: TestClient
) -> None:
    deployment.book("C-1")
    deployment.service.start("C-1")
    assert api.post("/api/v1/bookings/C-1/ready", json={"price": 99000}).status_code == 200


def test_a_plumber_completion_is_held_but_a_car_completion_after_ready_is_not(
    deployment: Deployment, api: TestClient
) -> None:
    # The plumber's playbook has no ready notice: the completion summary shows the price.
    deployment.book("P-1", playbook="plumber_visit", facts={"task": "Tett avløp", "estimate": 1500})
    held = api.post("/api/v1/bookings/P-1/complete", json={"price": 2100})
    assert held.status_code == 409
    assert (held.json()["error"]["code"], held.json()["error"]["allowed"]) == (
        "price_over_estimate",
        "1500.00",
    )
    assert booking(api, "P-1")["status"] == "booked"
    done = api.post("/api/v1/bookings/P-1/complete", json={"price": 2100, "confirm_price": True})
    assert (done.status_code, done.json()["status"]) == (200, "completed")
    # A car's price was confirmed when it was ready; the completion does not ask again.
    deployment.book("C-2", facts={"vehicle": "Toyota Corolla", "estimate": 3450})
    deployment.service.start("C-2")
    deployment.service.ready("C-2", price="4000", confirm_price=True)
    assert api.post("/api/v1/bookings/C-2/complete", json={"price": 4000}).status_code == 200


def test_a_refused_state_is_said_before_the_price(deployment: Deployment, api: TestClient) -> None:
    deployment.book("C-1", facts={"vehicle": "Toyota Corolla", "estimate": 3450})
    deployment.service.cancel("C-1")
    answer = api.post("/api/v1/bookings/C-1/ready", json={"price": 9000})
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "conflict")
    assert "it is cancelled" in answer.json()["error"]["message"]


def test_the_board_shows_the_figures_and_confirms_with_one_tap(
    deployment: Deployment, client: TestClient, api: TestClient, inbox: Inbox
) -> None:
    kari_approved_brake_pads(deployment, client)
    inbox.dispatch()
    login(client)
    page = client.get("/staff/b/C-1")
    csrf = form_csrf(page.text)
    held = client.post(
        "/staff/b/C-1/ready", data={"csrf": csrf, "price": "6 000", "pickup": "", "next": "/staff/b/C-1"}
    )
    assert held.status_code == 409
    html = held.text
    staff_locale = deployment.rt.business.default_locale  # the board's money, as on every staff page
    assert "The price is above what Kari agreed to" in html and "Nothing has been sent yet" in html
    for label, amount in (
        ("Final price", 6000),
        ("Estimate", 3450),
        ("Approved extras", 1890),
        ("Agreed in all", 5340),
        ("Over by", 660),
    ):
        shown = money(amount, "NOK", staff_locale)
        assert f"<dt>{label}</dt><dd>" in html and shown in html, (label, shown)
    assert "Bremseklosser foran" in html
    assert booking(api)["status"] == "started"
    assert inbox.dispatch() == []

    [confirm] = [form for form in html.split("<form")[1:] if 'name="confirm_price"' in form]
    assert (
        'action="/staff/b/C-1/ready"' in confirm and f"Confirm {money(6000, 'NOK', staff_locale)}" in confirm
    )
    done = client.post("/staff/b/C-1/ready", data=dict(re.findall(r'name="(\w+)" value="([^"]*)"', confirm)))
    assert done.status_code == 303 and "done=ready" in done.headers["location"]
    assert (booking(api)["status"], booking(api)["final_price"]) == ("ready", "6000.00")
    assert any(step == "ready_notice" for _, step, _ in to_customer(inbox.dispatch()))


def test_the_board_adjusts_the_price_instead(
    deployment: Deployment, client: TestClient, api: TestClient
) -> None:
    kari_approved_brake_pads(deployment, client)
    login(client)
    csrf = form_csrf(client.get("/staff/b/C-1").text)
    held = client.post("/staff/b/C-1/ready", data={"csrf": csrf, "price": "6000", "next": "/staff/b/C-1"})
    assert held.status_code == 409
    assert 'name="price" type="text" inputmode="decimal" required value="5340.00"' in held.text
    adjusted = client.post(
        "/staff/b/C-1/ready", data={"csrf": csrf, "price": "5340.00", "next": "/staff/b/C-1"}
    )
    assert adjusted.status_code == 303
    assert booking(api)["final_price"] == "5340.00"
