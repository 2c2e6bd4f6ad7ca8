"""A playbook's title and option labels in the right language: the customer's on their page and
invite, the business's on the board and in the API (business.yaml: default_locale nb)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Deployment, login


def test_the_customer_page_shows_the_title_and_labels_in_the_customers_language(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("P-1", playbook="plumber_visit", locale="nb")
    deployment.book("P-2", playbook="plumber_visit", locale="da", phone="+4522334455")
    deployment.book("P-3", playbook="plumber_visit", locale="en", phone="+4793456789")
    nb = client.get(f"/b/{deployment.link('P-1')}").text
    assert "Rørleggerbesøk" in nb and "Skal vi rydde og ta med emballasjen etterpå?" in nb
    da = client.get(f"/b/{deployment.link('P-2')}").text
    assert "VVS-besøg" in da and "Skal vi rydde op og tage emballagen med bagefter?" in da
    assert "Rørleggerbesøk" not in da
    en = client.get(f"/b/{deployment.link('P-3')}").text
    assert "Plumber visit" in en and "Shall we clean up and take the packaging away afterwards?" in en


def test_a_cancelled_invite_is_named_in_the_customers_language(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("P-2", playbook="plumber_visit", locale="da", phone="+4522334455")
    deployment.service.cancel("P-2")
    invite = client.get(f"/b/{deployment.link('P-2')}/invite.ics").text
    assert "SUMMARY:Aflyst: VVS-besøg - Fjordbyen Bil & Rør AS" in invite


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_staff_see_the_title_in_the_businesss_language(deployment: Deployment, client: TestClient) -> None:
    deployment.book("P-3", playbook="plumber_visit", locale="en", phone="+4793456789")
    login(client)
    board = client.get("/staff").text
    assert "Rørleggerbesøk" in board and "Plumber visit" not in board
    assert "Rørleggerbesøk" in client.get("/staff/b/P-3").text


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_the_api_lists_titles_and_labels_in_the_businesss_language_and_per_locale(api: TestClient) -> None:
    playbooks = {p["id"]: p for p in api.get("/api/v1/playbooks").json()}
    car, plumber = playbooks["car_service"], playbooks["plumber_visit"]
    assert car["title"] == "Bilservice"
    assert car["titles"] == {"nb": "Bilservice", "da": "Bilservice", "en": "Car service"}
    assert plumber["titles"] == {"nb": "Rørleggerbesøk", "da": "VVS-besøg", "en": "Plumber visit"}
    [option] = plumber["options"]
    assert option["label"] == "Skal vi rydde og ta med emballasjen etterpå?"
    assert option["labels"]["en"] == "Shall we clean up and take the packaging away afterwards?"
