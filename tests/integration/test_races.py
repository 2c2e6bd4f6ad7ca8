"""Concurrent user actions on one booking: each one wins whole or loses cleanly, none is lost.

Every user action (delay, reschedule, cancel...) is one transaction that first
locks its booking row, so actions on one booking run one after the other:
concurrent delays add up, and an action that the booking's new state refuses
(a delay after a cancel) loses cleanly, as HTTP 409 with the error code
``conflict`` or as exit status 1 with a one-line message and no traceback,
never as a 500, a traceback or a silent loss.

The races are real: several OS processes on one database, started and then
released together. A CLI process is a driver (``python -m
tests.integration.test_races``) that runs the ``forvent`` command's own entry
point, ``engine.cli.main.cli``, for each of its commands: interpreter start-up
(0.6 s a command) would otherwise spread the commands so far apart that they
rarely overlap. Each command builds its runtime, opens its connections and
exits as a ``forvent`` process does; an exception escaping the command is
recorded with its traceback, as the interpreter would print it. The API races
go through a real ``forvent serve --no-dispatch`` process.

The engine clock is fixed (``FORVENT_NOW``): every event happens at the same
instant, so the order of the actions on a booking is read from the history
(its ids are taken in commit order once the booking row is locked first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from engine.store.db import Database
from engine.store.tables import BookingRow, HistoryRow, MessageRow
from tests.conftest import FORVENT, Project
from tests.integration.peers import free_port
from tests.integration.workers import worker_env

OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=OSLO)  # Monday morning; the visits are Tuesday and Wednesday
RESCHEDULED = datetime(2026, 11, 26, 13, 0, tzinfo=OSLO)  # the one new time every reschedule agrees on
DURATION = {"plumber_visit": timedelta(hours=1), "car_service": timedelta(hours=3)}  # default_duration
DELAY = timedelta(minutes=10)  # every delay in this file is `--minutes 10`
PENDING = ("planned", "retrying", "sending")
START_TIMEOUT = 60.0  # seconds of real time for the processes to start and connect
RUN_TIMEOUT = 60.0  # seconds of real time for a race to finish
REQUEST_TIMEOUT = 30.0
T = TypeVar("T")

# --- the deployment -------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    ref: str
    playbook: str
    start: datetime

    @property
    def book(self) -> list[str]:
        fact = "task=Tett avløp" if self.playbook == "plumber_visit" else "vehicle=Toyota Corolla"
        return [
            "book",
            "--playbook",
            self.playbook,
            "--ref",
            self.ref,
            "--name",
            f"Kunde {self.ref}",
            "--phone",
            f"+47912{int(self.ref[2:]):05d}",
            "--start",
            self.start.replace(tzinfo=None).isoformat(timespec="minutes"),
            "--fact",
            fact,
        ]


def plan_bookings(count: int) -> list[Planned]:
    """Plumber visits and car services, Tuesday and Wednesday from 08:00, one an hour."""
    return [
        Planned(
            ref=f"R-{i:02d}",
            playbook="plumber_visit" if (i // 2) % 2 == 0 else "car_service",
            start=datetime(2026, 11, 24 + i % 2, 8 + i // 2, 0, tzinfo=OSLO),
        )
        for i in range(count)
    ]


def deploy(database_url: str, root: Path, bookings: Sequence[Planned]) -> Project:
    """A migrated database, the seed playbooks, the file channels and ``bookings`` (``forvent book``)."""
    root.mkdir(parents=True, exist_ok=True)
    env = worker_env(database_url, NOW, FORVENT_OUTBOX_DIR=str(root / "outbox"))
    db = Database(database_url)
    db.upgrade()
    db.dispose()
    project = Project(root=root, env=env)
    [made] = drive(project, [[b.book for b in bookings]], barrier=False)
    assert not (failed := describe([o for o in made if not o.won])), "\n".join(failed)
    return project


# --- CLI driver processes -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one action answered, as a command's exit status and stderr.

    An HTTP answer maps onto it (``api_outcome``): 2xx is 0, a 409 ``conflict`` is
    1 with its message, anything else keeps its status (-1: no answer at all).
    """

    action: str
    ref: str
    exit: int
    stderr: str

    @property
    def won(self) -> bool:
        return self.exit == 0 and "Traceback" not in self.stderr

    @property
    def lost_cleanly(self) -> bool:
        lines = self.stderr.strip().splitlines()
        return self.exit == 1 and len(lines) == 1 and lines[0].startswith("error:")


