"""The board's "New booking" creates, never updates, even when another request takes the ref meanwhile.

The form looks the ref up, then books. Another request (the API, a second
tab) can create the same ref after that look-up; ``book`` would then update
that booking. The interleaving is forced here: the look-up misses the booking
as it would if it ran just before the other request's commit.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from engine.services.bookings import BookingService
from engine.store.tables import BookingRow
from tests.web.conftest import Deployment, form_csrf, login
from tests.web.test_staff_booking_forms import NEW, beside, bookings


def test_a_ref_created_after_the_forms_look_up_is_a_409_and_the_other_booking_is_untouched(
    deployment: Deployment, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    login(client)
    csrf = form_csrf(client.get("/staff/new?playbook=car_service").text)
    deployment.book("C-1")  # the other request's booking, committed after the form's look-up
    find = BookingService.find

    def too_early(
        self: BookingService, session: object, ref: str, *, lock: bool = False
    ) -> BookingRow | None:
        return None if not lock else find(self, session, ref, lock=lock)  # type: ignore[arg-type]

    monkeypatch.setattr(BookingService, "find", too_early)
    answer = client.post("/staff/new", data={**NEW, "csrf": csrf, "ref": "C-1"})
    monkeypatch.undo()
    assert answer.status_code == 409 and beside(answer.text, "ref") == "C-1 is another booking already"
    row = bookings(deployment)["C-1"]
    assert (row.facts, row.schedule_version) == ({"vehicle": "Toyota Corolla"}, 1)  # not updated
    assert 'value="Ola Hansen"' in answer.text  # what was typed is kept
