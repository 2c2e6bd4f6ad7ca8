"""The bad-input matrix (docs/bad-input.md): every row is a test here.

Refusals go through the real ``forvent`` command in a subprocess and must give
exit status 1, one line on stderr naming the field, option or ``file:line``,
no traceback, and leave every stored row as it was: the whole database is
compared before and after, which is stricter than ``messages`` / ``history``.
The HTTP rows use the real web app (``engine.web.app.create_app``) through
Starlette's test client. Inputs the engine must accept (a foreign mobile
number, a repeated ref, text outside GSM-7) are checked for the right outcome.

One deployment serves the module: a plumber visit ``P-1`` is booked and its
confirmations sent, so there is stored state for a refusal to damage.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from twilio.request_validator import RequestValidator

import engine.store.db
from engine.core.clock import FixedClock
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.settings import TwilioSettings
from engine.store.tables import BookingRow, MessageRow
from engine.store.tokens import create_token
from tests.conftest import Project, make_project
from tests.integration.workers import database_snapshot, settings_for

# The duplicate is appended to the sample file, one line past its end.
BUSINESS_LINES = len((Path(__file__).resolve().parents[2] / "business.yaml").read_text().splitlines())

NOW = "2026-11-23T12:00:00+01:00"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "http://127.0.0.1:8000"


def book_args(ref: str = "P-2", **options: str) -> list[str]:
    """``forvent book`` of a valid plumber visit, with ``options`` (``--name`` -> ``name``) replaced."""
    values = {
        "playbook": "plumber_visit",
        "ref": ref,
        "name": "Kari Nordmann",
        "phone": "91234567",
        "start": "2026-11-25T10:00",
        "fact": "task=Tett avløp",
    }
    values.update(options)
    args = ["book"]
    for key, value in values.items():
        args += [f"--{key.replace('_', '-')}", value]
    return args


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_project(tmp_path_factory.mktemp("bad-input") / "deploy")
    project.run(*book_args("P-1", email="kari@example.com"), now=NOW)
    project.run("dispatch", "--once", now=NOW)
    return project


def db_url(project: Project) -> str:
    return project.env["FORVENT_DATABASE_URL"]


def runtime_of(project: Project) -> Runtime:
    settings = settings_for(
        db_url(project),
        playbooks_dir=project.root / "playbooks",
        templates_dir=project.root / "templates",
        business_file=project.root / "business.yaml",
    )
    return Runtime(settings, clock=FixedClock(datetime.fromisoformat(NOW)))


def book_in_process(project: Project, ref: str, **changes: Any) -> None:
    """Book through the service (same validation as the CLI) where the booking is not under test."""
    data = BookingInput(
        ref=ref,
        playbook="plumber_visit",
        name="Kari Nordmann",
        phone="91234567",
        start="2026-11-25T10:00",
        facts={"task": "Tett avløp"},
    )
    for key, value in changes.items():
        setattr(data, key, value)
    rt = runtime_of(project)
    try:
        BookingService(rt).book(data)
    finally:
        rt.close()


def rows_of(project: Project, *refs: str) -> list[MessageRow]:
    rt = runtime_of(project)
    try:
        with rt.database.session() as s:
            return list(
                s.scalars(
                    select(MessageRow)
                    .join(BookingRow, BookingRow.id == MessageRow.booking_id)
                    .where(BookingRow.ref.in_(refs))
                    .order_by(MessageRow.id)
                )
            )
    finally:
        rt.close()


@contextmanager
def edited(path: Path, edit: Callable[[str], str]) -> Iterator[None]:
    original = path.read_text()
    path.write_text(edit(original))
    try:
        yield
    finally:
        path.write_text(original)


def refused(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must be refused; returns its one error line. Nothing stored may change."""
    before = database_snapshot(db_url(project))
    saved = dict(project.env)
    project.env.update(env or {})
    try:
        result = project.run(*args, now=NOW, check=False)
    finally:
        project.env.clear()
        project.env.update(saved)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert database_snapshot(db_url(project)) == before
    return lines[0]


