"""Detractors reach a person, promoters get the review link: SMS replies through the signed Twilio webhook.

Kari's car is booked on Monday 23 November 2026 for Thursday and done at
13:00; the review request goes at 15:00 (completed + 2h). What she then texts back is
posted to ``/webhooks/twilio/inbound`` as Twilio signs it, and one dispatch
pass sends what it planned: the texts staff and Kari get are asserted.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from engine.channels.base import OutgoingMessage
from engine.store import attention
from engine.store.tables import BookingRow, HistoryRow
from tests.integration.twilio_inbound import inbound_sms, trusting_twilio, webhook_client
from tests.integration.world import World

STAFF_PHONE = "+4791001122"  # business.yaml
REVIEW_URL = "https://reviews.example.org/fjordbyen-bil-og-ror"


@pytest.fixture
def world(world: World) -> World:
    return trusting_twilio(world)


@pytest.fixture
def client(world: World) -> TestClient:
    return webhook_client(world)


def reply(client: TestClient, body: str) -> None:
    answer = inbound_sms(client, body)
    assert answer.status_code == 200, answer.text


def sent(world: World) -> list[OutgoingMessage]:
    """One dispatch pass; what it sent."""
    before = len(world.sms.sent), len(world.email.sent)
    world.dispatcher.run_until_idle()
    return world.sms.sent[before[0] :] + world.email.sent[before[1] :]


def to_staff(messages: list[OutgoingMessage]) -> list[str]:
    return [m.body for m in messages if m.step == "staff_alert" and m.to == STAFF_PHONE]


def to_kari(messages: list[OutgoingMessage]) -> list[tuple[str, str]]:
    return [(m.step, m.body) for m in messages if m.step != "staff_alert"]


def open_items(world: World) -> list[attention.Item]:
    with world.rt.database.session() as session:
        return attention.items(session, world.rt.business.id)


def reviewed(world: World, locale: str = "nb", **changes: object) -> OutgoingMessage:
    """Kari's car done Thursday 13:00, the review request sent at 15:00: that SMS."""
    world.book(locale=locale, **changes)
    world.at(2026, 11, 26, 10, 0)
    world.service.start("C-1")
    world.at(2026, 11, 26, 13, 0)
    world.service.complete("C-1")
    world.dispatcher.run_until_idle()
    world.at(2026, 11, 26, 15, 0)
    [request] = [m for m in sent(world) if m.step == "review_request"]
    return request


def test_the_review_request_asks_for_a_score_and_holds_no_review_link(world: World) -> None:
    request = reviewed(world)
    assert request.body == (
        "Hei Kari! Takk for at du valgte oss til servicen på bilen din.\n"
        "Hvor sannsynlig er det at du vil anbefale oss til andre? Svar med et tall fra 0 til 10.\n"
        "Hilsen Fjordbyen Bil & Rør AS"
    )
    assert REVIEW_URL not in request.body


def test_a_low_score_with_words_alerts_staff_needs_attention_and_offers_a_call_back(
    world: World, client: TestClient
) -> None:
    reviewed(world)
    world.at(2026, 11, 26, 15, 30)
    reply(client, "3 dårlig service")
    out = sent(world)
    assert to_staff(out) == [
        "Forvent: Kari Nordmann (C-1) ga 3 av 10: «dårlig service». "
        "Kontakt kunden: +4791234567 / kari@example.com."
    ]
    assert to_kari(out) == [
        (
            "recovery_call_back",
            "Hei Kari, takk for at du sa ifra, og beklager at vi ikke var gode nok denne gangen. "
            "Vi ringer deg for å høre hva som gikk galt, og hvordan vi kan rette det opp.\n"
            "Hilsen Fjordbyen Bil & Rør AS",
        )
    ]
    [item] = open_items(world)
    assert (item.kind, item.ref, item.detail, item.phone) == (
        "detractor",
        "C-1",
        "3/10: dårlig service",
        "+4791234567",
    )
    with world.rt.database.session() as session:
        assert session.query(BookingRow).one().score == 3
        kinds = [h.kind for h in session.query(HistoryRow).order_by(HistoryRow.id)]
    assert kinds.index("event:customer.scored") < kinds.index("event:customer.detractor")


