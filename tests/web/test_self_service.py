"""Customers change the time themselves: free slots on their page, one tap moves or books.

The demo business (business.yaml) is open Monday to Friday 08:00-16:00 with
room for two bookings of a playbook at once; the engine clock stands at Monday
23 November 2026 09:00 in Oslo. A car service lasts 3 h, a plumber's visit 1 h.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.core.slots import HORIZON_DAYS
from engine.store.tables import BookingRow
from tests.web.conftest import Deployment, form_csrf
from tests.web.test_written_confirmations import Inbox, inbox, to_customer

__all__ = ["inbox"]  # the fixture, shared with the written confirmations' tests

SLOT = re.compile(
    r'<details class="slots"[^>]*>\s*<summary>([^<]+)</summary>\s*<div class="times">(.*?)</div>', re.S
)
TIME = re.compile(r'name="start" value="([^"]+)">([^<]+)</button>')


def offered(html: str) -> dict[str, list[str]]:
    """The page's free times as the customer reads them: day heading -> times."""
    return {day: [label for _, label in TIME.findall(times)] for day, times in SLOT.findall(html)}


def row(deployment: Deployment, ref: str) -> BookingRow:
    with deployment.rt.database.session() as session:
        found = session.scalar(select(BookingRow).where(BookingRow.ref == ref))
        assert found is not None
        session.expunge(found)
        return found


