"""Bulk import, from the CLI (``forvent import``) and over the API (CSV and JSON); and ``token``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Deployment

CSV = '''\
ref,customer_name,customer_phone,customer_email,customer_locale,start,end,fact_vehicle,fact_estimate
C-10,Kari Nordmann,912 34 567,kari@example.com,nb,2026-11-24T10:00,2026-11-24T14:00,Toyota Corolla,3450
C-11,Ola Hansen,12,ola@example.com,nb,2026-11-24T11:00,,Skoda Octavia,

C-12,"Berg, Ingrid",+4794567890,,en,2026-11-20T09:00,,"Tesla ""Model 3""",
C-13,Per Olsen,+4796789012,,nb,2026-11-25T09:00,,,
'''


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "bookings.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_cli_import_reports_bad_rows_by_line_and_a_rerun_changes_nothing(
    deployment: Deployment, csv_file: Path
) -> None:
    code, out, err = deployment.forvent("import", str(csv_file), "--playbook", "car_service")
    assert code == 1
    assert f"{csv_file}:3: customer_phone:" in err
    assert f"{csv_file}:6: fact_vehicle: required by car_service" in err
    assert "2 created, 0 updated, 0 unchanged, 2 failed" in out
    code, out, _ = deployment.forvent("--json", "import", str(csv_file), "--playbook", "car_service")
    report = json.loads(out)
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 2)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(3, "customer_phone"), (6, "fact_vehicle")]
    with deployment.rt.database.session() as session:
        booking = deployment.service.get(session, "C-12")
        assert booking.facts == {"vehicle": 'Tesla "Model 3"'} and booking.locale == "en"


def test_cli_import_refuses_a_bad_header_or_file_in_one_line(deployment: Deployment, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ref,colour\nC-1,red\n", encoding="utf-8")
    code, _, err = deployment.forvent("import", str(bad), "--playbook", "car_service")
    assert code == 1 and "unknown column 'colour'" in err and len(err.strip().splitlines()) == 1
    code, _, err = deployment.forvent("import", str(tmp_path / "missing.csv"), "--playbook", "car_service")
    assert code == 1 and "no such file" in err
    code, _, err = deployment.forvent("import", str(bad), "--playbook", "yoga")
    assert code == 1 and "unknown playbook" in err


def test_cli_import_reports_a_row_with_a_nul_byte_and_imports_the_others(
    deployment: Deployment, tmp_path: Path
) -> None:
    """PostgreSQL cannot store NUL; on either database the row is refused by line and column."""
    path = tmp_path / "nul.csv"
    path.write_text(CSV.replace("Toyota Corolla", "Toyota\x00Corolla"), encoding="utf-8")
    code, out, err = deployment.forvent("import", str(path), "--playbook", "car_service")
    assert code == 1
    assert f"{path}:2: fact_vehicle: must not contain NUL characters" in err
    assert "1 created, 0 updated, 0 unchanged, 3 failed" in out
    with deployment.rt.database.session() as session:
        assert deployment.service.get(session, "C-12").locale == "en"


def test_api_csv_import_matches_the_cli(api: TestClient) -> None:
    answer = api.post(
        "/api/v1/bookings:import?playbook=car_service",
        content=CSV.encode(),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 2 and [e["line"] for e in answer.json()["errors"]] == [3, 6]
    again = api.post(
        "/api/v1/bookings:import?playbook=car_service",
        content=CSV.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 2)
    no_playbook = api.post(
        "/api/v1/bookings:import", content=CSV.encode(), headers={"Content-Type": "text/csv"}
    )
    assert no_playbook.status_code == 422 and no_playbook.json()["error"]["field"] == "playbook"


def test_api_json_import_names_items_and_fields(api: TestClient) -> None:
    good = {"ref": "J-1", "customer": {"name": "Kari", "phone": "+4791234567"}, "start": "2026-11-24T10:00"}
    body = {
        "playbook": "plumber_visit",
        "bookings": [
            {**good, "facts": {"task": "Tett avløp"}},
            {
                **good,
                "ref": "J-2",
                "customer": {"name": "Ola", "email": "not-an-email"},
                "facts": {"task": "x"},
            },
            {**good, "ref": "J-3", "playbook": "car_service", "facts": {"task": "x"}},
        ],
    }
    report = api.post("/api/v1/bookings:import", json=body).json()
    assert report["created"] == 1
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(2, "customer.email"), (3, "facts.task")]
    assert (
        api.post(
            "/api/v1/bookings:import", content=b"[1,", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert api.post("/api/v1/bookings:import", json={"bookings": "no"}).status_code == 422


def test_token_create_shows_once_and_revoke_stops_it(deployment: Deployment, client: TestClient) -> None:
    code, out, _ = deployment.forvent("token", "create", "booking-system", "--json")
    assert code == 0
    created = json.loads(out)
    assert created["name"] == "booking-system" and created["token"].startswith("fv_")
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/v1/playbooks", headers=headers).status_code == 200
    code, _, err = deployment.forvent("token", "create", "booking-system")
    assert code == 1 and "exists" in err
    assert deployment.forvent("token", "revoke", "booking-system")[0] == 0
    assert client.get("/api/v1/playbooks", headers=headers).status_code == 401
    code, _, err = deployment.forvent("token", "revoke", "booking-system")
    assert code == 1 and "no active token" in err
    code, out, _ = deployment.forvent("token", "create", "booking-system")
    assert code == 0 and out.strip().startswith("fv_") and out.strip() != created["token"]
