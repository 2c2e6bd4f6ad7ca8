"""On my way through the API and the staff board: the event, its ETA, and the SMS it sends.

The deployment's clock stands at Monday 09:00; the plumber visit is 14:00-15:00 that day.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import Deployment, form_csrf, login
from tests.web.test_written_confirmations import Inbox, inbox, to_customer

__all__ = ["inbox"]  # the fixture, shared with the written confirmations' tests


def plumber(deployment: Deployment, locale: str = "nb") -> None:
    deployment.book(
        "P-1", playbook="plumber_visit", locale=locale, start="2026-11-23T14:00", end="2026-11-23T15:00"
    )


def on_my_way_texts(inbox: Inbox) -> list[str]:
    return [body for _, step, body in to_customer(inbox.dispatch()) if step == "on_my_way"]


def test_the_api_records_the_event_and_the_sms_names_the_eta(
    deployment: Deployment, api: TestClient, inbox: Inbox
) -> None:
    plumber(deployment, locale="en")
    assert on_my_way_texts(inbox) == []  # booked: the confirmation, no "on my way"
    answer = api.post("/api/v1/bookings/P-1/on-my-way", json={"eta": "2026-11-23T09:40"})
    assert answer.status_code == 200
    assert (answer.json()["ref"], answer.json()["status"]) == ("P-1", "booked")
    assert on_my_way_texts(inbox) == [
        "Hi Kari! Your plumber is on the way and expects to be with you at about 09:40.\n"
        "Fjordbyen Bil & Rør AS"
    ]
    history = api.get("/api/v1/bookings/P-1/history").json()
    [event] = [h for h in history if h["kind"] == "event:staff.on_my_way"]
    assert event["detail"] == "eta=2026-11-23T09:40:00+01:00"


def test_the_eta_defaults_to_the_expected_start_and_bad_ones_are_422_naming_eta(
    deployment: Deployment, api: TestClient, inbox: Inbox
) -> None:
    plumber(deployment, locale="da")
    for body, text in (
        ({"eta": "2026-11-23T08:30"}, "is not after now"),
        ({"eta": "2026-11-24T09:30"}, "is more than 12 h from now"),
        ({"eta": "tomorrow"}, ""),
    ):
        refused = api.post("/api/v1/bookings/P-1/on-my-way", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "eta" and text in refused.json()["error"]["message"]
    inbox.dispatch()
    assert api.post("/api/v1/bookings/P-1/on-my-way").status_code == 200
    assert on_my_way_texts(inbox) == [
        "Hej Kari! VVS-montøren er på vej og er hos dig ca. kl. 14:00.\nHilsen Fjordbyen Bil & Rør AS"
    ]


def test_on_my_way_is_refused_once_the_job_started_or_the_booking_ended(
    deployment: Deployment, api: TestClient
) -> None:
    plumber(deployment)
    deployment.service.start("P-1")
    refused = api.post("/api/v1/bookings/P-1/on-my-way", json={"eta": "2026-11-23T09:30"})
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == "cannot send on-my-way for booking P-1: it is started"
    assert api.post("/api/v1/bookings/NOPE/on-my-way").status_code == 404


def test_the_board_offers_on_my_way_for_plumber_visits_and_one_tap_sends_it(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    plumber(deployment)
    deployment.book("C-1")  # a car service: its playbook has no step on the event
    inbox.dispatch()
    login(client)
    board = client.get("/staff").text
    plumber_card = board.split('data-ref="P-1"', 1)[1].split("</article>", 1)[0]
    car_card = board.split('data-ref="C-1"', 1)[1].split("</article>", 1)[0]
    assert 'action="/staff/b/P-1/on-my-way"' in plumber_card and ">On my way</button>" in plumber_card
    assert "on-my-way" not in car_card

    tap = client.post("/staff/b/P-1/on-my-way", data={"csrf": form_csrf(board), "next": "/staff"})
    assert tap.status_code == 303 and "done=on-my-way" in tap.headers["location"]
    assert on_my_way_texts(inbox) == [
        "Hei Kari! Rørleggeren er på vei og er hos deg ca. kl. 14:00.\nHilsen Fjordbyen Bil & Rør AS"
    ]
    assert "On my way: the customer is told when you arrive" in client.get(tap.headers["location"]).text


def test_the_booking_page_sends_a_chosen_arrival_time(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    plumber(deployment)
    inbox.dispatch()
    login(client)
    page = client.get("/staff/b/P-1").text
    assert '<input id="eta" name="eta" type="time" required value="14:00">' in page
    sent = client.post(
        "/staff/b/P-1/on-my-way", data={"csrf": form_csrf(page), "eta": "09:35", "next": "/staff/b/P-1"}
    )
    assert sent.status_code == 303
    assert on_my_way_texts(inbox)[0].startswith(
        "Hei Kari! Rørleggeren er på vei og er hos deg ca. kl. 09:35."
    )
    bad = client.post("/staff/b/P-1/on-my-way", data={"csrf": form_csrf(page), "eta": "8.30"})
    assert bad.status_code == 422 and "eta: expected a time such as 09:45" in bad.text