# --- playbooks, business file and settings --------------------------------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(lambda t: t.replace("steps:", "steps: [\n", 1), ": malformed YAML", id="malformed-yaml"),
        pytest.param(
            lambda t: t.replace("title:", "colour: red\ntitle:", 1),
            ": unknown key 'colour'",
            id="unknown-key",
        ),
        pytest.param(
            lambda t: t.replace("at: start - 1d", "at: start - 1x", 1), "bad duration '1x'", id="bad-duration"
        ),
        pytest.param(
            lambda t: t.replace("title:", "x-a: &a [1, 2]\nx-b: [*a, *a]\ntitle:", 1),
            ": anchors (&a) are not allowed",
            id="yaml-alias",
        ),
        pytest.param(lambda t: t + "steps: []\n", ": duplicate key 'steps'", id="duplicate-key"),
    ],
)
def test_a_broken_playbook_is_named_by_file_and_line(
    deployment: Project, edit: Callable[[str], str], expected: str
) -> None:
    with edited(deployment.root / "playbooks" / "plumber_visit.yaml", edit):
        line = refused(deployment, *book_args())
    assert line.startswith("error: playbooks/plumber_visit.yaml:"), line
    assert line.split(":")[2].isdigit() and expected in line, line


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(lambda t: t + "colour: red\n", "business.yaml: colour", id="unknown-key"),
        pytest.param(
            lambda t: t.replace("timezone: Europe/Oslo", "timezone: Europe/Osl"),
            "unknown time zone 'Europe/Osl'",
            id="unknown-time-zone",
        ),
        pytest.param(
            lambda t: t.replace("timezone: Europe/Oslo", "timezone: &tz Europe/Oslo"),
            "business.yaml:10: anchors (&tz) are not allowed",
            id="yaml-anchor",
        ),
        pytest.param(
            lambda t: t + "timezone: Europe/Berlin\n",
            f"business.yaml:{BUSINESS_LINES + 1}: duplicate key 'timezone' (first on line 10)",
            id="duplicate-key",
        ),
    ],
)
def test_a_broken_business_file_is_named(
    deployment: Project, edit: Callable[[str], str], expected: str
) -> None:
    with edited(deployment.root / "business.yaml", edit):
        line = refused(deployment, *book_args())
    assert "business.yaml" in line and expected in line, line


def test_a_bad_duration_in_the_environment_is_named(deployment: Project) -> None:
    line = refused(deployment, "dispatch", "--once", env={"FORVENT_CLAIM_LEASE": "5x"})
    assert "FORVENT_CLAIM_LEASE: bad duration '5x'" in line


# --- booking fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        pytest.param(
            "playbook", "../business", "playbook: '../business' is not a playbook id", id="playbook-path"
        ),
        pytest.param(
            "playbook", "/etc/passwd", "playbook: '/etc/passwd' is not a playbook id", id="playbook-absolute"
        ),
        pytest.param("tz", "Europe/Osl", "unknown time zone 'Europe/Osl'", id="unknown-time-zone"),
        pytest.param("phone", "12", "phone: '12' is not", id="phone-invalid"),
        pytest.param(  # a German number written nationally, without +49
            "phone", "0151 23456789", "phone: '0151 23456789' is not a valid", id="phone-foreign-national"
        ),
        pytest.param("phone", "22 00 00 00", "phone: '22 00 00 00' is not a mobile", id="phone-landline"),
        pytest.param("email", "kari@", "email: 'kari@' is not a valid email address", id="email-invalid"),
        pytest.param("end", "2026-11-25T09:00", "end: must be after start", id="end-before-start"),
        pytest.param("start", "2026-11-20T10:00", "start: more than 1 h in the past", id="start-in-past"),
        pytest.param("name", "K" * 201, "name: longer than 200 characters", id="name-too-long"),
        pytest.param(  # it would reach the email's To header and fail every send
            "name",
            "Kari\nBcc: all@example.com",
            "name: must not contain control characters or line breaks (found U+000A)",
            id="name-line-break",
        ),
        pytest.param(  # the SMTP path does not speak SMTPUTF8
            "email",
            "kåre@example.com",
            "email: 'kåre@example.com' is not a valid email address (Internationalized characters before",
            id="email-non-ascii-local-part",
        ),
        pytest.param("location", "x" * 2001, "location: longer than 2000", id="location-too-long"),
        pytest.param("fact", "task=" + "x" * 2001, "facts.task: longer than 2000", id="fact-too-long"),
        pytest.param("fact", "estimate=lots", "facts.estimate: expected an amount", id="fact-bad-money"),
        pytest.param(  # 3450 in nb and da, 3.45 in en: refused rather than guessed
            "fact",
            "estimate=3.450",
            "facts.estimate: '3.450' is ambiguous (3450 or 3.45?)",
            id="fact-ambiguous-money",
        ),
        pytest.param("ref", "R" * 101, "ref: ", id="ref-too-long"),
    ],
)
def test_a_bad_booking_field_is_named_and_nothing_is_stored(
    deployment: Project, option: str, value: str, expected: str
) -> None:
    line = refused(deployment, *book_args(**{option: value}))
    assert expected in line, line


def test_an_unknown_ref_is_named_and_nothing_changes(deployment: Project) -> None:
    assert "unknown booking ref 'NOPE'" in refused(deployment, "delay", "NOPE", "--minutes", "10")