def test_more_words_while_someone_is_on_it_reach_staff_but_offer_no_second_call_back(
    world: World, client: TestClient
) -> None:
    reviewed(world)
    reply(client, "2")
    sent(world)
    reply(client, "Bilen lager fortsatt ulyd, elendig")
    out = sent(world)
    assert to_staff(out) == [
        "Forvent: Kari Nordmann (C-1) er misfornøyd: «Bilen lager fortsatt ulyd, elendig». "
        "Kontakt kunden: +4791234567 / kari@example.com."
    ]
    assert to_kari(out) == []
    [item] = open_items(world)
    assert item.detail == "2/10\nBilen lager fortsatt ulyd, elendig"


def test_an_unhappy_text_after_the_job_counts_as_a_detractor(world: World, client: TestClient) -> None:
    reviewed(world, locale="en")
    reply(client, "Very disappointed, the car still makes a noise")
    out = sent(world)
    assert to_staff(out) == [
        "Forvent: Kari Nordmann (C-1) er misfornøyd: «Very disappointed, the car still makes a noise». "
        "Kontakt kunden: +4791234567 / kari@example.com."
    ]
    assert to_kari(out) == [
        (
            "recovery_call_back",
            "Hi Kari, thank you for telling us, and we are sorry we did not get it right this time. "
            "We will call you to hear what went wrong and how we can put it right.\nFjordbyen Bil & Rør AS",
        )
    ]
    assert [i.detail for i in open_items(world)] == ["Very disappointed, the car still makes a noise"]


def test_unhappy_words_before_the_job_are_an_ordinary_reply(world: World, client: TestClient) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    reply(client, "Skuffet over at dere ikke hadde tid før torsdag")
    out = sent(world)
    assert to_staff(out) == [
        "Forvent: svar fra Kari Nordmann (C-1): «Skuffet over at dere ikke hadde tid før torsdag»"
    ]
    assert to_kari(out) == [] and open_items(world) == []


def test_a_neutral_text_after_the_review_request_is_feedback_for_staff_as_before(
    world: World, client: TestClient
) -> None:
    reviewed(world)
    reply(client, "Takk for god hjelp, ikke dårlig!")
    out = sent(world)
    assert to_staff(out) == ["Forvent: svar fra Kari Nordmann (C-1): «Takk for god hjelp, ikke dårlig!»"]
    assert to_kari(out) == [] and open_items(world) == []


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("nb", f"Tusen takk, Kari! Det betyr mye for oss. Vil du dele det med andre? "
               f"En kort omtale hjelper oss mye: {REVIEW_URL}\nHilsen Fjordbyen Bil & Rør AS"),
        ("da", f"Tusind tak, Kari! Det betyder meget for os. Vil du dele det med andre? "
               f"En kort anmeldelse hjælper os meget: {REVIEW_URL}\nHilsen Fjordbyen Bil & Rør AS"),
        ("en", f"Thank you so much, Kari! That means a lot to us. Would you share it with others? "
               f"A short review helps us a lot: {REVIEW_URL}\nFjordbyen Bil & Rør AS"),
    ],
)  # fmt: skip
def test_a_ten_gets_the_public_review_link(world: World, client: TestClient, locale: str, text: str) -> None:
    reviewed(world, locale=locale)
    reply(client, "10")
    out = sent(world)
    assert to_kari(out) == [("review_link", text)]
    assert to_staff(out) == [] and open_items(world) == []


def test_a_seven_is_thanked_only_and_the_latest_score_counts(world: World, client: TestClient) -> None:
    reviewed(world)
    reply(client, "4")
    sent(world)
    reply(client, "7")
    out = sent(world)
    assert to_kari(out) == [
        (
            "reply_score",
            "Takk for svaret, Kari! Hva kunne vi gjort enda bedre? Svar gjerne med et par ord.\n"
            "Hilsen Fjordbyen Bil & Rør AS",
        )
    ]
    with world.rt.database.session() as session:
        assert session.query(BookingRow).one().score == 7
    assert len(open_items(world)) == 1  # the 4 still waits for a person


def test_a_score_more_than_14_days_after_the_review_request_is_plain_text(
    world: World, client: TestClient
) -> None:
    reviewed(world)
    world.at(2026, 12, 10, 15, 1)
    reply(client, "2")
    out = sent(world)
    assert to_staff(out) == ["Forvent: svar fra Kari Nordmann (C-1): «2»"]
    assert to_kari(out) == [] and open_items(world) == []
