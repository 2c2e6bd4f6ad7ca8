"""Property-based API testing with schemathesis against the app's own OpenAPI.

Bounded and deterministic: at most 30 generated cases per operation, a
derandomised Hypothesis, no example database. Every response must be no
5xx and must match what ``/openapi.json`` declares (status, content type,
body schema). The check that expects every schema-valid body to be accepted
is left out: the engine refuses valid-looking data on business rules (a start
in the past, an unknown playbook, a phone number that does not exist), with
a documented 4xx.

Schemathesis reads the schema when the module is collected, so the app is
built then, on a database file the module fixture migrates and seeds before
the first case runs.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from engine.core.clock import FixedClock
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.settings import Settings
from engine.store.tables import ApiTokenRow
from engine.store.tokens import digest
from engine.web.app import create_app
from tests.web.conftest import MONDAY_MORNING, PUBLIC, REPO, SECRET

MAX_EXAMPLES = 30
ROOT = Path(tempfile.mkdtemp(prefix="forvent-schema-"))
RUNTIME = Runtime(
    Settings(
        database_url=f"sqlite:///{ROOT / 'forvent.db'}",
        playbooks_dir=REPO / "playbooks",
        templates_dir=REPO / "templates",
        business_file=REPO / "business.yaml",
        outbox_dir=ROOT / "outbox",
        public_url=PUBLIC,
        secret=SECRET,
    ),
    clock=FixedClock(MONDAY_MORNING),
)
APP = create_app(RUNTIME, dispatch=False)
TOKEN = "fv_schemathesis-" + secrets.token_urlsafe(24)  # known at collection, stored by the fixture
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def seeded(migrated: Path) -> Iterator[None]:
    shutil.copy(migrated, ROOT / "forvent.db")
    service = BookingService(RUNTIME)
    with RUNTIME.database.session() as session:
        service.ensure_business(session, RUNTIME.now())
        session.add(
            ApiTokenRow(
                business_id=RUNTIME.business.id,
                name="schema",
                token_hash=digest(TOKEN),
                created_at=RUNTIME.now(),
            )
        )
    service.book(
        BookingInput(
            ref="C-1",
            playbook="car_service",
            name="Kari",
            phone="+4791234567",
            start="2026-11-24T10:00",
            facts={"vehicle": "Toyota"},
        )
    )
    yield
    RUNTIME.close()
    shutil.rmtree(ROOT, ignore_errors=True)


@schema.auth()
class BearerToken:
    """The deployment's API token, so negative cases that drop it are known as such."""

    def get(self, case: schemathesis.Case[Any], context: object) -> str:
        return TOKEN

    def set(self, case: schemathesis.Case[Any], data: str, context: object) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
