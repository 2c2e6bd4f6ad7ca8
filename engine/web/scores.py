"""The score on the customer's page: 0-10 after the review request, one tap to send it.

The review request email links each number to ``/b/<token>/score?value=N``.
That GET only shows the page with N chosen and a button to send it: mail
scanners open every link in a message, so a GET never records anything. The
page's own buttons are POSTs (with the page's CSRF token), recorded by
``engine.services.feedback`` the same way as an SMS score. The latest score
counts; once given, the page thanks the customer and, for a 9 or 10, offers
the public review link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from engine.core import sentiment
from engine.core.values import BookingStatus
from engine.runtime import Runtime
from engine.services.feedback import Feedback
from engine.store.tables import BookingRow

if TYPE_CHECKING:
    from engine.web.customer import CustomerPage

CLOSED = frozenset({BookingStatus.CANCELLED, BookingStatus.NO_SHOW})
SCORES = tuple(range(11))

WORDS: dict[str, dict[str, str]] = {
    "nb": {
        "title": "Hvor fornøyd var du?",
        "ask": "Hvor sannsynlig er det at du vil anbefale oss til andre?",
        "scale": "0 er lite sannsynlig, 10 er svært sannsynlig.",
        "picked": "Du valgte {score}.",
        "send": "Send svaret: {score}",
        "other": "Eller velg et annet tall:",
        "thanks": "Takk! Du ga oss {score} av 10.",
        "change": "Du kan endre svaret ditt:",
        "sorry": "Beklager at vi ikke var gode nok. Vi tar kontakt med deg for å høre hva som gikk galt.",
        "share": "Vil du dele det med andre? En kort omtale hjelper oss mye.",
        "review": "Skriv en omtale",
    },
    "da": {
        "title": "Hvor tilfreds var du?",
        "ask": "Hvor sandsynligt er det at du vil anbefale os til andre?",
        "scale": "0 er slet ikke sandsynligt, 10 er meget sandsynligt.",
        "picked": "Du valgte {score}.",
        "send": "Send svaret: {score}",
        "other": "Eller vælg et andet tal:",
        "thanks": "Tak! Du gav os {score} ud af 10.",
        "change": "Du kan ændre dit svar:",
        "sorry": "Undskyld at vi ikke var gode nok. Vi kontakter dig for at høre hvad der gik galt.",
        "share": "Vil du dele det med andre? En kort anmeldelse hjælper os meget.",
        "review": "Skriv en anmeldelse",
    },
    "en": {
        "title": "How did we do?",
        "ask": "How likely are you to recommend us to others?",
        "scale": "0 is not at all likely, 10 is extremely likely.",
        "picked": "You chose {score}.",
        "send": "Send your answer: {score}",
        "other": "Or choose another number:",
        "thanks": "Thank you! You gave us {score} out of 10.",
        "change": "You can change your answer:",
        "sorry": "We are sorry we did not get it right. We will be in touch to hear what went wrong.",
        "share": "Would you share it with others? A short review helps us a lot.",
        "review": "Write a review",
    },
}


def view(runtime: Runtime, session: Session, row: BookingRow, locale: str) -> dict[str, Any] | None:
    """What the page's score panel shows, or None before the review request (and with no score)."""
    asking = BookingStatus(row.status) not in CLOSED and Feedback(runtime).review_requested(
        session, row.id, runtime.now()
    )
    if not asking and row.score is None:
        return None
    band = sentiment.band(row.score) if row.score is not None else None
    return {
        "ask": asking,
        "score": row.score,
        "band": band,
        "review": runtime.business.review_url if band == "promoter" else None,
        "numbers": SCORES,
        "words": WORDS.get(locale, WORDS["en"]),
    }


def score_routes(router: APIRouter, page: CustomerPage) -> None:
    feedback = Feedback(page.rt)

    @router.get("/score")
    def choose(
        request: Request, token: str, value: Annotated[int | None, Query(ge=0, le=10)] = None
    ) -> Response:
        link = page.link(token)
        return page.render(request, link, "customer.html", score_pick=value)

    @router.post("/score")
    def send(
        request: Request,
        token: str,
        csrf: Annotated[str, Form(max_length=500)] = "",
        value: Annotated[int, Form(ge=0, le=10)] = -1,
    ) -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        feedback.score_from_page(link.booking_id, value)
        return RedirectResponse(f"/b/{link.token}#score", status_code=303)
