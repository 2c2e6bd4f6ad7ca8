"""Scores from the email and the page, and the board's "Needs attention", through the web app.

Kari has no mobile: her car is done Monday 16:00 and the review request email
goes at 18:00. She taps a number in it (a GET that only shows her page with
that number chosen), then sends it from the page (a POST with the page's CSRF
token). A low score lands on the staff board until someone marks it handled
there or through the API.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from engine.store import attention
from engine.store.tables import BookingRow, HistoryRow
from tests.web.conftest import OSLO, Deployment, form_csrf, login
from tests.web.test_written_confirmations import Inbox, Page, to_staff

REVIEW_URL = "https://reviews.example.org/fjordbyen-bil-og-ror"


def reviewed(deployment: Deployment, inbox: Inbox, **changes: object) -> str:
    """Kari's car (no mobile unless given) done at 16:00; the review request email's HTML."""
    deployment.book("C-1", **{"phone": None, **changes})
    deployment.clock.set(datetime(2026, 11, 23, 14, 0, tzinfo=OSLO))
    deployment.service.start("C-1")
    deployment.clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=OSLO))
    deployment.service.complete("C-1")
    inbox.dispatch()
    deployment.clock.set(datetime(2026, 11, 23, 18, 0, tzinfo=OSLO))
    [request] = [m for m in inbox.dispatch() if m.step == "review_request"]
    assert request.channel == "email" and request.html is not None
    assert REVIEW_URL not in request.body and REVIEW_URL not in request.html
    return request.html


def score_of(deployment: Deployment) -> int | None:
    with deployment.rt.database.session() as session:
        return session.query(BookingRow).one().score


def events(deployment: Deployment) -> list[str]:
    with deployment.rt.database.session() as session:
        return [
            h.kind for h in session.query(HistoryRow).order_by(HistoryRow.id) if h.kind.startswith("event:")
        ]


def test_an_email_only_customer_scores_from_the_email_and_a_nine_gets_the_review_link(
    deployment: Deployment, client: TestClient
) -> None:
    inbox = Inbox(deployment)
    html = reviewed(deployment, inbox)
    token = deployment.link("C-1")
    links = re.findall(r'href="http://127\.0\.0\.1:8000(/b/[^"]+/score\?value=\d+)"', html)
    assert [link.rsplit("=", 1)[1] for link in links] == [str(n) for n in range(11)]
    nine = links[9].replace(links[9].split("/")[2], token)  # the email's link, signed now as the page is
    # A mail scanner follows every link: the GET shows the choice and records nothing.
    shown = client.get(nine)
    assert shown.status_code == 200
    assert "Du valgte 9." in shown.text and "Send svaret: 9" in shown.text
    assert score_of(deployment) is None and "event:customer.scored" not in events(deployment)
    assert inbox.dispatch() == []
    answer = client.post(f"/b/{token}/score", data={"csrf": form_csrf(shown.text), "value": "9"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/b/{token}#score"
    assert score_of(deployment) == 9
    [email] = inbox.dispatch()
    assert (email.step, email.to, email.subject) == (
        "review_link",
        "kari@example.com",
        "Tusen takk for svaret!",
    )
    assert f"Vil du dele det med andre? En kort omtale hjelper oss mye:\n{REVIEW_URL}" in email.body
    page = client.get(f"/b/{token}").text
    assert "Takk! Du ga oss 9 av 10." in page and f'href="{REVIEW_URL}"' in page
    # A double tap changes nothing.
    client.post(f"/b/{token}/score", data={"csrf": form_csrf(page), "value": "9"})
    assert inbox.dispatch() == [] and events(deployment).count("event:customer.scored") == 1


def test_the_page_offers_no_score_before_the_review_request(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1")
    token = deployment.link("C-1")
    page = client.get(f"/b/{token}")
    assert "Hvor fornøyd var du?" not in page.text
    refused = client.post(f"/b/{token}/score", data={"csrf": form_csrf(page.text), "value": "3"})
    assert refused.status_code == 409 and "14 days after the review request" in refused.text
    assert score_of(deployment) is None
    assert client.get(f"/b/{token}/score?value=11").status_code == 422


def test_a_low_score_from_the_page_needs_attention_until_marked_handled_on_the_board(
    deployment: Deployment, client: TestClient
) -> None:
    inbox = Inbox(deployment)
    reviewed(deployment, inbox, locale="da")
    page = Page(client, deployment, "C-1")
    page.post("score", value="2")
    sent = inbox.dispatch()
    # Staff read the business's language (the web tests' business: en), the customer hers (da).
    assert to_staff(sent) == [
        "Forvent: Kari Nordmann (C-1) scored 2 out of 10. Contact the customer: kari@example.com."
    ]
    [recovery] = [m for m in sent if m.step == "recovery_call_back"]
    assert (recovery.to, recovery.subject) == ("kari@example.com", "Undskyld – vi kontakter dig")
    assert "Vi kontakter dig for at høre hvad der gik galt" in recovery.body
    shown = client.get(f"/b/{page.token}").text
    assert "Tak! Du gav os 2 ud af 10." in shown and "Skriv en anmeldelse" not in shown

    login(client)
    board = client.get("/staff").text
    assert "Needs attention" in board and "Unhappy customer" in board and "2/10" in board
    [item] = re.findall(r'action="/staff/attention/(\d+)/handled"', board)
    done = client.post(f"/staff/attention/{item}/handled", data={"csrf": form_csrf(board), "next": "/staff"})
    assert done.status_code == 303 and done.headers["location"] == "/staff?done=attention&ref=C-1"
    after = client.get(done.headers["location"]).text
    assert "C-1: Marked as handled" in after and "Unhappy customer" not in after
    with deployment.rt.database.session() as session:
        [line] = session.query(HistoryRow).filter_by(detail="attention handled: detractor").all()
        assert (line.actor, line.data["by"]) == ("staff", "staff")
        assert attention.items(session, deployment.rt.business.id) == []


def test_the_api_lists_and_marks_handled_and_a_lost_race_is_409(
    deployment: Deployment, client: TestClient, api: TestClient
) -> None:
    inbox = Inbox(deployment)
    reviewed(deployment, inbox)
    Page(client, deployment, "C-1").post("score", value="0")
    [listed] = api.get("/api/v1/attention").json()
    assert {k: listed[k] for k in ("kind", "detail", "ref", "name", "email", "handled_at")} == {
        "kind": "detractor",
        "detail": "0/10",
        "ref": "C-1",
        "name": "Kari Nordmann",
        "email": "kari@example.com",
        "handled_at": None,
    }
    assert listed["created_at"] == "2026-11-23T18:00:00+01:00"
    item = listed["id"]
    first = api.post(f"/api/v1/attention/{item}/handled")
    assert first.status_code == 200 and first.json()["handled_by"] == "token:tests"
    again = api.post(f"/api/v1/attention/{item}/handled")
    assert again.status_code == 200 and again.json() == first.json()
    assert api.get("/api/v1/attention").json() == []
    assert [i["id"] for i in api.get("/api/v1/attention?handled=true").json()] == [item]
    login(client)
    board = client.get("/staff").text
    lost = client.post(f"/staff/attention/{item}/handled", data={"csrf": form_csrf(board)})
    assert lost.status_code == 409 and "already handled by token:tests" in lost.text
    assert api.post("/api/v1/attention/999/handled").status_code == 404


@pytest.mark.parametrize("value", ["11", "-1", "x", ""])
def test_a_bad_score_from_the_page_is_refused_and_records_nothing(
    deployment: Deployment, client: TestClient, value: str
) -> None:
    inbox = Inbox(deployment)
    reviewed(deployment, inbox)
    token = deployment.link("C-1")
    page = client.get(f"/b/{token}").text
    assert "Hvor fornøyd var du?" in page
    answer = client.post(f"/b/{token}/score", data={"csrf": form_csrf(page), "value": value})
    assert answer.status_code == 422
    assert score_of(deployment) is None
