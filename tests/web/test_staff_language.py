"""The staff pages speak the business's language (business.yaml's default_locale): the board, a
booking's page, the login, the delay preview, the report and its charts, the flash after an action."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from engine.web.staff import DONE
from engine.web.staff_words import DA, EN, NB
from tests.web.conftest import Deployment, form_csrf, login

NORWEGIAN = pytest.mark.parametrize("deployment", ["nb"], indirect=True)
DANISH = pytest.mark.parametrize("deployment", ["da"], indirect=True)


def day_with_every_state(deployment: Deployment) -> None:
    """Late, started, ready and done cards on Monday 23 November (the engine clock's day)."""
    deployment.book("C-1", name="Kari Nordmann")
    deployment.service.delay("C-1", minutes=30)
    for ref, name, phone in (
        ("C-2", "Ola Hansen", "+4791234568"),
        ("C-3", "Per Berg", "+4791234569"),
        ("C-4", "Lise Dahl", "+4791234560"),
    ):
        deployment.book(ref, name=name, phone=phone)
        deployment.service.start(ref)
    deployment.service.ready("C-3")
    deployment.service.ready("C-4")
    deployment.service.complete("C-4")


def text_of(html: str) -> str:
    """The page's visible words, tags dropped, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@NORWEGIAN
def test_the_board_speaks_norwegian(deployment: Deployment, client: TestClient) -> None:
    login_page = client.get("/staff/login").text
    assert '<html lang="nb">' in login_page
    assert "Logg inn" in login_page and "Passord" in login_page and "Navnet ditt" in login_page
    day_with_every_state(deployment)
    login(client)
    board = text_of(client.get("/staff").text)
    assert "I dag" in board and "Mandag 23. november" in board
    assert "4 avtaler 1 forsinket 1 ikke bekreftet 0 venter på svar" in board
    assert "Forsinket +15 min +30 min +60 min Velg tid" in board  # the late card's buttons
    for chip in ("Bestilt", "Startet", "Klar", "Ferdig"):
        assert f" {chip} " in board, chip
    assert "Nå forventet 14:30–17:30 (+30 min)" in board and "Ikke bekreftet" in board
    assert "Holdte løfter" in board and "Logg ut" in board
    for english in ("Today", "Running late", "In progress", "Unconfirmed", "Log out", "Promises kept"):
        assert english not in board, english


@NORWEGIAN
def test_a_bookings_page_its_actions_and_the_flash_speak_norwegian(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1", name="Kari Nordmann")
    login(client)
    page = client.get("/staff/b/C-1").text
    shown = text_of(page)
    assert "Tilbake til tavla" in shown and "Forsinket: velg ny tid" in shown
    assert "Kunden har bekreftet (på telefon)" in shown and "Avlys avtalen…" in shown
    assert "Meldinger" in shown and "Historikk" in shown and "Bekreftet ikke ennå" in shown
    assert re.search(r"sendes 23\. nov\. \d\d:\d\d", shown), shown  # a planned message, when it goes
    preview = text_of(client.get("/staff/b/C-1/delay", params={"minutes": 30}).text)
    assert (
        "Kunden får" in preview and "Send til Kari" in preview and "Ny forventet tid 14:30–17:30" in preview
    )
    answer = client.post("/staff/b/C-1/start", data={"csrf": form_csrf(page), "next": "/staff/b/C-1"})
    flash = client.get(answer.headers["location"]).text
    assert '<div class="flash" role="status">C-1: Merket som startet</div>' in flash


@NORWEGIAN
def test_the_report_and_its_charts_speak_norwegian(deployment: Deployment, client: TestClient) -> None:
    deployment.book("C-1", name="Kari Nordmann")
    login(client)
    html = client.get("/staff/report").text
    shown = text_of(html)
    assert "Slik holder vi det vi lover" in shown and "Meldinger per steg" in shown
    for title in ("Holdte løfter", "Forsinkelser varslet før lovet tid", "Forsinket uten varsel", "Avtaler"):
        assert f"<h2>{title}</h2>" in html, title
        assert f'aria-label="{title} per uke"' in html, title
    assert "<title>uke 48: -</title>" in html and "week 48" not in html


@NORWEGIAN
def test_staff_errors_speak_norwegian(deployment: Deployment, client: TestClient) -> None:
    login(client)
    missing = client.get("/staff/b/NO-SUCH", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "Fant ikke siden." in missing.text
    assert "Tilbake til tavla" in missing.text


@DANISH
def test_the_board_speaks_danish(deployment: Deployment, client: TestClient) -> None:
    day_with_every_state(deployment)
    login(client)
    board = text_of(client.get("/staff").text)
    assert "I dag" in board and "4 aftaler 1 forsinket 1 ikke bekræftet" in board
    for chip in ("Booket", "Startet", "Klar", "Færdig"):
        assert f" {chip} " in board, chip
    assert "Log ud" in board and "Holdte løfter" in board


def test_the_board_speaks_english_for_an_english_business(deployment: Deployment, client: TestClient) -> None:
    day_with_every_state(deployment)
    login(client)
    board = text_of(client.get("/staff").text)
    assert "Today" in board and "4 bookings 1 running late 1 unconfirmed 0 awaiting answer" in board
    for chip in ("Booked", "In progress", "Ready", "Done"):
        assert f" {chip} " in board, chip
    assert "Forsinket" not in board and "I dag" not in board


def test_every_locale_has_every_staff_word() -> None:
    assert set(NB) == set(EN) and set(DA) == set(EN)
    assert {f"done_{action}" for action in DONE} <= set(EN)  # every flash after an action
    fields = {key: set(re.findall(r"{(\w+)}", text)) for key, text in EN.items()}
    for words in (NB, DA):
        assert {key: set(re.findall(r"{(\w+)}", text)) for key, text in words.items()} == fields
