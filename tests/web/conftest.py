"""A throwaway deployment for the web tests: SQLite file, seed playbooks, fixed engine clock.

The schema is migrated once per session into a template file that each test
copies, so a test costs a file copy instead of an Alembic run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine.core.clock import FixedClock
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.settings import Settings
from engine.store.db import Database
from engine.store.tokens import create_token
from engine.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
OSLO = ZoneInfo("Europe/Oslo")
MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=OSLO)
PUBLIC = "http://127.0.0.1:8000"
SECRET = "test-secret-not-for-production"
STAFF_PASSWORD = "staff-password-for-tests"


@dataclass
class Deployment:
    rt: Runtime
    clock: FixedClock
    service: BookingService
    app: FastAPI
    token: str
    root: Path

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def book(self, ref: str = "C-1", playbook: str = "car_service", **changes: Any) -> None:
        data = BookingInput(
            ref=ref,
            playbook=playbook,
            name="Kari Nordmann",
            phone="+4791234567",
            email="kari@example.com",
            start="2026-11-23T14:00",
            end="2026-11-23T17:00",
            locale="nb",
            facts={"vehicle": "Toyota Corolla"} if playbook == "car_service" else {"task": "Tett avløp"},
        )
        for key, value in changes.items():
            setattr(data, key, value)
        self.service.book(data)

    def booking_id(self, ref: str) -> int:
        with self.rt.database.session() as session:
            return self.service.get(session, ref).id

    def link(self, ref: str) -> str:
        return self.rt.signer.token(self.booking_id(ref), now=self.rt.now())

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=PUBLIC, follow_redirects=False)

    def forvent(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        """``forvent ARGS`` on this deployment at Monday 09:00: exit status, stdout and stderr."""
        from click.testing import CliRunner

        from engine.cli.main import cli

        settings = self.rt.settings
        result = CliRunner().invoke(
            cli,
            [
                "--db",
                settings.database_url,
                "--playbooks",
                str(settings.playbooks_dir),
                "--templates",
                str(settings.templates_dir),
                "--business",
                str(settings.business_file),
                *args,
            ],
            input=stdin,
            env={"FORVENT_NOW": MONDAY_MORNING.isoformat(), "FORVENT_SECRET": settings.secret},
            catch_exceptions=False,
        )
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "forvent.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    return path


def make_deployment(
    root: Path, migrated: Path, *, public_url: str = PUBLIC, business_file: Path = REPO / "business.yaml"
) -> Deployment:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(migrated, root / "forvent.db")
    settings = Settings(
        database_url=f"sqlite:///{root / 'forvent.db'}",
        playbooks_dir=REPO / "playbooks",
        templates_dir=REPO / "templates",
        business_file=business_file,
        outbox_dir=root / "outbox",
        public_url=public_url,
        secret=SECRET,
        staff_password=STAFF_PASSWORD,
    )
    clock = FixedClock(MONDAY_MORNING)
    runtime = Runtime(settings, clock=clock)
    with runtime.database.session() as session:
        token = create_token(
            session,
            business_id=runtime.business.id,
            business_name=runtime.business.name,
            name="tests",
            now=clock.now(),
        )
    return Deployment(
        runtime, clock, BookingService(runtime), create_app(runtime, dispatch=False), token, root
    )


def business_in(folder: Path, locale: str, **changes: Any) -> Path:
    """The demo's business.yaml with ``default_locale: locale`` (and ``changes``), written in ``folder``.

    The staff pages speak the business's language: the web tests read them in English unless
    a test asks for the demo's Norwegian (``@pytest.mark.parametrize("deployment", ["nb"],
    indirect=True)``), as those asserting the business's Norwegian texts do.
    """
    profile = yaml.safe_load((REPO / "business.yaml").read_text(encoding="utf-8"))
    profile.update(default_locale=locale, **changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"business-{locale}.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path, migrated: Path) -> Iterator[Deployment]:
    locale = getattr(request, "param", "en")
    world = make_deployment(tmp_path / "deploy", migrated, business_file=business_in(tmp_path, locale))
    yield world
    world.rt.close()


@pytest.fixture
def client(deployment: Deployment) -> Iterator[TestClient]:
    with deployment.client() as http:
        yield http


@pytest.fixture
def api(deployment: Deployment) -> Iterator[TestClient]:
    with deployment.client() as http:
        http.headers["Authorization"] = f"Bearer {deployment.token}"
        yield http


def login(http: TestClient, password: str = STAFF_PASSWORD) -> None:
    """Log the client in as staff (the login form's CSRF cookie and token, then the password)."""
    page = http.get("/staff/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = http.post("/staff/login", data={"password": password, "csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/staff", answer.text


def form_csrf(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
