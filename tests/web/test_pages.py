"""The staff board and the customer page through the test client: what they show and what they change."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from engine.store.tables import BookingRow, FindingRow, HistoryRow, MessageRow
from tests.web.conftest import OSLO, Deployment, form_csrf, login


def history(deployment: Deployment, ref: str) -> list[HistoryRow]:
    with deployment.rt.database.session() as session:
        booking_id = deployment.service.get(session, ref).id
        return list(session.query(HistoryRow).filter_by(booking_id=booking_id).order_by(HistoryRow.id))


def test_board_lists_todays_bookings_with_promise_eta_and_flags(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1", name="Kari Nordmann")
    deployment.book("C-2", name="Ola Hansen", start="2026-11-24T10:00", end="2026-11-24T12:00")
    deployment.service.delay("C-1", minutes=30)
    login(client)
    board = client.get("/staff").text
    assert "Kari Nordmann" in board and "Ola Hansen" not in board
    assert "14:00–17:00" in board and "14:30–17:30 (+30 min)" in board and "Unconfirmed" in board
    tomorrow = client.get("/staff?day=2026-11-24").text
    assert "Ola Hansen" in tomorrow and "Kari Nordmann" not in tomorrow


def test_late_button_previews_the_exact_sms_then_sends(deployment: Deployment, client: TestClient) -> None:
    deployment.book()
    login(client)
    preview = client.get("/staff/b/C-1/delay", params={"minutes": 30, "reason": "Kø på verkstedet"})
    assert preview.status_code == 200
    assert "Vi tar inn bilen din i dag kl. 14:30, og den er klar ca. kl. 17:30." in preview.text
    assert "Årsak: Kø på verkstedet" in preview.text
    with deployment.rt.database.session() as session:
        assert deployment.service.get(session, "C-1").start_at.hour == 13  # a preview changes nothing
    sent = client.post(
        "/staff/b/C-1/delay",
        data={
            "csrf": form_csrf(preview.text),
            "minutes": "30",
            "reason": "Kø på verkstedet",
            "next": "/staff",
        },
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith("/staff?done=delay")
    with deployment.rt.database.session() as session:
        booking = deployment.service.get(session, "C-1")
        assert booking.start_at.astimezone(deployment.clock.now().tzinfo).hour == 14
        notice = session.query(MessageRow).filter_by(booking_id=booking.id, step="delay_notice").all()
        assert {m.channel for m in notice} == {"sms"}


def test_chosen_time_and_a_small_delay_say_what_will_happen(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book()
    login(client)
    chosen = client.get("/staff/b/C-1/delay", params={"until": "15:15"})
    assert "kl. 15:15, og den er klar ca. kl. 18:15" in chosen.text
    small = client.get("/staff/b/C-1/delay", params={"until": "14:05"})
    assert "No message" in small.text and "Update the expected time" in small.text
    earlier = client.get("/staff/b/C-1/delay", params={"until": "13:00"})
    assert earlier.status_code == 409
    assert client.get("/staff/b/C-1/delay", params={"until": "soon"}).status_code == 422


def test_staff_buttons_drive_the_job(deployment: Deployment, client: TestClient) -> None:
    deployment.book()
    login(client)
    page = client.get("/staff/b/C-1")
    csrf = form_csrf(page.text)
    for action, data in (
        ("start", {}),
        ("finding", {"text": "Bremseklosser foran", "price": "1890", "must_fix": "1"}),
        ("ready", {"price": "5340"}),
        ("complete", {}),
    ):
        answer = client.post(f"/staff/b/C-1/{action}", data={"csrf": csrf, "next": "/staff/b/C-1", **data})
        assert answer.status_code == 303, (action, answer.text)
        assert answer.headers["location"] == f"/staff/b/C-1?done={action}&ref=C-1"
    kinds = [h.kind for h in history(deployment, "C-1")]
    for event in ("job.started", "job.finding", "job.ready", "job.completed"):
        assert f"event:{event}" in kinds
    with deployment.rt.database.session() as session:
        assert session.query(FindingRow).one().must_fix
    page = client.get("/staff/b/C-1?done=complete").text
    assert "Marked as done" in page and "finding request" in page and "event:job.completed" in page
    refused = client.post("/staff/b/C-1/start", data={"csrf": csrf})
    assert refused.status_code == 409 and "does not allow" in refused.text
    deployment.book("C-2", phone="+4793456789")
    for evil in ("https://evil.example/staff", "//evil.example"):
        answer = client.post("/staff/b/C-2/confirm", data={"csrf": csrf, "next": evil})
        assert answer.headers["location"].startswith("/staff?"), evil


def test_customer_page_speaks_the_customers_language(deployment: Deployment, client: TestClient) -> None:
    deployment.book("C-1", locale="nb")
    deployment.book("C-2", locale="da", phone="+4522334455")
    deployment.book("C-3", locale="en", phone="+4793456789")
    deployment.service.delay("C-3", minutes=45, reason="Traffic")
    nb = client.get(f"/b/{deployment.link('C-1')}").text
    assert "Mandag 23. november" in nb and "14:00–17:00" in nb and "Bekreft tiden" in nb
    da = client.get(f"/b/{deployment.link('C-2')}").text
    assert "Mandag den 23. november" in da and "Bekræft tiden" in da
    en = client.get(f"/b/{deployment.link('C-3')}").text
    assert "Sorry, we are running 45 min late." in en and "14:45–17:45" in en and "Traffic" in en


def test_customer_confirms_asks_for_another_time_and_cancels(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book()
    token = deployment.link("C-1")
    csrf = form_csrf(client.get(f"/b/{token}").text)
    confirmed = client.post(f"/b/{token}/confirm", data={"csrf": csrf})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == f"/b/{token}?done=confirm"
    page = client.get(confirmed.headers["location"]).text
    assert "Takk! Tiden er bekreftet." in page and "Du har bekreftet tiden." in page
    client.post(f"/b/{token}/change", data={"csrf": csrf, "text": "Passer bedre torsdag"})
    client.post(f"/b/{token}/cancel", data={"csrf": csrf})
    rows = history(deployment, "C-1")
    confirmation = next(h for h in rows if h.kind == "event:booking.confirmed")
    assert confirmation.data == {"source": "page"}
    reply = next(h for h in rows if h.kind == "reply")
    assert reply.detail == "Passer bedre torsdag" and reply.data["class"] == "change"
    assert any(h.kind == "staff" and "Passer bedre torsdag" in (h.detail or "") for h in rows)
    assert any(h.kind == "event:booking.cancelled" for h in rows)
    cancelled = client.get(f"/b/{token}").text
    assert (
        "Avlyst" in cancelled and "Legg til i kalender" not in cancelled and "Bekreft tiden" not in cancelled
    )


def test_customer_approves_a_finding_and_chooses_an_option(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("P-1", playbook="plumber_visit", locale="en")
    deployment.service.start("P-1")
    deployment.service.finding("P-1", text="Corroded valve", price="890", must_fix=True)
    token = deployment.link("P-1")
    page = client.get(f"/b/{token}").text
    assert "Corroded valve" in page and "NOK" in page and "Must be fixed" in page
    assert "Shall we clean up" in page
    with deployment.rt.database.session() as session:
        finding_id = session.query(FindingRow).one().id
    csrf = form_csrf(page)
    client.post(f"/b/{token}/findings/{finding_id}", data={"csrf": csrf, "decision": "approved"})
    client.post(
        f"/b/{token}/findings/{finding_id}", data={"csrf": csrf, "decision": "approved"}
    )  # double tap
    assert (
        client.post(
            f"/b/{token}/findings/{finding_id}", data={"csrf": csrf, "decision": "declined"}
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/b/{token}/choices", data={"csrf": csrf, "option": "cleanup", "choice": "yes"}
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/b/{token}/choices", data={"csrf": csrf, "option": "cleanup", "choice": "maybe"}
        ).status_code
        == 422
    )
    with deployment.rt.database.session() as session:
        assert session.query(FindingRow).one().decision == "approved"
        assert session.query(BookingRow).one().choices == {"cleanup": "yes"}
    choices = [h for h in history(deployment, "P-1") if h.kind == "choice"]
    assert [h.detail for h in choices] == ["finding approved: Corroded valve", "cleanup: yes"]
    after = client.get(f"/b/{token}?done=finding").text
    assert "Thank you for your answer!" in after and "Approved" in after


def test_customer_invite_is_publish_with_the_bookings_uid_and_sequence(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book()
    deployment.service.delay("C-1", minutes=30)
    answer = client.get(f"/b/{deployment.link('C-1')}/invite.ics")
    assert answer.headers["content-type"].startswith("text/calendar")
    assert answer.headers["content-disposition"] == 'attachment; filename="C-1.ics"'
    with deployment.rt.database.session() as session:
        row = session.query(BookingRow).one()
    assert "METHOD:PUBLISH" in answer.text and f"UID:{row.invite_uid}" in answer.text
    assert f"SEQUENCE:{row.invite_sequence}" in answer.text and "ATTENDEE" not in answer.text


def test_unsubscribe_ends_marketing_consent(deployment: Deployment, client: TestClient) -> None:
    deployment.book(marketing_ok=True)
    token = deployment.link("C-1")
    page = client.get(f"/b/{token}/unsubscribe")
    assert page.status_code == 200 and "Ingen flere tilbud" in page.text
    client.post(f"/b/{token}/unsubscribe", data={"csrf": form_csrf(page.text)})
    assert [h.detail for h in history(deployment, "C-1") if h.kind == "choice"] == [
        "no more offers (unsubscribed on the page)"
    ]


def test_a_ready_job_shows_the_price_and_pick_up_time(deployment: Deployment, client: TestClient) -> None:
    deployment.book()
    deployment.service.start("C-1")
    deployment.service.ready("C-1", price="5340", pickup="2026-11-23T16:00")
    page = client.get(f"/b/{deployment.link('C-1')}").text
    assert "Ferdig – klar til henting" in page
    assert "Mandag 23. november 16:00" in page and "5\u00a0340,00\u00a0kr" in page


def test_a_started_job_cannot_be_cancelled_from_the_page(deployment: Deployment, client: TestClient) -> None:
    deployment.book()
    token = deployment.link("C-1")
    csrf = form_csrf(client.get(f"/b/{token}").text)
    deployment.service.start("C-1")
    assert client.post(f"/b/{token}/cancel", data={"csrf": csrf}).status_code == 409
    with deployment.rt.database.session() as session:
        assert deployment.service.get(session, "C-1").status == "started"


def test_weekly_report_charts_promises_kept(deployment: Deployment, client: TestClient) -> None:
    deployment.book("C-1", name="Kari Nordmann")  # promised ready 17:00 today
    deployment.service.start("C-1")
    deployment.clock.set(datetime(2026, 11, 23, 18, 5, tzinfo=OSLO))
    deployment.service.ready("C-1", at="2026-11-23T18:00")  # an hour late, nothing said
    login(client)
    page = client.get("/staff/report")
    assert page.status_code == 200
    html = page.text
    assert "Promises kept" in html and "Late without a word" in html
    assert html.count("<rect") == 6 * 8  # six charts, eight weeks each
    assert "week 48: 0%" in html  # this week's kept rate: the one promise was broken
    assert "week 48: 1</title>" in html  # one late without a word


def test_the_staff_booking_page_gives_the_customers_own_link(
    deployment: Deployment, client: TestClient
) -> None:
    """A customer who cannot find the message: staff copy the link from the booking's page."""
    import re

    deployment.book()
    login(client)
    page = client.get("/staff/b/C-1").text
    assert "Customer's page" in page and "valid 60 days from now" in page
    [link] = re.findall(r'class="customer-link" href="([^"]+)"', page)
    assert link.startswith(deployment.rt.settings.public_url + "/b/")
    customer = client.get(link.removeprefix(deployment.rt.settings.public_url))
    assert customer.status_code == 200 and "Bekreft tiden" in customer.text
