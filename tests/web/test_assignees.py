"""Who does the job: an assignee set from the CLI, the API, an import and the board, filtered on
the board, and each change in the history with who made it."""

from __future__ import annotations

import getpass
from pathlib import Path

from fastapi.testclient import TestClient

from tests.web.conftest import Deployment, form_csrf, login
from tests.web.test_who_did_what import history

BODY = {
    "ref": "C-2",
    "playbook": "car_service",
    "customer": {"name": "Ola Hansen", "phone": "+4798765432", "locale": "nb"},
    "start": "2026-11-23T15:00",
    "end": "2026-11-23T17:00",
    "facts": {"vehicle": "Skoda Octavia"},
}


def test_an_assignee_is_given_by_book_by_the_api_and_by_an_import(
    deployment: Deployment, api: TestClient, tmp_path: Path
) -> None:
    code, _, err = deployment.forvent(
        *("book", "--playbook", "car_service", "--ref", "C-1", "--name", "Kari Nordmann"),
        *("--phone", "912 34 567", "--start", "2026-11-23T14:00", "--fact", "vehicle=Toyota Corolla"),
        *("--assignee", "Per"),
    )
    assert code == 0, err
    assert api.get("/api/v1/bookings/C-1").json()["assignee"] == "Per"
    created = api.post("/api/v1/bookings", json={**BODY, "assignee": "Kari"})
    assert created.status_code == 201 and created.json()["assignee"] == "Kari"
    kept = api.post("/api/v1/bookings", json={**BODY, "location": "Verkstedet"})
    assert kept.json()["assignee"] == "Kari"  # absent: kept
    cleared = api.post("/api/v1/bookings", json={**BODY, "assignee": ""})
    assert cleared.status_code == 200 and cleared.json()["assignee"] is None
    csv = tmp_path / "bookings.csv"
    csv.write_text("ref,assignee\nC-1,Ola\nC-2,\n", encoding="utf-8")
    code, out, err = deployment.forvent("import", str(csv), "--playbook", "car_service")
    assert code == 0, err
    assert "1 updated, 1 unchanged" in out
    assert api.get("/api/v1/bookings/C-1").json()["assignee"] == "Ola"
    bad = api.post("/api/v1/bookings", json={**BODY, "assignee": "x" * 101})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "assignee"


def test_assigning_is_recorded_with_who_did_it(
    deployment: Deployment, api: TestClient, client: TestClient
) -> None:
    deployment.book("C-1")
    code, out, _ = deployment.forvent("assign", "C-1", "Ola")
    assert code == 0 and "C-1: assigned to Ola" in out
    answer = api.post("/api/v1/bookings/C-1/assign", json={"assignee": "Kari"})
    assert answer.status_code == 200 and answer.json()["assignee"] == "Kari"
    login(client)
    board = client.get("/staff").text
    moved = client.post("/staff/b/C-1/assign", data={"csrf": form_csrf(board), "assignee": "Per"})
    assert moved.status_code == 303 and "done=assign" in moved.headers["location"]
    assert api.post("/api/v1/bookings/C-1/assign", json={"assignee": "Per"}).status_code == 200  # no change
    lines = [(h["detail"], h["actor"]) for h in history(api) if h["kind"] == "staff"]
    assert lines == [
        ("assigned to Ola", f"cli:{getpass.getuser()}"),
        ("assigned to Kari", "token:tests"),
        ("assigned to Per", "staff"),
    ]
    page = client.get("/staff/b/C-1").text
    assert "<dt>Assignee</dt><dd>Per</dd>" in page
    code, _, err = deployment.forvent("assign", "NOPE", "Ola")
    assert code == 1 and "unknown booking ref 'NOPE'" in err
    assert api.post("/api/v1/bookings/NOPE/assign", json={"assignee": "Ola"}).status_code == 404


def test_the_board_shows_only_the_chosen_assignees_bookings(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1", assignee="Ola")
    deployment.book("C-2", phone="+4798765432", assignee="Kari")
    deployment.book("C-3", phone="+4793333333")
    login(client)
    everyone = client.get("/staff").text
    assert all(f'data-ref="{ref}"' in everyone for ref in ("C-1", "C-2", "C-3"))
    assert '<option value="Kari">Kari</option><option value="Ola">Ola</option>' in everyone
    olas = client.get("/staff?assignee=Ola").text
    assert 'data-ref="C-1"' in olas
    assert 'data-ref="C-2"' not in olas and 'data-ref="C-3"' not in olas
    assert '<option value="Ola" selected>Ola</option>' in olas
    assert '<span class="assignee">Ola</span>' in olas


def test_the_staff_report_page_has_a_row_per_assignee(
    deployment: Deployment, client: TestClient, api: TestClient
) -> None:
    deployment.book("C-1", assignee="Ola")
    deployment.book("C-2", phone="+4798765432")
    assert api.post("/api/v1/bookings/C-1/ready", json={}).status_code == 200  # a ready promise, kept
    login(client)
    page = client.get("/staff/report").text
    row = page.split('<tr data-assignee="Ola">', 1)[1].split("</tr>", 1)[0]
    assert [cell.split("</td>")[0] for cell in row.split("<td>")[1:4]] == ["Ola", "1", "100%"]
    assert "Ola</b>, " in page and "data-assignee=" in page
