"""``forvent reply``: a customer's SMS reply played through the real CLI, as Twilio would deliver it.

Monday 23 November 2026 12:00 in Oslo: a plumber visit is booked for Tuesday
10:00-10:30 and its confirmation sent; then the customer answers.
"""

from __future__ import annotations

import pytest

from tests.conftest import Project
from tests.e2e.journeys import book

MONDAY_NOON = "2026-11-23T12:00:00+01:00"
STAFF_PHONE = "+4791001122"  # business.yaml


def book_and_dispatch(project: Project, locale: str = "nb") -> None:
    book(
        project,
        "P-100",
        playbook="plumber_visit",
        email="kari@example.com",
        locale=locale,
        start="2026-11-24T10:00",
        end="2026-11-24T10:30",
        facts=["task=Tett avløp"],
        now=MONDAY_NOON,
    )
    project.run("dispatch", "--once", now=MONDAY_NOON)


def sms_of(project: Project, step: str) -> list[dict[str, str]]:
    return [s for s in project.sms_files() if s["step"] == step]


@pytest.mark.parametrize(
    ("locale", "answer", "acknowledgement"),
    [
        ("nb", "Ja takk", "Takk, Kari! Avtalen din tirsdag 24. november kl. 10:00 er bekreftet."),
        ("da", "JA!", "Tak, Kari! Din aftale tirsdag den 24. november kl. 10:00 er bekræftet."),
        ("en", "yes 👍", "Thank you, Kari! Your appointment on Tuesday 24 November at 10:00 is confirmed."),
    ],
)
def test_a_yes_confirms_the_booking_and_the_acknowledgement_lands_in_the_outbox(
    project: Project, locale: str, answer: str, acknowledgement: str
) -> None:
    book_and_dispatch(project, locale)
    said = project.run("reply", "--from", "912 34 567", "--text", answer, now=MONDAY_NOON).stdout
    assert said == "reply from +4791234567: confirm, booking P-100, confirm; reply_confirm planned\n"
    history = project.json("history", "P-100", now=MONDAY_NOON)
    assert any(h["kind"] == "event:booking.confirmed" and h["detail"] == "source=sms" for h in history)
    rows = {m["step"]: m for m in project.json("messages", "P-100", now=MONDAY_NOON)}
    assert rows["reply_confirm"]["status"] == "planned" and sms_of(project, "reply_confirm") == []
    project.run("dispatch", "--once", now=MONDAY_NOON)
    [ack] = sms_of(project, "reply_confirm")
    signed = "Fjordbyen Bil & Rør AS" if locale == "en" else "Hilsen Fjordbyen Bil & Rør AS"
    assert (ack["to"], ack["booking"]) == ("+4791234567", "P-100")
    assert ack["body"] == f"{acknowledgement}\n{signed}"


def test_json_output_and_a_replayed_sid_is_a_no_op(project: Project) -> None:
    book_and_dispatch(project)
    first = project.json("reply", "--from", "+4791234567", "--text", "ENDRE", "--sid", "SM1", now=MONDAY_NOON)
    assert first == {
        "from": "+4791234567",
        "class": "change",
        "booking": "P-100",
        "action": "change",
        "acknowledgement": "reply_change",
    }
    again = project.json("reply", "--from", "+4791234567", "--text", "ENDRE", "--sid", "SM1", now=MONDAY_NOON)
    assert (again["action"], again["acknowledgement"]) == ("duplicate", None)
    project.run("dispatch", "--once", now=MONDAY_NOON)
    [ack] = sms_of(project, "reply_change")
    assert ack["body"].startswith("Så klart, Kari! Velg en ny tid som passer deg her: http://")
    [alert] = [s for s in sms_of(project, "staff_alert") if s["to"] == STAFF_PHONE]
    assert alert["body"] == "Forvent: Kari Nordmann (P-100) vil endre tid. Ta kontakt."


def test_an_unknown_number_is_stored_for_staff(project: Project) -> None:
    book_and_dispatch(project)
    outcome = project.json("reply", "--from", "+4799887766", "--text", "Kommer dere i dag?", now=MONDAY_NOON)
    assert (outcome["booking"], outcome["action"], outcome["acknowledgement"]) == (None, "unmatched", None)
    project.run("dispatch", "--once", now=MONDAY_NOON)
    [alert] = [s for s in sms_of(project, "staff_alert") if s["to"] == STAFF_PHONE]
    assert alert["body"] == "Forvent: SMS fra +4799887766 uten kjent bestilling: «Kommer dere i dag?»"
    assert sms_of(project, "reply_confirm") == []


def test_stopp_opts_the_number_out_after_one_last_sms(project: Project) -> None:
    book_and_dispatch(project)
    outcome = project.json("reply", "--from", "912 34 567", "--text", "STOPP", now=MONDAY_NOON)
    assert (outcome["class"], outcome["acknowledgement"]) == ("stop", "reply_stop")
    project.run("dispatch", "--once", now=MONDAY_NOON)
    [ack] = sms_of(project, "reply_stop")
    assert ack["body"] == (
        "Du er nå meldt av og får ingen flere SMS fra Fjordbyen Bil & Rør AS. Ombestemmer du deg, svar START."
    )
    tuesday = "2026-11-24T09:15:00+01:00"
    project.run("on-my-way", "P-100", now=tuesday)
    project.run("dispatch", "--once", now=tuesday)
    on_my_way = next(m for m in project.json("messages", "P-100", now=tuesday) if m["step"] == "on_my_way")
    assert (on_my_way["status"], on_my_way["reason"]) == ("skipped", "opted_out")


def test_a_sender_that_is_no_phone_number_is_one_line_and_changes_nothing(project: Project) -> None:
    book_and_dispatch(project)
    before = project.json("history", "P-100", now=MONDAY_NOON)
    result = project.run("reply", "--from", "not a number", "--text", "JA", now=MONDAY_NOON, check=False)
    assert (result.returncode, result.stderr) == (1, "error: --from: not a phone number: 'not a number'\n")
    assert project.json("history", "P-100", now=MONDAY_NOON) == before