def test_a_foreign_mobile_number_in_e164_is_accepted(deployment: Project) -> None:
    deployment.run(*book_args("P-DE", phone="+49 1512 3456789"), now=NOW)
    deployment.run("dispatch", "--once", now=NOW)
    [sms] = [r for r in rows_of(deployment, "P-DE") if r.step == "confirmation"]
    assert (sms.status, sms.to_addr) == ("sent", "+4915123456789")


def test_a_repeated_ref_updates_the_booking_instead_of_adding_one(deployment: Project) -> None:
    url = db_url(deployment)
    deployment.run(*book_args("P-DUP"), now=NOW)
    first = database_snapshot(url)
    deployment.run(*book_args("P-DUP"), now=NOW)  # identical: changes nothing at all
    assert database_snapshot(url) == first
    deployment.run(*book_args("P-DUP", name="Kari Hansen"), now=NOW)  # new details: the same booking
    after = database_snapshot(url)
    [booking] = [b for b in after["bookings"] if b["ref"] == "P-DUP"]
    assert len(after["bookings"]) == len(first["bookings"])
    [customer] = [c for c in after["customers"] if c["id"] == booking["customer_id"]]
    assert customer["name"] == "Kari Hansen"


# --- at send time ------------------------------------------------------------------------


def test_a_template_failing_for_one_booking_fails_that_message_and_the_rest_go(deployment: Project) -> None:
    template = deployment.root / "templates" / "plumber_visit" / "nb" / "confirmation.sms.j2"
    bomb = '\n{% if booking.facts.task == "boom" %}{{ (booking.facts.task | length) // 0 }}{% endif %}'
    for ref, task in (("T-1", "Tett avløp"), ("T-2", "boom"), ("T-3", "Lekk kran")):
        book_in_process(deployment, ref, facts={"task": task}, email=f"{ref.lower()}@example.com")
    with edited(template, lambda t: t + bomb):
        result = deployment.run("dispatch", "--once", now=NOW)
    assert result.returncode == 0  # a send failure is recorded, not an exit status
    rt = runtime_of(deployment)
    with rt.database.session() as s:
        rows = {
            (ref, m.channel): m
            for ref in ("T-1", "T-2", "T-3")
            for m in s.scalars(
                select(MessageRow).where(
                    MessageRow.booking_id == BookingService(rt).get(s, ref).id,
                    MessageRow.step == "confirmation",
                )
            )
        }
    rt.close()
    failed = rows.pop(("T-2", "sms"))
    assert (failed.status, failed.reason) == ("failed", "template_error")
    assert {m.status for m in rows.values()} == {"sent"}  # T-2's email and the other bookings' messages
    [entry] = [h for h in deployment.json("history", "T-2", now=NOW) if h["kind"] == "message:failed"]
    assert "confirmation.sms.j2:" in entry["detail"]  # the template file and line, for the business


def ucs2_segments(text: str) -> int:
    """Segments of a UCS-2 SMS without characters outside the BMP: 70 units, else 67 a part."""
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def test_text_outside_gsm7_goes_as_ucs2_with_its_segments_counted(deployment: Project) -> None:
    deployment.run(*book_args("U-1", name="Łukasz Żółć"), now=NOW)
    book_in_process(deployment, "G-1")
    deployment.run("dispatch", "--once", now=NOW)
    sms = {m["booking"]: m for m in deployment.sms_files() if m["step"] == "confirmation"}
    ucs2, gsm = sms["U-1"], sms["G-1"]
    assert "Łukasz" in ucs2["body"]
    assert ucs2["encoding"] == "UCS-2" and ucs2["segments"] == ucs2_segments(ucs2["body"]) >= 2
    assert gsm["encoding"] == "GSM-7" and gsm["segments"] < ucs2["segments"]


# --- a locked SQLite database -------------------------------------------------------------


def hold_write_lock(path: Path) -> sqlite3.Connection:
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # what another writer (a dispatcher's pass) holds
    return lock


def test_a_write_waits_for_a_locked_sqlite_database_and_succeeds(deployment: Project) -> None:
    rt = runtime_of(deployment)
    waiting, begun = threading.Event(), {}
    errors: list[BaseException] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement == "BEGIN IMMEDIATE" and not waiting.is_set():
            begun["at"] = time.monotonic()
            waiting.set()

    def book() -> None:
        try:
            BookingService(rt).book(
                BookingInput(
                    ref="L-1",
                    playbook="plumber_visit",
                    name="Kari",
                    phone="91234567",
                    start="2026-11-25T10:00",
                    facts={"task": "Tett avløp"},
                )
            )
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)

    event.listen(rt.database.engine, "before_cursor_execute", before)
    lock = hold_write_lock(deployment.root / "forvent.db")
    writer = threading.Thread(target=book)
    try:
        writer.start()
        assert waiting.wait(30), "the command never tried to write"
        time.sleep(0.3)  # real-time: the command is now blocked on the lock, inside busy_timeout
        released = time.monotonic()
        lock.execute("ROLLBACK")
        writer.join(30)
    finally:
        lock.close()
        rt.close()
    assert not errors, errors
    assert released - begun["at"] >= 0.3  # it waited for the lock instead of failing
    assert [m["step"] for m in deployment.json("messages", "L-1", now=NOW)].count("confirmation") == 1