def drive(project: Project, scripts: list[list[list[str]]], *, barrier: bool) -> list[list[Outcome]]:
    """One driver process per script, released together when ``barrier``; each script's outcomes."""
    work = project.root / f"drive-{time.monotonic_ns()}"
    gate = work / "barrier"
    gate.mkdir(parents=True)
    commands = [work / f"commands-{i}.json" for i in range(len(scripts))]
    results = [work / f"results-{i}.json" for i in range(len(scripts))]
    for path, script in zip(commands, scripts, strict=True):
        path.write_text(json.dumps(script))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.test_races",
                "--commands",
                str(command),
                "--results",
                str(result),
                *(["--barrier", str(gate)] if barrier else []),
            ],
            cwd=project.root,
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command, result in zip(commands, results, strict=True)
    ]
    try:
        if barrier:
            deadline = time.monotonic() + START_TIMEOUT
            while len(list(gate.glob("ready-*"))) < len(procs):
                assert all(p.poll() is None for p in procs), "a driver died while starting"
                assert time.monotonic() < deadline, "the drivers did not start"
                time.sleep(0.02)  # real-time: polling for the drivers to finish starting up
            (gate / "go").touch()
        outputs = [p.communicate(timeout=RUN_TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, f"driver failed:\n{err}"
    return [[Outcome(**o) for o in json.loads(path.read_text())] for path in results]


def _wait_for_go(gate: Path) -> None:
    (gate / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + START_TIMEOUT
    while not (gate / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.002)  # real-time: waiting for the other drivers to be ready


def main(argv: Sequence[str] | None = None) -> None:
    """The driver: run each command of ``--commands`` through the ``forvent`` CLI, in order."""
    from click.testing import CliRunner

    from engine.cli.main import cli

    parser = argparse.ArgumentParser(prog="test_races")
    parser.add_argument("--commands", type=Path, required=True, help="JSON list of forvent argument lists")
    parser.add_argument("--results", type=Path, required=True, help="where the outcomes are written")
    parser.add_argument("--barrier", type=Path, default=None, help="directory of the start barrier")
    args = parser.parse_args(argv)
    commands: list[list[str]] = json.loads(args.commands.read_text())
    runner = CliRunner()
    if args.barrier is not None:
        _wait_for_go(args.barrier)
    outcomes = []
    for command in commands:
        result = runner.invoke(cli, command, catch_exceptions=True)
        stderr = result.stderr
        if (
            result.exc_info is not None
            and result.exception is not None
            and not isinstance(result.exception, SystemExit)
        ):
            # What the interpreter prints when an exception escapes `forvent`.
            stderr += "".join(traceback.format_exception(*result.exc_info))
        ref = command[command.index("--ref") + 1] if "--ref" in command else command[1]
        outcomes.append({"action": command[0], "ref": ref, "exit": result.exit_code, "stderr": stderr})
    args.results.write_text(json.dumps(outcomes))


# --- the API --------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    token: str
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        """A connection with an API token: the server's own unless another is given."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token if token is None else token}"},
            timeout=REQUEST_TIMEOUT,
        )

    def errors(self) -> list[str]:
        """The log lines naming an exception or an error (a traceback's last line names its exception)."""
        return [line for line in self.log.read_text().splitlines() if "Error" in line or "Traceback" in line]


@contextmanager
def serve(project: Project) -> Iterator[Server]:
    """``forvent serve --no-dispatch`` on a free port, with an API token; stopped on the way out."""
    token = json.loads(project.run("--json", "token", "create", "races").stdout)["token"]
    port = free_port()
    log = project.root / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [*FORVENT, "serve", "--no-dispatch", "--host", "127.0.0.1", "--port", str(port)],
            cwd=project.root,
            env=project.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", token=token, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"forvent serve died:\n{log.read_text()}"
            assert time.monotonic() < deadline, "forvent serve did not answer"
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # real-time: polling until the server listens
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def api_outcome(action: str, ref: str, answer: httpx.Response) -> Outcome:
    """An HTTP answer as an Outcome: 2xx wins; 409 ``conflict`` loses cleanly; anything else is neither."""
    if answer.is_success:
        return Outcome(action, ref, 0, "")
    try:
        code = answer.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if answer.status_code == 409 and code == "conflict":
        return Outcome(action, ref, 1, f"error: {answer.json()['error']['message']}")
    return Outcome(action, ref, answer.status_code, f"HTTP {answer.status_code}: {answer.text}")


API_BODIES: dict[str, dict[str, Any]] = {
    "delay": {"minutes": 10},
    "reschedule": {"start": RESCHEDULED.replace(tzinfo=None).isoformat(timespec="minutes")},
    "cancel": {},
}


@dataclass(frozen=True)
class Post:
    """One API request of a race, and the action and ref its Outcome is filed under."""

    path: str
    body: dict[str, Any]
    action: str
    ref: str


def together(racers: Sequence[Callable[[threading.Barrier], T]]) -> list[T]:
    """Each racer in its own thread, given the barrier they all meet at before they race.

    What each racer returned, in order; a racer that raises breaks the barrier for the
    others and fails the test.
    """
    barrier = threading.Barrier(len(racers), timeout=START_TIMEOUT)
    results: list[T | None] = [None] * len(racers)
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = racers[i](barrier)
        except BaseException as exc:
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(racers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=RUN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "the race did not finish"
    assert not failures, failures
    return cast(list[T], results)


def race_posts(
    server: Server, scripts: Sequence[tuple[str, Sequence[Post]]], *, in_step: bool
) -> list[list[Outcome]]:
    """One thread per (API token, posts), each with its own connection, released together.

    ``in_step``: the threads meet at the barrier before every request, not only the first.
    """

    def racer(token: str, posts: Sequence[Post]) -> Callable[[threading.Barrier], list[Outcome]]:
        def run(barrier: threading.Barrier) -> list[Outcome]:
            outcomes = []
            with server.client(token) as http:
                http.get("/healthz").raise_for_status()  # the connection is open before the race
                for n, post in enumerate(posts):
                    if n == 0 or in_step:
                        barrier.wait()
                    try:
                        answer = http.post(post.path, json=post.body)
                    except httpx.TransportError as exc:  # the server dropped the connection
                        outcomes.append(Outcome(post.action, post.ref, -1, f"no answer: {exc!r}"))
                    else:
                        outcomes.append(api_outcome(post.action, post.ref, answer))
            return outcomes

        return run

    return together([racer(token, posts) for token, posts in scripts])


def race_api(
    server: Server, scripts: list[list[tuple[str, str]]], *, in_step: bool = False
) -> list[list[Outcome]]:
    """One thread per script of (action, ref) on the server's token (see ``race_posts``)."""
    posts = [
        [Post(f"/api/v1/bookings/{ref}/{action}", API_BODIES[action], action, ref) for action, ref in script]
        for script in scripts
    ]
    return race_posts(server, [(server.token, script) for script in posts], in_step=in_step)


# --- what the database says -----------------------------------------------------------


def booking_ids(database_url: str) -> dict[str, int]:
    """Each booking's id by ref (a customer's link is signed for the id)."""
    db = Database(database_url)
    try:
        with db.session() as s:
            return {row.ref: row.id for row in s.scalars(select(BookingRow))}
    finally:
        db.dispose()


@dataclass
class Seen:
    status: str
    start: datetime
    end: datetime
    promised_start: datetime
    events: list[str]  # event names in recording order
    messages: list[tuple[str, str, str | None]]  # (step, status, reason) by id


def read_bookings(database_url: str) -> dict[str, Seen]:
    db = Database(database_url)
    try:
        with db.session() as s:
            seen: dict[str, Seen] = {}
            for row in s.scalars(select(BookingRow)):
                events = s.scalars(
                    select(HistoryRow.kind)
                    .where(HistoryRow.booking_id == row.id, HistoryRow.kind.startswith("event:"))
                    .order_by(HistoryRow.id)
                )
                messages = s.execute(
                    select(MessageRow.step, MessageRow.status, MessageRow.reason)
                    .where(MessageRow.booking_id == row.id)
                    .order_by(MessageRow.id)
                )
                seen[row.ref] = Seen(
                    status=row.status,
                    start=row.start_at,
                    end=row.end_at,
                    promised_start=row.promised_start,
                    events=[kind.removeprefix("event:") for kind in events],
                    messages=[(step, status, reason) for step, status, reason in messages],
                )
            return seen
    finally:
        db.dispose()


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Detected)\b")


def describe(outcomes: Sequence[Outcome]) -> list[str]:
    """One line an outcome: action, ref, exit or HTTP status, and the error (a traceback: its exception)."""
    lines = []
    for o in outcomes:
        text = o.stderr.strip().splitlines() or [""]
        named = [line for line in text if EXCEPTION_LINE.match(line)]
        lines.append(f"{o.action} {o.ref}: exit {o.exit}: {(named or text)[-1][:200]}")
    return lines


def local(*times: datetime) -> list[str]:
    """Times as the customer reads them: Oslo wall clock with offset."""
    return [t.astimezone(OSLO).isoformat() for t in times]


def refused(outcomes: Sequence[Outcome]) -> list[str]:
    """Outcomes that are neither a win nor a clean loss: a 5xx, a traceback, an odd exit status."""
    return describe([o for o in outcomes if not o.won and not o.lost_cleanly])


# --- concurrent delays add up ---------------------------------------------------------


def test_four_processes_delaying_every_booking_add_up_their_delays(database_url: str, tmp_path: Path) -> None:
    """Four `forvent delay REF --minutes 10` processes over 12 bookings: all succeed, all 40 min late."""
    bookings = plan_bookings(12)
    project = deploy(database_url, tmp_path / "deploy", bookings)
    script = [["delay", b.ref, "--minutes", "10"] for b in bookings]
    runs = drive(project, [script] * 4, barrier=True)
    outcomes = [o for run in runs for o in run]
    assert not (problems := refused(outcomes)), "\n".join(problems)
    lost = describe([o for o in outcomes if not o.won])
    assert not lost, "a delay lost a race against another delay:\n" + "\n".join(lost)
    seen = read_bookings(database_url)
    for b in bookings:
        got = seen[b.ref]
        assert got.status == "booked", b.ref
        assert got.events == ["booking.created"] + ["booking.delayed"] * 4, b.ref
        expected = b.start + 4 * DELAY
        assert local(got.start, got.end) == local(expected, expected + DURATION[b.playbook]), b.ref
        assert got.promised_start == b.start, b.ref


# --- cancel, delay, reschedule and delay at once --------------------------------------


def cancelled_refs(bookings: Sequence[Planned]) -> set[str]:
    """The bookings the cancelling racer cancels: every other one."""
    return {b.ref for i, b in enumerate(bookings) if i % 2 == 0}


def mixed_scripts(bookings: Sequence[Planned]) -> list[list[tuple[str, str]]]:
    """Four racers: cancel (every other booking; a delay on the rest) and delay walk the bookings
    backwards, reschedule (to RESCHEDULED) and delay forwards.

    The two backward racers meet on every booking at once; against the forward
    ones the cancel comes late on the first bookings and early on the last.
    """
    backwards = list(reversed(bookings))
    return [
        [("cancel" if b.ref in cancelled_refs(bookings) else "delay", b.ref) for b in backwards],
        [("delay", b.ref) for b in backwards],
        [("reschedule", b.ref) for b in bookings],
        [("delay", b.ref) for b in bookings],
    ]


def cli_command(action: str, ref: str) -> list[str]:
    """The `forvent` arguments of a racer's action: the same as the API bodies."""
    options = {
        "delay": ["--minutes", "10"],
        "reschedule": ["--start", API_BODIES["reschedule"]["start"]],
        "cancel": [],
    }
    return [action, ref, *options[action]]


def check_mixed_race(database_url: str, bookings: Sequence[Planned], outcomes: Sequence[Outcome]) -> None:
    assert not (problems := refused(outcomes)), "\n".join(problems)
    cancelled = cancelled_refs(bookings)
    wins = Counter((o.ref, o.action) for o in outcomes if o.won)
    losses = [o for o in outcomes if not o.won]
    # Only a booking that was cancelled may refuse an action; the cancel itself never loses.
    wrong = describe([o for o in losses if o.ref not in cancelled or o.action == "cancel"])
    assert not wrong, "refused although nothing could refuse it:\n" + "\n".join(wrong)
    seen = read_bookings(database_url)
    for b in bookings:
        got = seen[b.ref]
        events = got.events
        assert events[0] == "booking.created", b.ref
        # An action that lost changed nothing; each one that won is one event.
        assert Counter(events[1:]) == Counter(
            {
                "booking.delayed": wins[b.ref, "delay"],
                "booking.rescheduled": wins[b.ref, "reschedule"],
                "booking.cancelled": wins[b.ref, "cancel"],
            }
        ), b.ref
        # Replay the history: a reschedule sets the agreed time, each later delay adds 10 minutes.
        start, promised = b.start, b.start
        for event in events[1:]:
            if event == "booking.rescheduled":
                start = promised = RESCHEDULED
            elif event == "booking.delayed":
                start += DELAY
        assert local(got.start, got.end, got.promised_start) == local(
            start, start + DURATION[b.playbook], promised
        ), (b.ref, events)
        if b.ref in cancelled:
            assert got.status == "cancelled", (b.ref, events)
            assert events[-1] == "booking.cancelled", (
                f"{b.ref}: an action was applied after the cancel: {events}"
            )
            # Nothing of the old plan is still to go: only the cancellation notice waits.
            pending = [m for m in got.messages if m[1] in PENDING]
            assert pending == [("cancelled", "planned", None)], (b.ref, got.messages)
        else:
            assert got.status == "booked", b.ref
            assert wins[b.ref, "delay"] == 3 and wins[b.ref, "reschedule"] == 1, b.ref
            assert "booking.cancelled" not in events, b.ref


def check_sent_after_race(project: Project, database_url: str, bookings: Sequence[Planned]) -> None:
    """After `dispatch --once`, a cancelled booking's customer got the cancellation and nothing else.

    Nothing was dispatched during the race, so a delay notice or move notice
    planned before the cancel was still pending at the cancel and must have been
    cancelled with it; one planned after the cancel must not exist. Either way
    no delay notice reaches a customer whose booking is cancelled, before or
    after the cancellation notice.
    """
    project.run("dispatch", "--once")
    sent: dict[str, list[str]] = {}
    for sms in project.sms_files():
        sent.setdefault(sms["booking"], []).append(sms["step"])
    assert project.eml_files() == []  # the customers have a phone number only
    seen = read_bookings(database_url)
    for b in bookings:
        got = seen[b.ref]
        if b.ref in cancelled_refs(bookings):
            assert sent.get(b.ref) == ["cancelled"], (b.ref, sent.get(b.ref), got.messages)
            assert [m for m in got.messages if m[1] in PENDING] == [], b.ref
            assert [m for m in got.messages if m[1] == "sent"] == [("cancelled", "sent", None)], b.ref
        else:
            assert "cancelled" not in sent.get(b.ref, []), b.ref


def race_summary(label: str, outcomes: Sequence[Outcome]) -> None:
    counts = Counter(
        (o.action, "won" if o.won else "lost" if o.lost_cleanly else f"exit {o.exit}") for o in outcomes
    )
    print(f"\n{label}: {dict(sorted(counts.items()))}")


@pytest.mark.pg
def test_cancel_delay_reschedule_race_through_the_cli_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """Four `forvent` processes: every cancel wins, every other action wins or loses cleanly."""
    bookings = plan_bookings(12)
    project = deploy(pg_url, tmp_path / "deploy", bookings)
    scripts = [[cli_command(action, ref) for action, ref in script] for script in mixed_scripts(bookings)]
    outcomes = [o for run in drive(project, scripts, barrier=True) for o in run]
    race_summary("CLI, PostgreSQL", outcomes)
    check_mixed_race(pg_url, bookings, outcomes)
    check_sent_after_race(project, pg_url, bookings)


@pytest.mark.pg
def test_cancel_delay_reschedule_race_through_the_api_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """The same race as four API clients of one `forvent serve`: no 500, a lost action is a 409."""
    bookings = plan_bookings(12)
    project = deploy(pg_url, tmp_path / "deploy", bookings)
    with serve(project) as server:
        outcomes = [o for run in race_api(server, mixed_scripts(bookings)) for o in run]
    race_summary("API, PostgreSQL", outcomes)
    check_mixed_race(pg_url, bookings, outcomes)
    check_sent_after_race(project, pg_url, bookings)
    assert not (logged := server.errors()), "\n".join(logged)


# --- two cancels at once --------------------------------------------------------------


@pytest.mark.pg
def test_two_cancels_at_once_through_the_api_one_wins_one_gets_409(pg_url: str, tmp_path: Path) -> None:
    """Two clients cancel each of 8 bookings at the same moment: one 200 and one 409, one notice."""
    bookings = plan_bookings(8)
    project = deploy(pg_url, tmp_path / "deploy", bookings)
    script = [("cancel", b.ref) for b in bookings]
    with serve(project) as server:
        runs = race_api(server, [script, script], in_step=True)
    seen = read_bookings(pg_url)
    for b, answers in zip(bookings, zip(*runs, strict=True), strict=True):
        assert not (problems := refused(answers)), "\n".join(problems)
        assert sorted(o.won for o in answers) == [False, True], describe(answers)
        got = seen[b.ref]
        assert got.status == "cancelled", b.ref
        assert got.events == ["booking.created", "booking.cancelled"], b.ref
        notices = [m for m in got.messages if m[0] == "cancelled"]
        assert notices == [("cancelled", "planned", None)], (b.ref, got.messages)
    assert not (logged := server.errors()), "\n".join(logged)


if __name__ == "__main__":
    main()
