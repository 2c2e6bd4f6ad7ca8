"""Customer links, CSRF, staff sessions and the login throttle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from engine.runtime import Runtime
from engine.store.tables import FindingRow
from engine.store.tokens import revoke_token
from engine.web.app import create_app
from engine.web.security import SESSION_COOKIE
from tests.web.conftest import PUBLIC, Deployment, form_csrf, login


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_a_forged_altered_or_expired_link_is_403(deployment: Deployment, client: TestClient) -> None:
    deployment.book()
    token = deployment.link("C-1")
    assert client.get(f"/b/{token}").status_code == 200
    booking_id, expiry, signature = token.split("_", 2)
    altered = {
        "another booking": f"{int(booking_id) + 1}_{expiry}_{signature}",
        "longer life": f"{booking_id}_{expiry}z_{signature}",
        "bad signature": f"{booking_id}_{expiry}_{signature[::-1]}",
        "garbage": "not-a-link",
    }
    for what, forged in altered.items():
        answer = client.get(f"/b/{forged}")
        assert answer.status_code == 403, what
        assert "Lenken er ikke gyldig lenger" in answer.text, what
    assert client.get(f"/b/{altered['bad signature']}/invite.ics").status_code == 403
    deployment.clock.set(deployment.clock.now() + deployment.rt.settings.link_ttl + timedelta(seconds=1))
    assert client.get(f"/b/{token}").status_code == 403


def test_another_bookings_link_never_shows_or_touches_this_one(
    deployment: Deployment, client: TestClient
) -> None:
    deployment.book("C-1", name="Kari Nordmann")
    deployment.book("C-2", name="Ola Hansen", phone="+4793456789", email="ola@example.com")
    deployment.service.start("C-1")
    deployment.service.finding("C-1", text="Bremseklosser foran", price="1890")
    other = deployment.link("C-2")
    page = client.get(f"/b/{other}")
    assert "Ola" in page.text and "Kari" not in page.text and "Bremseklosser" not in page.text
    with deployment.rt.database.session() as session:
        finding_id = session.query(FindingRow).one().id
    answer = client.post(
        f"/b/{other}/findings/{finding_id}", data={"csrf": form_csrf(page.text), "decision": "approved"}
    )
    assert answer.status_code == 404
    with deployment.rt.database.session() as session:
        assert session.query(FindingRow).one().decision == "pending"


def test_posts_without_the_csrf_token_are_403(deployment: Deployment, client: TestClient) -> None:
    deployment.book()
    token = deployment.link("C-1")
    page = client.get(f"/b/{token}")
    assert client.post(f"/b/{token}/confirm").status_code == 403
    assert client.post(f"/b/{token}/confirm", data={"csrf": "forged"}).status_code == 403
    # a token from another link's page does not fit this one
    deployment.book("C-2", phone="+4793456789")
    other = client.get(f"/b/{deployment.link('C-2')}")
    assert client.post(f"/b/{token}/confirm", data={"csrf": form_csrf(other.text)}).status_code == 403
    # a fresh browser (no CSRF cookie) with a token copied from the page
    with deployment.client() as stranger:
        assert stranger.post(f"/b/{token}/confirm", data={"csrf": form_csrf(page.text)}).status_code == 403
    assert client.post(f"/b/{token}/confirm", data={"csrf": form_csrf(page.text)}).status_code == 303
    login(client)
    assert client.post("/staff/b/C-1/start").status_code == 403
    assert client.post("/staff/b/C-1/start", data={"csrf": "nope"}).status_code == 403
    with deployment.client() as fresh:
        assert fresh.post("/staff/login", data={"password": "staff-password-for-tests"}).status_code == 403


def test_the_staff_board_needs_a_valid_session(deployment: Deployment, client: TestClient) -> None:
    answer = client.get("/staff")
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/login"
    assert client.post("/staff/b/C-1/start", data={"csrf": "x"}).headers["location"] == "/staff/login"
    login(client)
    assert client.get("/staff").status_code == 200
    cookie = client.cookies[SESSION_COOKIE]
    client.cookies.set(SESSION_COOKIE, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert client.get("/staff").status_code == 303
    client.cookies.set(SESSION_COOKIE, cookie)
    deployment.clock.set(deployment.clock.now() + timedelta(hours=13))
    assert client.get("/staff").status_code == 303


def test_an_api_token_logs_in_too(deployment: Deployment, client: TestClient) -> None:
    login(client, deployment.token)
    assert client.get("/staff").status_code == 200


def test_failed_logins_are_slowed_on_the_engine_clock(deployment: Deployment, client: TestClient) -> None:
    def attempt(password: str) -> int:
        csrf = form_csrf(client.get("/staff/login").text)
        return int(client.post("/staff/login", data={"password": password, "csrf": csrf}).status_code)

    assert [attempt("wrong") for _ in range(3)] == [303, 303, 303]
    assert attempt("wrong") == 303  # the fourth failure starts the lock-out
    locked = attempt("staff-password-for-tests")
    assert locked == 429
    deployment.clock.set(deployment.clock.now() + timedelta(seconds=3))
    assert attempt("wrong") == 303  # allowed again; this failure doubles the lock-out
    assert attempt("staff-password-for-tests") == 429
    deployment.clock.set(deployment.clock.now() + timedelta(seconds=5))
    assert attempt("staff-password-for-tests") == 303
    assert client.get("/staff").status_code == 200


def test_pages_carry_protective_headers(deployment: Deployment, client: TestClient) -> None:
    deployment.book()
    page = client.get(f"/b/{deployment.link('C-1')}")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_logging_out_ends_the_session_even_for_a_copied_cookie(
    deployment: Deployment, client: TestClient
) -> None:
    login(client)
    page = client.get("/staff")
    copied = client.cookies[SESSION_COOKIE]
    assert client.post("/staff/logout", data={"csrf": form_csrf(page.text)}).status_code == 303
    with deployment.client() as thief:
        thief.cookies.set(SESSION_COOKIE, copied)
        answer = thief.get("/staff")
        assert answer.status_code == 303 and answer.headers["location"] == "/staff/login"
        assert thief.post("/staff/b/C-1/start", data={"csrf": form_csrf(page.text)}).status_code == 303
    login(client)
    assert client.get("/staff").status_code == 200


def test_revoking_a_token_ends_the_sessions_it_opened_and_no_other(
    deployment: Deployment, client: TestClient
) -> None:
    login(client, deployment.token)
    assert client.get("/staff").status_code == 200
    with deployment.client() as colleague:
        login(colleague)
        with deployment.rt.database.session() as session:
            revoke_token(
                session, business_id=deployment.rt.business.id, name="tests", now=deployment.rt.now()
            )
        answer = client.get("/staff")
        assert answer.status_code == 303 and answer.headers["location"] == "/staff/login"
        assert colleague.get("/staff").status_code == 200
    csrf = form_csrf(client.get("/staff/login").text)
    assert (
        client.post("/staff/login", data={"password": deployment.token, "csrf": csrf}).headers["location"]
        == "/staff/login?failed=1"
    )


def test_changing_the_staff_password_ends_the_sessions_it_opened(
    deployment: Deployment, client: TestClient
) -> None:
    login(client)
    cookie = client.cookies[SESSION_COOKIE]
    settings = deployment.rt.settings.model_copy(update={"staff_password": "a-new-staff-password"})
    restarted = Runtime(settings, clock=deployment.clock)
    try:
        with TestClient(
            create_app(restarted, dispatch=False), base_url=PUBLIC, follow_redirects=False
        ) as after:
            after.cookies.set(SESSION_COOKIE, cookie)
            assert after.get("/staff").status_code == 303
            login(after, "a-new-staff-password")
            assert after.get("/staff").status_code == 200
    finally:
        restarted.close()