def test_a_lock_held_past_busy_timeout_is_one_line_and_stores_nothing(
    deployment: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process through the CLI's own entry point: busy_timeout (30 s) shortened to 100 ms."""
    from engine.cli.main import cli

    monkeypatch.setattr(engine.store.db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    for key, value in {**deployment.env, "FORVENT_NOW": NOW}.items():
        if key.startswith("FORVENT_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(deployment.root)
    before = database_snapshot(db_url(deployment))
    lock = hold_write_lock(deployment.root / "forvent.db")
    try:
        result = CliRunner().invoke(cli, book_args("L-2"))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert result.exit_code == 1
    assert result.output.strip() == "error: --db: cannot reach the database: database is locked"
    assert database_snapshot(db_url(deployment)) == before


# --- HTTP: webhooks and the API -------------------------------------------------------------


@pytest.fixture
def client(deployment: Project) -> Iterator[tuple[TestClient, str]]:
    from engine.web.app import create_app

    rt = runtime_of(deployment)
    rt.settings = rt.settings.model_copy(update={"twilio": TwilioSettings(auth_token=TWILIO_TOKEN)})
    with rt.database.session() as s:
        token = create_token(
            s,
            business_id=rt.business.id,
            business_name=rt.business.name,
            name=f"t{time.monotonic_ns()}",
            now=rt.now(),
        )
    with TestClient(create_app(rt, dispatch=False)) as test_client:
        yield test_client, token
    rt.close()


def twilio_post(client: TestClient, path: str, form: dict[str, str]) -> int:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, form)
    return int(client.post(path, data=form, headers={"X-Twilio-Signature": signature}).status_code)


def test_a_replayed_twilio_webhook_changes_nothing(
    deployment: Project, client: tuple[TestClient, str]
) -> None:
    http, _ = client
    [sms] = [m for m in deployment.json("messages", "P-1", now=NOW) if m["channel"] == "sms" and m["sent_at"]]
    status = f"/webhooks/twilio/status?m={sms['id']}"
    delivered = {"MessageSid": "SM-status-1", "MessageStatus": "delivered"}
    reply = {"MessageSid": "SM-inbound-1", "From": "+4791234567", "To": "+4759441122", "Body": "Ja takk!"}
    assert twilio_post(http, status, delivered) == 204
    assert twilio_post(http, "/webhooks/twilio/inbound", reply) == 200
    after_first = database_snapshot(db_url(deployment))
    assert twilio_post(http, status, delivered) == 204  # Twilio retries; a replay is answered the same...
    assert twilio_post(http, "/webhooks/twilio/inbound", reply) == 200
    assert database_snapshot(db_url(deployment)) == after_first  # ...and changes nothing
    acks = [m for m in after_first["messages"] if m["step"] == "reply_confirm"]
    assert len(acks) == 1  # one acknowledgement: the first request's


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        pytest.param("[]", 422, None, id="array"),
        pytest.param('"a booking"', 422, None, id="string"),
        pytest.param("{", 400, None, id="malformed-json"),
        pytest.param(
            '{"ref": 7, "playbook": "plumber_visit", "start": "2026-11-25T10:00"}',
            422,
            "ref",
            id="ref-number",
        ),
        pytest.param(
            '{"ref": "H-1", "playbook": "plumber_visit", "customer": "Kari", "start": "2026-11-25T10:00"}',
            422,
            "customer",
            id="customer-string",
        ),
        pytest.param(
            '{"ref": "H-1", "playbook": "plumber_visit", "start": 20261125}', 422, "start", id="start-number"
        ),
    ],
)
def test_a_request_body_of_the_wrong_type_is_a_4xx_naming_the_field(
    deployment: Project, client: tuple[TestClient, str], body: str, status: int, field: str | None
) -> None:
    http, token = client
    before = database_snapshot(db_url(deployment))
    response = http.post(
        "/api/v1/bookings",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"} and error["message"]
    if field is not None:
        assert error["field"] == field and field in error["message"]
    assert database_snapshot(db_url(deployment)) == before
