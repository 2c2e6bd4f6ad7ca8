"""Invites judged by software nobody here wrote: libical, vobject, ical.js, Radicale.

Each peer resolves the booking's start to UTC on its own, from the file's
VTIMEZONE; all must agree with the booking. A missing peer skips its test,
or fails it when FORVENT_REQUIRE_PEERS=1. Tools are found through
FORVENT_SHARED_DIR (default ``<repo>/../shared``) and VALIDATORS_DIR (default
``/tmp/validators``); see ``shared/tools/README.md``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from engine.messages.invites import Invite, build_invite

pytestmark = pytest.mark.peers

REPO = Path(__file__).resolve().parents[2]
SHARED_DIR = Path(os.environ.get("FORVENT_SHARED_DIR", REPO.parent / "shared"))
VALIDATORS_DIR = Path(os.environ.get("VALIDATORS_DIR", "/tmp/validators"))
LIBICAL_CHECK = SHARED_DIR / "tools" / "ics_check_libical.py"
SYSTEM_PYTHON = "/usr/bin/python3"
OSLO = ZoneInfo("Europe/Oslo")
SERVER_START_TIMEOUT = 30.0  # seconds
PEER_TIMEOUT = 60  # seconds, for each peer subprocess


class Case(NamedTuple):
    invite: Invite
    start_utc: datetime  # what every peer must read; written out, not computed
    end_utc: datetime


SUMMER = Invite(
    uid="forvent-peers-1@forvent.example.com",
    sequence=0,
    method="REQUEST",
    start=datetime(2026, 7, 14, 10, tzinfo=OSLO),
    end=datetime(2026, 7, 14, 11, tzinfo=OSLO),
    timezone="Europe/Oslo",
    summary="EU-kontroll, Ærlig Bil",
    description="Lever bilen før 10:00.\nRing 22 00 00 00 ved forsinkelse; takk!",
    location="Storgata 1, 0155 Oslo",
    url="https://forvent.example.com/b/1",
    organizer_name="Ærlig Bil AS",
    organizer_email="post@aerligbil.no",
    attendee_name="Åse Øvre",
    attendee_email="ase@example.com",
    stamp=datetime(2026, 7, 1, 9, tzinfo=UTC),
    alarm=timedelta(hours=1),
)
CASES = {
    "summer": Case(SUMMER, datetime(2026, 7, 14, 8, tzinfo=UTC), datetime(2026, 7, 14, 9, tzinfo=UTC)),
    "winter": Case(
        dataclasses.replace(
            SUMMER,
            uid="forvent-peers-2@forvent.example.com",
            start=datetime(2026, 11, 24, 10, tzinfo=OSLO),
            end=datetime(2026, 11, 24, 11, tzinfo=OSLO),
        ),
        datetime(2026, 11, 24, 9, tzinfo=UTC),
        datetime(2026, 11, 24, 10, tzinfo=UTC),
    ),
    "cancel": Case(
        dataclasses.replace(SUMMER, method="CANCEL", sequence=1),
        datetime(2026, 7, 14, 8, tzinfo=UTC),
        datetime(2026, 7, 14, 9, tzinfo=UTC),
    ),
}


def _missing(what: str) -> None:
    if os.environ.get("FORVENT_REQUIRE_PEERS") == "1":
        pytest.fail(f"peer missing: {what}")
    pytest.skip(f"peer missing: {what}")


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=PEER_TIMEOUT, check=False, env=env)


@pytest.fixture(scope="module")
def invite_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("invites")
    files = {}
    for name, case in CASES.items():
        files[name] = folder / f"{name}.ics"
        files[name].write_bytes(build_invite(case.invite))
    return files


# --- libical: the strict iTIP checker ---------------------------------------------------


@pytest.fixture(scope="module")
def libical() -> list[str]:
    probe = 'import gi; gi.require_version("ICalGLib", "3.0")'
    if not LIBICAL_CHECK.is_file() or not Path(SYSTEM_PYTHON).is_file():
        _missing(f"{LIBICAL_CHECK} or {SYSTEM_PYTHON}")
    if _run([SYSTEM_PYTHON, "-c", probe]).returncode != 0:
        _missing("libical GObject bindings (gir1.2-ical-3.0, python3-gi)")
    return [SYSTEM_PYTHON, str(LIBICAL_CHECK)]


def test_libical_accepts_request_and_cancel_as_itip(
    libical: list[str], invite_files: dict[str, Path]
) -> None:
    result = _run([*libical, *map(str, invite_files.values())])

    assert result.returncode == 0, result.stdout + result.stderr
    for path in invite_files.values():
        assert f"ok     {path}" in result.stdout


def test_libical_would_reject_a_request_without_attendee(
    libical: list[str], invite_files: dict[str, Path], tmp_path: Path
) -> None:
    # The control that proves the check above is strict, not a rubber stamp.
    unfolded = invite_files["summer"].read_bytes().replace(b"\r\n ", b"")
    lines = [line for line in unfolded.split(b"\r\n") if not line.startswith(b"ATTENDEE")]
    broken = tmp_path / "no-attendee.ics"
    broken.write_bytes(b"\r\n".join(lines))

    result = _run([*libical, str(broken)])

    assert result.returncode == 1
    assert "ATTENDEE" in result.stdout


# --- vobject and ical.js resolve the start from the file's own VTIMEZONE ----------------

VOBJECT_SCRIPT = """
import json, sys
from datetime import timezone
import vobject
event = vobject.readOne(open(sys.argv[1], encoding="utf-8").read()).vevent
print(json.dumps({
    "start": event.dtstart.value.astimezone(timezone.utc).timestamp(),
    "end": event.dtend.value.astimezone(timezone.utc).timestamp(),
}))
"""

ICALJS_SCRIPT = """
const ICAL = require("ical.js");
const fs = require("fs");
const root = new ICAL.Component(ICAL.parse(fs.readFileSync(process.argv[1], "utf8")));
for (const zone of root.getAllSubcomponents("vtimezone")) ICAL.TimezoneService.register(zone);
const event = new ICAL.Event(root.getFirstSubcomponent("vevent"));
console.log(JSON.stringify({
  start: event.startDate.toUnixTime(),
  end: event.endDate.toUnixTime(),
  zone: event.startDate.zone.tzid,
}));
"""


def _instants(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


@pytest.mark.parametrize("name", CASES)
def test_vobject_in_a_fresh_process_reads_the_booking_instant(
    name: str, invite_files: dict[str, Path]
) -> None:
    if importlib.util.find_spec("vobject") is None:
        _missing("vobject")
    # A fresh interpreter (this venv's, .venv/bin/python): vobject caches zones
    # by TZID, so in-process it could answer from an earlier file's VTIMEZONE.
    read = _instants(_run([sys.executable, "-c", VOBJECT_SCRIPT, str(invite_files[name])]))

    assert read["start"] == CASES[name].start_utc.timestamp()
    assert read["end"] == CASES[name].end_utc.timestamp()


@pytest.mark.parametrize("name", CASES)
def test_icaljs_reads_the_booking_instant(name: str, invite_files: dict[str, Path]) -> None:
    node_modules = VALIDATORS_DIR / "node_modules"
    if shutil.which("node") is None or not (node_modules / "ical.js").is_dir():
        _missing(f"node or {node_modules}/ical.js")
    env = {**os.environ, "NODE_PATH": str(node_modules)}

    read = _instants(_run(["node", "-e", ICALJS_SCRIPT, str(invite_files[name])], env=env))

    assert read["zone"] == "Europe/Oslo"  # not floating: the VTIMEZONE was used
    assert read["start"] == CASES[name].start_utc.timestamp()
    assert read["end"] == CASES[name].end_utc.timestamp()


# --- Radicale: a real CalDAV server stores, finds and replaces the event ---------------

DAV = "{DAV:}"
CALENDAR_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">{time_range}</C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if server.poll() is not None:
            pytest.fail(f"radicale exited with {server.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"radicale not listening after {SERVER_START_TIMEOUT}s")
            time.sleep(0.1)  # real-time: waiting for the server to listen


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A Radicale server with no auth and fresh storage (flags as tools/start_radicale.sh)."""
    if importlib.util.find_spec("radicale") is None:
        _missing("radicale")
    folder, port = tmp_path_factory.mktemp("radicale"), _free_port()
    config, log = folder / "config", folder / "radicale.log"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n[logging]\nlevel = info\n"
    )
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, server, log)
        # Radicale lets any user in with auth "none"; /test/ is user test's home.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=("test", "test")) as client:
            yield client
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def calendar_path(radicale: httpx.Client) -> str:
    path = f"/test/{uuid.uuid4().hex}/"
    response = radicale.request("MKCALENDAR", path)
    assert response.status_code == 201, response.text
    return path


