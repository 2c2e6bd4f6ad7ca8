"""Every invite a booking's life produces, judged by libical, vobject and ical.js.

Both seed playbooks walk create -> delay -> reschedule (into summer time) ->
cancel through the real engine; each invite the customer gets by email must
pass libical's strict iTIP check, and vobject (fresh process) and ical.js must
read the booking's instant at that moment, with the same UID and a rising
SEQUENCE, ending in METHOD:CANCEL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from tests.integration.test_invite_peers import LIBICAL_CHECK, SYSTEM_PYTHON, VALIDATORS_DIR, _missing
from tests.integration.world import OSLO, World

pytestmark = pytest.mark.peers

VOBJECT_BATCH = """
import json, sys
from datetime import timezone
import vobject
out = []
for name in sys.argv[1:]:
    event = vobject.readOne(open(name, encoding="utf-8").read()).vevent
    out.append(event.dtstart.value.astimezone(timezone.utc).timestamp())
print(json.dumps(out))
"""
ICALJS_BATCH = """
const ICAL = require("ical.js");
const fs = require("fs");
const out = [];
for (const name of process.argv.slice(1)) {
  const root = new ICAL.Component(ICAL.parse(fs.readFileSync(name, "utf8")));
  for (const zone of root.getAllSubcomponents("vtimezone")) ICAL.TimezoneService.register(zone);
  const event = new ICAL.Event(root.getFirstSubcomponent("vevent"));
  out.push([event.startDate.toUnixTime(), event.startDate.zone.tzid]);
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[Path, datetime]]]:
    """(invite file, the booking's start when it was sent) for both seed playbooks."""
    tmp_path = tmp_path_factory.mktemp("walk")
    produced: list[tuple[Path, datetime]] = []
    for playbook in ("car_service", "plumber_visit"):
        (tmp_path / playbook).mkdir()
        world = World(tmp_path / playbook)
        expected: list[datetime] = []

        def dispatch(start: datetime, world: World = world, expected: list[datetime] = expected) -> None:
            before = len([m for m in world.email.sent if m.ics])
            world.dispatcher.run_until_idle()
            expected.extend([start] * (len([m for m in world.email.sent if m.ics]) - before))

        world.book(ref="W-1", playbook=playbook)
        dispatch(datetime(2026, 11, 26, 10, 0, tzinfo=OSLO))
        world.at(2026, 11, 26, 8, 0)  # after quiet hours: the reschedule's and cancel's invites go at once
        world.service.delay("W-1", minutes=40, reason="sykdom")
        dispatch(datetime(2026, 11, 26, 10, 40, tzinfo=OSLO))
        world.service.reschedule("W-1", start="2027-06-15T09:30", end="2027-06-15T11:00")
        dispatch(datetime(2027, 6, 15, 9, 30, tzinfo=OSLO))
        world.service.cancel("W-1", reason="kunden avlyste")
        dispatch(datetime(2027, 6, 15, 9, 30, tzinfo=OSLO))
        invites = [m for m in world.email.sent if m.ics]
        assert len(invites) == 4, [(m.step, m.ics_method) for m in invites]
        for index, (message, start) in enumerate(zip(invites, expected, strict=True)):
            path = tmp_path / f"{playbook}-{index}-{message.step}.ics"
            assert message.ics is not None
            path.write_bytes(message.ics)
            produced.append((path, start))
        world.close()
    yield produced


def test_uid_stays_sequence_rises_and_the_last_one_cancels(walk: list[tuple[Path, datetime]]) -> None:
    for playbook in ("car_service", "plumber_visit"):
        events = [
            (
                Calendar.from_ical(p.read_bytes()),
                next(iter(Calendar.from_ical(p.read_bytes()).walk("VEVENT"))),
            )
            for p, _ in walk
            if p.name.startswith(playbook)
        ]
        assert len({str(e["UID"]) for _, e in events}) == 1
        sequences = [int(e["SEQUENCE"]) for _, e in events]
        assert sequences == sorted(sequences) and len(set(sequences)) == 4
        assert [str(c["METHOD"]) for c, _ in events] == ["REQUEST", "REQUEST", "REQUEST", "CANCEL"]
        assert str(events[-1][1]["STATUS"]) == "CANCELLED"
        for calendar, _ in events:
            tzids = {str(c["DTSTART"].params.get("TZID")) for c in calendar.walk("VEVENT")} - {"None"}
            zones = {str(z["TZID"]) for z in calendar.walk("VTIMEZONE")}
            assert tzids <= zones


def test_libical_accepts_every_invite_of_the_walk(walk: list[tuple[Path, datetime]]) -> None:
    if not LIBICAL_CHECK.is_file() or not Path(SYSTEM_PYTHON).is_file():
        _missing("libical checker")
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", 'import gi; gi.require_version("ICalGLib", "3.0")'],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        _missing("libical GObject bindings")
    result = subprocess.run(
        [SYSTEM_PYTHON, str(LIBICAL_CHECK), *(str(p) for p, _ in walk)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vobject_reads_each_invite_at_the_booking_instant(walk: list[tuple[Path, datetime]]) -> None:
    # One process per file: vobject caches a zone by its TZID, so a second file's
    # VTIMEZONE (another year's range) would be ignored within one process.
    read = []
    for path, _ in walk:
        result = subprocess.run(
            [sys.executable, "-c", VOBJECT_BATCH, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        read += json.loads(result.stdout)
    assert read == [start.timestamp() for _, start in walk]


def test_icaljs_reads_each_invite_at_the_booking_instant(walk: list[tuple[Path, datetime]]) -> None:
    node_modules = VALIDATORS_DIR / "node_modules"
    if shutil.which("node") is None or not (node_modules / "ical.js").is_dir():
        _missing("node or ical.js")
    env = {**os.environ, "NODE_PATH": str(node_modules)}
    result = subprocess.run(
        ["node", "-e", ICALJS_BATCH, *(str(p) for p, _ in walk)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[start.timestamp(), "Europe/Oslo"] for _, start in walk]
