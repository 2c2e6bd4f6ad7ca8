"""The board's "New booking" and "Move" forms, as staff fill them in.

They go through ``BookingService`` as the CLI and the API do: the customer gets
the same confirmation or moved notice. A refused form comes back with the
error beside the field it names and what was typed, and nothing is stored.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.store.tables import BookingRow, CustomerRow
from tests.web.conftest import Deployment, form_csrf, login
from tests.web.test_written_confirmations import Inbox, inbox, to_customer

__all__ = ["inbox"]

NEW = {
    "playbook": "car_service",
    "name": "Ola Hansen",
    "phone": "912 34 568",
    "email": "",
    "locale": "nb",
    "start": "2026-11-24T08:00",
    "duration": "",
    "location": "",
    "facts.vehicle": "Volvo V70",
    "facts.registration": "EK 12345",
    "facts.estimate": "3450",
    "ref": "",
}


def beside(html: str, field: str) -> str:
    """The error shown beside ``field`` (empty when there is none)."""
    found = re.search(rf'<p class="field-error" id="e-{re.escape(field)}" role="alert">([^<]*)</p>', html)
    return found.group(1) if found else ""


def bookings(deployment: Deployment) -> dict[str, BookingRow]:
    with deployment.rt.database.session() as session:
        rows = list(session.scalars(select(BookingRow)))
        for row in rows:
            session.expunge(row)
    return {row.ref: row for row in rows}


def test_staff_create_a_booking_and_the_customer_gets_the_confirmation(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    login(client)
    assert 'href="/staff/new"' in client.get("/staff").text
    page = client.get("/staff/new?playbook=car_service")
    assert page.status_code == 200 and "Vehicle *" in page.text
    answer = client.post("/staff/new", data={**NEW, "csrf": form_csrf(page.text), "ref": "W-100"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/staff/b/W-100?done=created")
    shown = client.get(answer.headers["location"]).text
    assert "W-100: Booked: the confirmation is on its way to the customer" in shown
    row = bookings(deployment)["W-100"]
    assert row.facts == {"vehicle": "Volvo V70", "registration": "EK 12345", "estimate": "3450.00"}
    assert (row.end_at - row.start_at).total_seconds() == 3 * 3600  # the playbook's 3h
    with deployment.rt.database.session() as session:
        customer = session.get(CustomerRow, row.customer_id)
        assert customer is not None and (customer.name, customer.phone) == ("Ola Hansen", "+4791234568")
    [(channel, step, text)] = to_customer(inbox.dispatch())
    assert (channel, step) == ("sms", "confirmation") and "tirsdag 24. november kl. 08:00" in text


def test_a_duration_sets_the_end_and_an_empty_ref_is_made(deployment: Deployment, client: TestClient) -> None:
    login(client)
    csrf = form_csrf(client.get("/staff/new?playbook=plumber_visit").text)
    form = {**NEW, "playbook": "plumber_visit", "duration": "90", "csrf": csrf, "facts.task": "Tett avløp"}
    form = {k: v for k, v in form.items() if not k.startswith("facts.") or k == "facts.task"}
    answer = client.post("/staff/new", data=form)
    assert answer.status_code == 303
    [row] = bookings(deployment).values()
    assert row.ref.startswith("B-") and answer.headers["location"].startswith(f"/staff/b/{row.ref}?")
    assert (row.playbook, (row.end_at - row.start_at).total_seconds()) == ("plumber_visit", 90 * 60)


def test_a_refused_form_shows_the_error_beside_its_field_and_stores_nothing(
    deployment: Deployment, client: TestClient
) -> None:
    login(client)
    csrf = form_csrf(client.get("/staff/new?playbook=car_service").text)
    answer = client.post("/staff/new", data={**NEW, "csrf": csrf, "facts.vehicle": ""})
    assert answer.status_code == 422
    assert beside(answer.text, "facts.vehicle") == "required by car_service"
    assert 'value="Ola Hansen"' in answer.text  # what was typed is kept
    answer = client.post("/staff/new", data={**NEW, "csrf": csrf, "phone": "12"})
    assert answer.status_code == 422 and beside(answer.text, "phone")
    answer = client.post("/staff/new", data={**NEW, "csrf": csrf, "duration": "soon"})
    assert answer.status_code == 422 and beside(answer.text, "duration") == "whole minutes, at least 1"
    answer = client.post("/staff/new", data={**NEW, "csrf": csrf, "start": "2026-11-20T08:00"})
    assert answer.status_code == 422 and beside(answer.text, "start") == "more than 1 h in the past"
    assert bookings(deployment) == {}
    deployment.book("C-1")
    answer = client.post("/staff/new", data={**NEW, "csrf": csrf, "ref": "C-1"})
    assert answer.status_code == 409 and beside(answer.text, "ref") == "C-1 is another booking already"
    assert bookings(deployment)["C-1"].facts == {"vehicle": "Toyota Corolla"}  # not updated
    assert client.post("/staff/new", data={**NEW, "csrf": "forged"}).status_code == 403


def test_staff_move_a_booking_and_the_customer_is_told_the_new_time(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1")
    inbox.dispatch()
    login(client)
    assert 'href="/staff/b/C-1/move"' in client.get("/staff/b/C-1").text
    page = client.get("/staff/b/C-1/move")
    assert 'value="2026-11-23T14:00"' in page.text and 'value="2026-11-23T17:00"' in page.text
    form = {"csrf": form_csrf(page.text), "start": "2026-11-25T10:00", "end": "2026-11-25T13:00"}
    answer = client.post("/staff/b/C-1/move", data=form)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/staff/b/C-1?done=moved")
    assert "C-1: Moved: the customer is told the new time" in client.get(answer.headers["location"]).text
    row = bookings(deployment)["C-1"]
    assert (row.confirmed, row.invite_sequence, row.schedule_version) == (False, 1, 2)
    sent = to_customer(inbox.dispatch())
    assert (
        "sms",
        "moved",
        "Hei Kari! Avtalen din er flyttet til onsdag 25. november kl. 10:00-13:00.\n"
        "Svar JA for å bekrefte, eller ENDRE hvis tiden ikke passer.\nHilsen Fjordbyen Bil & Rør AS",
    ) in sent


def test_a_refused_move_shows_the_error_beside_its_field(deployment: Deployment, client: TestClient) -> None:
    deployment.book("C-1")
    login(client)
    csrf = form_csrf(client.get("/staff/b/C-1/move").text)
    answer = client.post(
        "/staff/b/C-1/move", data={"csrf": csrf, "start": "2026-11-25T10:00", "end": "2026-11-25T09:00"}
    )
    assert answer.status_code == 422 and beside(answer.text, "end") == "must be after start"
    assert 'value="2026-11-25T09:00"' in answer.text
    answer = client.post("/staff/b/C-1/move", data={"csrf": csrf, "start": "next week"})
    assert answer.status_code == 422 and "not an ISO 8601 time" in beside(answer.text, "start")
    deployment.service.cancel("C-1")
    answer = client.post("/staff/b/C-1/move", data={"csrf": csrf, "start": "2026-11-25T10:00"})
    assert answer.status_code == 409 and "cannot reschedule booking C-1: it is cancelled" in answer.text
    assert bookings(deployment)["C-1"].schedule_version == 1
    assert (
        client.post("/staff/b/C-9/move", data={"csrf": csrf, "start": "2026-11-25T10:00"}).status_code == 404
    )