def test_the_page_offers_free_times_within_opening_hours_and_not_the_taken_ones(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1")
    for ref in ("C-2", "C-3"):  # two cars take both places on Tuesday morning
        deployment.book(ref, start="2026-11-24T08:00", end="2026-11-24T11:00")
    page = client.get(f"/b/{deployment.link('C-1')}")
    assert page.status_code == 200 and "Velg en ny tid" in page.text
    days = offered(page.text)
    # Today from 11:00 (2 h ahead), the last 3 h service starting at 13:00 to be ready by 16:00.
    assert days["Mandag 23. november"] == ["11:00", "11:30", "12:00", "12:30", "13:00"]
    # Tuesday: nothing that overlaps the two cars until 11:00.
    assert days["Tirsdag 24. november"] == ["11:00", "11:30", "12:00", "12:30", "13:00"]
    assert days["Onsdag 25. november"][0] == "08:00"
    assert not any(day.startswith(("Lørdag", "Søndag")) for day in days)
    assert list(days)[-1] == "Fredag 4. desember"  # 14 days from today: Monday 7 December is past it
    assert HORIZON_DAYS == 14


def test_the_times_read_in_the_customers_language(deployment: Deployment, client: TestClient) -> None:
    deployment.book("C-1", locale="en")
    page = client.get(f"/b/{deployment.link('C-1')}").text
    assert "Choose a new time" in page
    assert offered(page)["Tuesday 24 November"][:2] == ["08:00", "08:30"]


def test_one_tap_moves_the_booking_with_the_moved_notice_and_the_updated_invite(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1")
    first = inbox.dispatch()
    assert {m.step for m in first} == {"confirmation"}
    token = deployment.link("C-1")
    csrf = form_csrf(client.get(f"/b/{token}").text)
    answer = client.post(f"/b/{token}/move", data={"csrf": csrf, "start": "2026-11-25T12:30+01:00"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/b/{token}?done=moved"
    shown = client.get(answer.headers["location"]).text
    assert "Avtalen er flyttet. Du får en bekreftelse." in shown
    assert "Onsdag 25. november" in shown and "12:30–15:30" in shown
    moved = row(deployment, "C-1")
    assert (moved.status, moved.confirmed, moved.invite_sequence) == ("confirmed", True, 1)
    sent = inbox.dispatch()
    assert ("sms", "moved", "Hei Kari! Avtalen din er flyttet til onsdag 25. november kl. 12:30-15:30.\n"
            "Hilsen Fjordbyen Bil & Rør AS") in to_customer(sent)  # fmt: skip
    [update] = [m for m in sent if m.step == "invite_update"]
    assert update.channel == "email" and update.ics is not None
    invite = update.ics.decode()
    assert "SEQUENCE:1" in invite and "DTSTART;TZID=Europe/Oslo:20261125T123000" in invite
    # The customer's calendar file on the page says the same.
    assert "SEQUENCE:1" in client.get(f"/b/{token}/invite.ics").text


def test_a_time_taken_meanwhile_is_a_409_page_offering_the_others(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1")
    token = deployment.link("C-1")
    csrf = form_csrf(client.get(f"/b/{token}").text)
    for ref in ("C-2", "C-3"):  # while the page was open, two cars took Wednesday 12:30
        deployment.book(ref, start="2026-11-25T12:30", end="2026-11-25T15:30")
    answer = client.post(f"/b/{token}/move", data={"csrf": csrf, "start": "2026-11-25T12:30+01:00"})
    assert answer.status_code == 409
    assert "Den tiden ble nettopp tatt. Velg en av de ledige tidene under." in answer.text
    wednesday = offered(answer.text)["Onsdag 25. november"]
    assert "12:30" not in wednesday and "09:00" in wednesday
    assert row(deployment, "C-1").start_at == row(deployment, "C-1").promised_start  # unchanged
    assert row(deployment, "C-1").schedule_version == 1


def test_a_time_outside_the_offer_is_refused_and_nothing_changes(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1")
    token = deployment.link("C-1")
    csrf = form_csrf(client.get(f"/b/{token}").text)
    for start in ("2026-11-28T10:00+01:00", "2026-11-24T15:00+01:00", "2026-11-24T08:10+01:00"):
        answer = client.post(f"/b/{token}/move", data={"csrf": csrf, "start": start})
        assert answer.status_code == 409, start  # Saturday; ends after closing; off the grid
    answer = client.post(f"/b/{token}/move", data={"csrf": csrf, "start": "tomorrow"})
    assert answer.status_code == 422 and "start" in answer.text
    answer = client.post(f"/b/{token}/move", data={"csrf": "forged", "start": "2026-11-24T08:00+01:00"})
    assert answer.status_code == 403
    assert row(deployment, "C-1").schedule_version == 1


def test_a_started_booking_offers_no_times_and_refuses_a_move(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1")
    token = deployment.link("C-1")
    csrf = form_csrf(client.get(f"/b/{token}").text)
    deployment.service.start("C-1")
    page = client.get(f"/b/{token}").text
    assert "Velg en ny tid" not in page and offered(page) == {}
    answer = client.post(f"/b/{token}/move", data={"csrf": csrf, "start": "2026-11-25T12:30+01:00"})
    assert answer.status_code == 409 and "started" in answer.text


def test_the_next_service_message_links_to_a_page_that_books_the_next_visit(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1", email=None, facts={"vehicle": "Toyota Corolla", "work": "EU-kontroll"})
    deployment.service.start("C-1")
    deployment.service.complete("C-1", price="3450")
    inbox.dispatch()
    # Eleven months on, the next-service SMS arrives with its link.
    deployment.clock.set(deployment.clock.now().replace(year=2027, month=10, day=25, hour=10))
    [message] = [m for m in inbox.dispatch() if m.step == "next_service"]
    link = re.search(r"(http://\S+/next)\b", message.body)
    assert link, message.body
    path = link.group(1).removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    assert page.status_code == 200 and "Bestill neste time" in page.text
    days = offered(page.text)
    assert next(iter(days)) == "Mandag 25. oktober" and days["Mandag 25. oktober"][0] == "12:00"
    answer = client.post(path, data={"csrf": form_csrf(page.text), "start": "2027-10-27T09:00+02:00"})
    assert answer.status_code == 303 and answer.headers["location"].endswith("?done=booked")
    new_page = client.get(answer.headers["location"]).text
    assert "Takk! Timen er bestilt. Du får en bekreftelse." in new_page
    assert "Onsdag 27. oktober" in new_page and "C-1-next" in new_page
    new = row(deployment, "C-1-next")
    assert (new.playbook, new.status, new.locale, new.facts) == (
        "car_service", "booked", "nb", {"vehicle": "Toyota Corolla"}
    )  # fmt: skip
    sent = to_customer(inbox.dispatch())
    assert [(channel, step) for channel, step, _ in sent] == [("sms", "confirmation")]
    assert "onsdag 27. oktober" in sent[0][2]
    # The same link again shows the visit already booked instead of booking another.
    again = client.get(path).text
    assert "Du har allerede bestilt neste time:" in again and offered(again) == {}
    answer = client.post(path, data={"csrf": form_csrf(page.text), "start": "2027-10-28T09:00+02:00"})
    assert answer.status_code == 303
    with deployment.rt.database.session() as session:
        refs = session.scalars(select(BookingRow.ref).order_by(BookingRow.id)).all()
    assert refs == ["C-1", "C-1-next"]


def test_an_email_customer_who_moved_is_not_asked_to_confirm_again(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1", phone=None, locale="en")
    inbox.dispatch()
    token = deployment.link("C-1")
    csrf = form_csrf(client.get(f"/b/{token}").text)
    client.post(f"/b/{token}/move", data={"csrf": csrf, "start": "2026-11-25T12:30+01:00"})
    [moved] = [m for m in inbox.dispatch() if m.step == "moved"]
    assert moved.subject == "New time: Wednesday 25 November, 12:30–15:30"
    assert "Does the time not suit you after all? Choose another free time on your page:\n" in moved.body
    assert f"/b/{token}#time" in moved.body
    assert "SEQUENCE:1" in (moved.ics or b"").decode()
