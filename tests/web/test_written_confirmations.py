"""Every agreement on the customer's page is confirmed in writing, in the customer's language.

The customer taps through the page's routes (link and CSRF token as a browser
sends them); a dispatch pass then sends what the tap planned. What the customer
reads, and the staff alert for a cancel or a declined finding, are asserted;
a second tap with the same answer sends nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from engine.channels.base import OutgoingMessage
from engine.channels.memory import MemoryChannel
from engine.dispatch.dispatcher import Dispatcher
from engine.store.tables import FindingRow
from tests.web.conftest import Deployment, form_csrf

STAFF_PHONE = "+4791001122"  # business.yaml
BUSINESS = "Fjordbyen Bil & Rør AS"
SIGNED = {"nb": f"Hilsen {BUSINESS}", "da": f"Hilsen {BUSINESS}", "en": BUSINESS}


class Inbox:
    """What the customer and staff received, pass by pass."""

    def __init__(self, deployment: Deployment) -> None:
        self.sms = MemoryChannel("sms")
        self.email = MemoryChannel("email")
        self.deployment = deployment
        self.seen = {"sms": 0, "email": 0}

    def dispatch(self) -> list[OutgoingMessage]:
        """One dispatch pass; the messages it sent."""
        dispatcher = Dispatcher(self.deployment.rt, {"sms": self.sms, "email": self.email})
        try:
            dispatcher.run_until_idle()
        finally:
            dispatcher.close()
        new = []
        for channel in (self.sms, self.email):
            new += channel.sent[self.seen[channel.name] :]
            self.seen[channel.name] = len(channel.sent)
        return new


@pytest.fixture
def inbox(deployment: Deployment) -> Iterator[Inbox]:
    yield Inbox(deployment)


class Page:
    """The customer's page for one booking, as their browser uses it."""

    def __init__(self, client: TestClient, deployment: Deployment, ref: str) -> None:
        self.client = client
        self.token = deployment.link(ref)
        self.csrf = form_csrf(client.get(f"/b/{self.token}").text)

    def post(self, action: str, **form: str) -> None:
        answer = self.client.post(f"/b/{self.token}/{action}", data={"csrf": self.csrf, **form})
        assert answer.status_code == 303, answer.text


def to_customer(sent: list[OutgoingMessage]) -> list[tuple[str, str, str]]:
    return [(m.channel, m.step, m.body) for m in sent if m.step != "staff_alert"]


def to_staff(sent: list[OutgoingMessage]) -> list[str]:
    return [m.body for m in sent if m.step == "staff_alert" and m.to == STAFF_PHONE]


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("nb", "Takk, Kari! Avtalen din mandag 23. november kl. 14:00 er bekreftet."),
        ("da", "Tak, Kari! Din aftale mandag den 23. november kl. 14:00 er bekræftet."),
        ("en", "Thank you, Kari! Your appointment on Monday 23 November at 14:00 is confirmed."),
    ],
)
def test_confirming_on_the_page_is_confirmed_by_sms(
    deployment: Deployment, client: TestClient, inbox: Inbox, locale: str, text: str
) -> None:
    deployment.book("C-1", locale=locale)
    inbox.dispatch()
    page = Page(client, deployment, "C-1")
    page.post("confirm")
    assert to_customer(inbox.dispatch()) == [("sms", "reply_confirm", f"{text}\n{SIGNED[locale]}")]
    page.post("confirm")  # a double tap
    assert inbox.dispatch() == []


