"""Who did what: named staff logins (``forvent staff ...``, the login form) and the actor on
every history line, whichever door the action came through."""

from __future__ import annotations

import getpass
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.services.staff_users import StaffUsers
from engine.store.tables import StaffUserRow
from tests.web.conftest import Deployment, form_csrf, login

OLA = "Ola Nordmann"
OLAS_PASSWORD = "riktig hest batteri"


def add_ola(deployment: Deployment) -> None:
    code, out, err = deployment.forvent("staff", "add", OLA, "--password-stdin", stdin=OLAS_PASSWORD + "\n")
    assert code == 0, err
    assert f"staff user {OLA} added" in out


def log_in_as(http: TestClient, name: str, password: str) -> str:
    """Where the login form sends the browser: /staff, or back to the form."""
    csrf = form_csrf(http.get("/staff/login").text)
    answer = http.post("/staff/login", data={"name": name, "password": password, "csrf": csrf})
    assert answer.status_code == 303
    return str(answer.headers["location"])


def history(api: TestClient, ref: str = "C-1") -> list[dict[str, Any]]:
    answer = api.get(f"/api/v1/bookings/{ref}/history")
    assert answer.status_code == 200
    lines: list[dict[str, Any]] = answer.json()
    return lines


def actor_of(api: TestClient, kind: str, ref: str = "C-1") -> str:
    return next(str(h["actor"]) for h in history(api, ref) if h["kind"] == kind)


def test_a_named_login_signs_the_board_actions_with_that_name(
    deployment: Deployment, client: TestClient, api: TestClient
) -> None:
    add_ola(deployment)
    deployment.book("C-1")
    assert log_in_as(client, "ola  nordmann", OLAS_PASSWORD) == "/staff"  # case and spacing aside
    board = client.get("/staff")
    assert board.status_code == 200
    answer = client.post("/staff/b/C-1/start", data={"csrf": form_csrf(board.text)})
    assert answer.status_code == 303
    assert actor_of(api, "event:job.started") == OLA
    assert actor_of(api, "event:booking.created") == "system"  # booked by the engine's own fixture
    page = client.get("/staff/b/C-1").text
    assert f"by {OLA}" in page and "by system" in page


def test_a_wrong_password_an_unknown_name_and_a_disabled_user_get_the_same_answer(
    deployment: Deployment, client: TestClient
) -> None:
    add_ola(deployment)
    assert log_in_as(client, OLA, "not the password") == "/staff/login?failed=1"
    assert log_in_as(client, "Kari Hansen", OLAS_PASSWORD) == "/staff/login?failed=1"
    code, out, _ = deployment.forvent("staff", "disable", OLA)
    assert code == 0 and f"{OLA} disabled" in out
    with deployment.client() as fresh:  # a fresh address: the throttle has not started counting it
        assert log_in_as(fresh, OLA, OLAS_PASSWORD) == "/staff/login?failed=1"
        assert "That did not match. Try again." in fresh.get("/staff/login?failed=1").text


def test_disabling_a_user_ends_their_session_at_once(deployment: Deployment, client: TestClient) -> None:
    add_ola(deployment)
    assert log_in_as(client, OLA, OLAS_PASSWORD) == "/staff"
    assert client.get("/staff").status_code == 200
    code, out, _ = deployment.forvent("staff", "disable", OLA)
    assert code == 0 and "1 session(s) ended" in out
    answer = client.get("/staff")
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/login"
    code, out, _ = deployment.forvent("--json", "staff", "list")
    assert code == 0 and '"active": false' in out


def test_a_new_password_ends_the_sessions_and_replaces_the_old_one(
    deployment: Deployment, client: TestClient
) -> None:
    add_ola(deployment)
    assert log_in_as(client, OLA, OLAS_PASSWORD) == "/staff"
    code, out, _ = deployment.forvent(
        "staff", "passwd", OLA, "--password-stdin", stdin="ny og lengre frase\n"
    )
    assert code == 0 and "1 session(s) ended" in out
    assert client.get("/staff").headers["location"] == "/staff/login"
    assert log_in_as(client, OLA, OLAS_PASSWORD) == "/staff/login?failed=1"
    assert log_in_as(client, OLA, "ny og lengre frase") == "/staff"


def test_staff_add_refuses_a_short_password_and_a_taken_name_in_one_line(deployment: Deployment) -> None:
    code, _, err = deployment.forvent("staff", "add", OLA, "--password-stdin", stdin="kort\n")
    assert code == 1
    assert "password: at least 10 characters" in err and "Traceback" not in err
    code, out, _ = deployment.forvent("staff", "list")
    assert "no staff users yet" in out
    add_ola(deployment)
    code, _, err = deployment.forvent("staff", "add", "OLA NORDMANN", "--password-stdin", stdin=OLAS_PASSWORD)
    assert code == 1 and "a staff user named 'Ola Nordmann' exists" in err
    code, _, err = deployment.forvent("staff", "add", "token:x", "--password-stdin", stdin=OLAS_PASSWORD)
    assert code == 1 and "name: 'token:x' must be printable text without ':'" in err


def test_the_prompt_asks_twice_and_hides_the_password(deployment: Deployment) -> None:
    code, out, err = deployment.forvent("staff", "add", OLA, stdin=f"{OLAS_PASSWORD}\n{OLAS_PASSWORD}\n")
    assert code == 0, err
    assert OLAS_PASSWORD not in out + err


def test_a_hash_made_with_old_parameters_is_renewed_at_login(
    deployment: Deployment, client: TestClient
) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    StaffUsers(deployment.rt, hasher=cheap).add(OLA, OLAS_PASSWORD)
    assert log_in_as(client, OLA, OLAS_PASSWORD) == "/staff"
    with deployment.rt.database.session() as session:
        stored = session.scalars(select(StaffUserRow.password_hash)).one()
    assert not PasswordHasher().check_needs_rehash(stored)
    assert PasswordHasher().verify(stored, OLAS_PASSWORD)


def test_the_shared_staff_password_still_logs_in_as_staff(
    deployment: Deployment, client: TestClient, api: TestClient
) -> None:
    deployment.book("C-1")
    login(client)
    client.post("/staff/b/C-1/start", data={"csrf": form_csrf(client.get("/staff").text)})
    assert actor_of(api, "event:job.started") == "staff"


def test_each_door_signs_its_own_lines(deployment: Deployment, client: TestClient, api: TestClient) -> None:
    deployment.book("C-1")
    deployment.book("C-2", phone="+4798765432")
    # The API: the token's name.
    assert api.post("/api/v1/bookings/C-1/start", json={}).status_code == 200
    assert actor_of(api, "event:job.started") == "token:tests"
    # The command line: the operating system's user.
    code, _, err = deployment.forvent("delay", "C-2", "--minutes", "30")
    assert code == 0, err
    assert actor_of(api, "event:booking.delayed", "C-2") == f"cli:{getpass.getuser()}"
    # The customer's page.
    token = deployment.link("C-2")
    page = client.get(f"/b/{token}")
    assert client.post(f"/b/{token}/confirm", data={"csrf": form_csrf(page.text)}).status_code == 303
    assert actor_of(api, "event:booking.confirmed", "C-2") == "customer:page"
    # An SMS reply, played with `forvent reply` (the Twilio webhook's path).
    code, _, err = deployment.forvent("reply", "--from", "987 65 432", "--text", "Takk!")
    assert code == 0, err
    assert actor_of(api, "reply", "C-2") == "customer:sms"
    code, out, _ = deployment.forvent("history", "C-2")
    assert "customer:sms" in out and "customer:page" in out