def _events_in(client: httpx.Client, path: str, start: datetime, end: datetime) -> list[str]:
    """Hrefs of the events that overlap [start, end), by a CalDAV time-range query."""
    time_range = f'<C:time-range start="{start:%Y%m%dT%H%M%SZ}" end="{end:%Y%m%dT%H%M%SZ}"/>'
    return _query(client, path, CALENDAR_QUERY.format(time_range=time_range))


def _all_events(client: httpx.Client, path: str) -> list[str]:
    return _query(client, path, CALENDAR_QUERY.format(time_range=""))


def _query(client: httpx.Client, path: str, body: str) -> list[str]:
    response = client.request(
        "REPORT",
        path,
        content=body.encode(),
        headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
    )
    assert response.status_code == 207, response.text
    hrefs = ET.fromstring(response.content).iter(f"{DAV}href")
    return sorted(href.text or "" for href in hrefs)


def _put(client: httpx.Client, href: str, invite: Invite) -> None:
    # RFC 4791 4.1 forbids METHOD in stored objects, but Radicale 3.9 accepts
    # it (201), so the invite goes in exactly as mailed.
    response = client.put(href, content=build_invite(invite), headers={"Content-Type": "text/calendar"})
    assert response.status_code in (201, 204), response.text


@pytest.mark.parametrize("name", ["summer", "winter"])
def test_radicale_finds_the_event_at_the_booking_time(
    name: str, radicale: httpx.Client, calendar_path: str
) -> None:
    case, minute, hour = CASES[name], timedelta(minutes=1), timedelta(hours=1)
    href = f"{calendar_path}booking.ics"
    _put(radicale, href, case.invite)

    assert _events_in(radicale, calendar_path, case.start_utc, case.start_utc + minute) == [href]
    assert _events_in(radicale, calendar_path, case.end_utc - minute, case.end_utc) == [href]
    # Off by an hour either way finds nothing.
    assert _events_in(radicale, calendar_path, case.start_utc - hour, case.start_utc) == []
    assert _events_in(radicale, calendar_path, case.end_utc, case.end_utc + hour) == []


def test_radicale_keeps_one_event_when_the_booking_moves(radicale: httpx.Client, calendar_path: str) -> None:
    href, hour = f"{calendar_path}booking.ics", timedelta(hours=1)
    moved = dataclasses.replace(
        SUMMER,
        sequence=1,
        start=datetime(2026, 7, 14, 13, tzinfo=OSLO),
        end=datetime(2026, 7, 14, 14, tzinfo=OSLO),
    )
    old_start, new_start = (
        datetime(2026, 7, 14, 8, tzinfo=UTC),
        datetime(2026, 7, 14, 11, tzinfo=UTC),
    )
    _put(radicale, href, SUMMER)
    _put(radicale, href, moved)

    assert _all_events(radicale, calendar_path) == [href]
    assert _events_in(radicale, calendar_path, old_start, old_start + hour) == []
    assert _events_in(radicale, calendar_path, new_start, new_start + hour) == [href]
    (stored,) = Calendar.from_ical(radicale.get(href).content).walk("VEVENT")
    assert stored["UID"] == SUMMER.uid
    assert stored["SEQUENCE"] == 1