def test_approving_extra_work_names_the_work_and_its_price(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1", locale="en")
    deployment.service.start("C-1")
    deployment.service.finding("C-1", text="Worn front brake pads", price="2890", must_fix=True)
    inbox.dispatch()
    page = Page(client, deployment, "C-1")
    with deployment.rt.database.session() as session:
        finding = session.query(FindingRow).one().id
    page.post(f"findings/{finding}", decision="approved")
    assert to_customer(inbox.dispatch()) == [
        (
            "sms",
            "reply_confirm",
            "Thank you, Kari! We will go ahead with the work you approved:\n"
            "Worn front brake pads\nPrice: NOK 2,890.00\nFjordbyen Bil & Rør AS",
        )
    ]
    page.post(f"findings/{finding}", decision="approved")
    assert inbox.dispatch() == []


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_declining_extra_work_is_confirmed_and_staff_are_alerted(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1", locale="nb")
    deployment.service.start("C-1")
    deployment.service.finding("C-1", text="Slitte bremseklosser foran", price="2890")
    inbox.dispatch()
    page = Page(client, deployment, "C-1")
    with deployment.rt.database.session() as session:
        finding = session.query(FindingRow).one().id
    page.post(f"findings/{finding}", decision="declined")
    sent = inbox.dispatch()
    assert to_customer(sent) == [
        (
            "sms",
            "reply_decline",
            f"Notert, Kari. Vi gjør ikke dette arbeidet:\nSlitte bremseklosser foran\n{SIGNED['nb']}",
        )
    ]
    assert to_staff(sent) == [
        "Forvent: Kari Nordmann (C-1) takket nei til ekstraarbeidet «Slitte bremseklosser foran». Ta kontakt."
    ]
    page.post(f"findings/{finding}", decision="declined")
    assert inbox.dispatch() == []


def test_an_option_choice_says_what_was_chosen(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("P-1", playbook="plumber_visit", locale="da", phone="+4522334455")
    inbox.dispatch()
    page = Page(client, deployment, "P-1")
    page.post("choices", option="cleanup", choice="yes")
    assert to_customer(inbox.dispatch()) == [
        (
            "sms",
            "reply_choice",
            "Tak, Kari! Vi rydder op og tager emballagen med efter besøget "
            f"mandag den 23. november kl. 14:00.\n{SIGNED['da']}",
        )
    ]
    page.post("choices", option="cleanup", choice="yes")
    assert inbox.dispatch() == []
    page.post("choices", option="cleanup", choice="no")
    [(_, _, changed)] = to_customer(inbox.dispatch())
    assert changed.startswith("Noteret, Kari: vi rydder ikke op og lader emballagen blive efter besøget")


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_asking_for_another_time_is_answered_and_a_double_tap_sends_nothing(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1", locale="nb")
    inbox.dispatch()
    page = Page(client, deployment, "C-1")
    page.post("change", text="Passer bedre torsdag")
    sent = inbox.dispatch()
    assert to_customer(sent) == [
        (
            "sms",
            "reply_change",
            "Takk, Kari! Vi har fått beskjed om at du ønsker en annen tid, og tar kontakt for å finne en ny. "
            "Til da gjelder avtalen mandag 23. november kl. 14:00.\n"
            "Ønsket ditt: Passer bedre torsdag\nHilsen Fjordbyen Bil & Rør AS",
        )
    ]
    alert = "Forvent: Kari Nordmann (C-1) vil endre tid. Ta kontakt. «Passer bedre torsdag»"
    assert to_staff(sent) == [alert]
    page.post("change", text="Passer bedre torsdag")
    assert inbox.dispatch() == []
    page.post("change", text="Eller fredag")  # a new wish is a new request
    assert [step for _, step, _ in to_customer(inbox.dispatch())] == ["reply_change"]


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_cancelling_is_confirmed_by_the_cancellation_notice_and_staff_are_alerted(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1", locale="en")
    inbox.dispatch()
    page = Page(client, deployment, "C-1")
    page.post("cancel")
    sent = inbox.dispatch()
    # The notice is the written confirmation, with no internal reason shown to the customer;
    # the calendar invite the booking's confirmation carried is cancelled by email.
    notice, invite = to_customer(sent)
    assert notice == (
        "sms",
        "cancelled",
        "Hi Kari! Your appointment on Monday 23 November at 14:00 has been cancelled.\n"
        "Want a new time? Call us on +4722001122.\nFjordbyen Bil & Rør AS",
    )
    assert invite[:2] == ("email", "invite_update")
    # Staff read alerts in the business's language.
    assert to_staff(sent) == [
        "Forvent: Kari Nordmann (C-1) avlyste avtalen mandag 23. november kl. 14:00 på siden sin."
    ]
    page.post("cancel")
    assert inbox.dispatch() == []


def test_a_customer_without_a_mobile_is_confirmed_by_email(
    deployment: Deployment, client: TestClient, inbox: Inbox
) -> None:
    deployment.book("C-1", locale="da", phone=None)
    inbox.dispatch()
    page = Page(client, deployment, "C-1")
    page.post("confirm")
    [email] = inbox.dispatch()
    assert (email.channel, email.step, email.to) == ("email", "reply_confirm", "kari@example.com")
    assert email.subject == "Bekræftet: mandag den 23. november kl. 14:00"
    assert "Tak! Din aftale mandag den 23. november kl. 14:00 er bekræftet." in email.body
    assert email.html is not None and "Se din aftale" in email.html
