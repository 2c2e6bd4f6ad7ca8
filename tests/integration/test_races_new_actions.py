"""The newer user actions race like the old ones: each wins whole or loses cleanly, none is lost.

``delay-ready``, ``on-my-way``, ``assign`` and marking an attention item
handled are each one transaction that locks the booking first, so on one
booking they run one after the other: ready delays add up exactly, an
on-my-way either comes before the start or is refused by it, two assignments
each see the other's, and of two people marking one item handled one wins
and the other learns who did (HTTP 409 / exit 1, one line), never a 500, a
traceback or a silent loss.

The races are real processes and connections, as in ``test_races.py``, whose
drivers, deployment and API server this file reuses. A racer that goes
through the ``forvent`` CLI reaches the service with nothing locked for it
(the API locks in front of every action), so the CLI races are the ones that
would catch a service that forgot its lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.store import attention
from engine.store.db import Database
from engine.store.tables import AttentionRow, BookingRow, HistoryRow
from tests.integration.test_races import (
    NOW,
    OSLO,
    Outcome,
    Planned,
    Post,
    Server,
    deploy,
    describe,
    drive,
    local,
    race_posts,
    refused,
    serve,
)

TEN = timedelta(minutes=10)  # every ready delay in this file is `--minutes 10`
Request = tuple[str, dict[str, Any]]  # an API path and its JSON body


def cars(count: int) -> list[Planned]:
    """Car services (``promise: ready``), Tuesday from 08:00, one an hour."""
    return [
        Planned(ref=f"R-{i:02d}", playbook="car_service", start=datetime(2026, 11, 24, 8 + i, 0, tzinfo=OSLO))
        for i in range(count)
    ]


def visits_today(count: int) -> list[Planned]:
    """Plumber visits later this Monday, so that staff can set off for them now."""
    return [
        Planned(ref=f"R-{i:02d}", playbook="plumber_visit", start=NOW + timedelta(hours=1 + i))
        for i in range(count)
    ]


@dataclass
class Line:
    kind: str
    detail: str | None
    data: dict[str, Any]
    actor: str | None


def history_of(database_url: str) -> dict[str, tuple[BookingRow, list[Line]]]:
    """Each booking (by ref) and its history lines in recording order."""
    db = Database(database_url)
    try:
        with db.session() as s:
            found = {}
            for row in s.scalars(select(BookingRow)):
                lines = s.scalars(
                    select(HistoryRow).where(HistoryRow.booking_id == row.id).order_by(HistoryRow.id)
                )
                found[row.ref] = (row, [Line(h.kind, h.detail, dict(h.data or {}), h.actor) for h in lines])
            return found
    finally:
        db.dispose()


def events(lines: Sequence[Line]) -> list[str]:
    return [line.kind.removeprefix("event:") for line in lines if line.kind.startswith("event:")]


def lost_unless(outcomes: Sequence[Outcome], action: str, because: str) -> list[str]:
    """The losses of ``action`` that do not say ``because``, and every loss of another action."""
    return describe([o for o in outcomes if not o.won and (o.action != action or because not in o.stderr)])


# --- delay-ready against complete -------------------------------------------------------


def test_ready_delays_racing_a_completion_add_up_exactly_through_the_cli(
    database_url: str, tmp_path: Path
) -> None:
    """Three `forvent delay-ready REF --minutes 10` processes and one `forvent complete REF`.

    The completion always wins; a ready delay loses only to it (exit 1, one line);
    the expected ready time moved by exactly 10 minutes per delay that won, all
    of them recorded before the completion.
    """
    bookings = cars(6)
    project = deploy(database_url, tmp_path / "deploy", bookings)
    delays = [["delay-ready", b.ref, "--minutes", "10"] for b in bookings]
    completes = [["complete", b.ref] for b in bookings]
    outcomes = [o for run in drive(project, [delays, delays, delays, completes], barrier=True) for o in run]
    assert not (problems := refused(outcomes)), "\n".join(problems)
    assert not (wrong := lost_unless(outcomes, "delay-ready", "it is completed")), "\n".join(wrong)
    wins = Counter((o.ref, o.action) for o in outcomes if o.won)
    seen = history_of(database_url)
    for b in bookings:
        row, lines = seen[b.ref]
        won = wins[b.ref, "delay-ready"]
        assert events(lines) == ["booking.created"] + ["job.ready_delayed"] * won + ["job.completed"], b.ref
        promised_end = b.start + timedelta(hours=3)
        assert local(row.promised_end, row.end_at) == local(promised_end, promised_end + won * TEN), b.ref
        delayed = [line.data["minutes"] for line in lines if line.kind == "event:job.ready_delayed"]
        assert delayed == [10] * won, b.ref
        assert row.status == "completed", b.ref


def race_requests(server: Server, scripts: Sequence[tuple[str, list[Request]]]) -> list[list[Outcome]]:
    """One thread per (token, [(path, body)...]), each on its own connection, meeting before each request."""
    posts = [
        (token, [Post(path, body, path, token) for path, body in requests]) for token, requests in scripts
    ]
    return race_posts(server, posts, in_step=True)


def test_ready_delays_racing_a_completion_through_the_api_are_200_or_409(
    database_url: str, tmp_path: Path
) -> None:
    """The same race as three API clients delaying and one completing each booking at the same moment."""
    bookings = cars(6)
    project = deploy(database_url, tmp_path / "deploy", bookings)
    with serve(project) as server:
        delays: list[Request] = [(f"/api/v1/bookings/{b.ref}/delay-ready", {"minutes": 10}) for b in bookings]
        completes: list[Request] = [(f"/api/v1/bookings/{b.ref}/complete", {}) for b in bookings]
        runs = race_requests(server, [(server.token, delays)] * 3 + [(server.token, completes)])
        assert not (logged := server.errors()), "\n".join(logged)
    seen = history_of(database_url)
    for b, answers in zip(bookings, zip(*runs, strict=True), strict=True):
        assert not (problems := refused(answers)), "\n".join(problems)
        *delayed, completed = answers
        assert completed.won, describe([completed])
        assert all(o.won or "it is completed" in o.stderr for o in delayed), describe(delayed)
        won = sum(o.won for o in delayed)
        row, lines = seen[b.ref]
        assert events(lines) == ["booking.created"] + ["job.ready_delayed"] * won + ["job.completed"], b.ref
        assert row.end_at == b.start + timedelta(hours=3) + won * TEN, b.ref
        assert {line.actor for line in lines if line.kind.startswith("event:job.")} == {"token:races"}, b.ref


# --- ready with a price, twice at once -----------------------------------------------------


@dataclass(frozen=True)
class EstimatedCar(Planned):
    """A car service whose customer agreed to an estimate of 3,000."""

    @property
    def book(self) -> list[str]:
        return [*super().book, "--fact", "estimate=3000"]


def test_two_ready_prices_at_once_one_is_recorded_and_a_held_price_never_is(
    database_url: str, tmp_path: Path
) -> None:
    """`ready REF --price 3500 --confirm-price`, `ready REF --price 2900` and `ready REF --price 3500`
    (above the estimate, unconfirmed) at once: one of the first two wins, its price is the one
    kept, the other loses to it; the held price never wins (exit 1, one line)."""
    bookings = [EstimatedCar(b.ref, b.playbook, b.start) for b in cars(6)]
    project = deploy(database_url, tmp_path / "deploy", bookings)
    confirmed = [["ready", b.ref, "--price", "3500", "--confirm-price"] for b in bookings]
    under = [["ready", b.ref, "--price", "2900"] for b in bookings]
    held = [["ready", b.ref, "--price", "3500"] for b in bookings]
    runs = drive(project, [confirmed, under, held], barrier=True)
    seen = history_of(database_url)
    for b, answers in zip(bookings, zip(*runs, strict=True), strict=True):
        assert not (problems := refused(answers)), "\n".join(problems)
        first, second, over = answers
        assert not over.won and ("is more than the estimate" in over.stderr or "it is ready" in over.stderr)
        assert [first.won, second.won].count(True) == 1, describe(answers)
        loser = second if first.won else first
        assert loser.stderr == f"error: cannot ready booking {b.ref}: it is ready\n", describe([loser])
        row, lines = seen[b.ref]
        assert events(lines) == ["booking.created", "job.ready"], b.ref
        assert row.final_price == ("3500.00" if first.won else "2900.00"), b.ref


# --- on-my-way against start --------------------------------------------------------------


def test_on_my_way_racing_the_start_comes_before_it_or_is_refused(database_url: str, tmp_path: Path) -> None:
    """Three `forvent on-my-way REF` processes and one `forvent start REF` on each visit of today, at once."""
    bookings = visits_today(8)
    project = deploy(database_url, tmp_path / "deploy", bookings)
    going = [["on-my-way", b.ref] for b in bookings]
    starts = [["start", b.ref] for b in bookings]
    outcomes = [o for run in drive(project, [going, going, going, starts], barrier=True) for o in run]
    assert not (problems := refused(outcomes)), "\n".join(problems)
    assert not (wrong := lost_unless(outcomes, "on-my-way", "it is started")), "\n".join(wrong)
    wins = Counter((o.ref, o.action) for o in outcomes if o.won)
    seen = history_of(database_url)
    for b in bookings:
        row, lines = seen[b.ref]
        won = wins[b.ref, "on-my-way"]
        # Each report that won was recorded, and none after the job started.
        assert events(lines) == ["booking.created"] + ["staff.on_my_way"] * won + ["job.started"], b.ref
        assert row.status == "started", b.ref
        if won:
            assert local(datetime.fromisoformat(row.anchors["eta"])) == local(b.start), b.ref


# --- assign against assign and cancel ----------------------------------------------------


def test_three_assignments_and_a_cancel_at_once_each_see_the_others(
    database_url: str, tmp_path: Path
) -> None:
    """`forvent assign REF Anna`, `... Bo`, `... Cleo` and `forvent cancel REF` on each booking at once:
    all win, and each assignment line names the assignee the one before it left (none overwritten
    unseen); the last one is the booking's."""
    bookings = cars(6)
    project = deploy(database_url, tmp_path / "deploy", bookings)
    names = ["Anna", "Bo", "Cleo"]
    scripts = [[["assign", b.ref, name] for b in bookings] for name in names]
    scripts.append([["cancel", b.ref] for b in bookings])
    outcomes = [o for run in drive(project, scripts, barrier=True) for o in run]
    assert not (lost := describe([o for o in outcomes if not o.won])), "\n".join(lost)
    seen = history_of(database_url)
    for b in bookings:
        row, lines = seen[b.ref]
        handed = [line for line in lines if line.kind == "staff" and "assignee" in line.data]
        assert sorted(line.data["assignee"] for line in handed) == names, b.ref
        was = [None] + [line.data["assignee"] for line in handed[:-1]]
        assert [line.data["was"] for line in handed] == was, b.ref
        assert [line.detail for line in handed] == [f"assigned to {line.data['assignee']}" for line in handed]
        assert row.assignee == handed[-1].data["assignee"], b.ref
        assert all(line.actor and line.actor.startswith("cli:") for line in handed), b.ref
        assert (row.status, events(lines)) == ("cancelled", ["booking.created", "booking.cancelled"]), b.ref


# --- attention items marked handled by two people at once ---------------------------------


def open_items(database_url: str, refs: Sequence[str]) -> list[int]:
    """An open detractor item on each booking (as a low score leaves one), by id."""
    db = Database(database_url)
    try:
        with db.session() as s:
            rows = s.scalars(select(BookingRow).where(BookingRow.ref.in_(refs)).order_by(BookingRow.ref))
            return [attention.add(s, r, kind=attention.DETRACTOR, detail="2/10", now=NOW).id for r in rows]
    finally:
        db.dispose()


def test_two_people_marking_an_item_handled_at_once_one_wins_the_other_hears_who(
    database_url: str, tmp_path: Path
) -> None:
    """Anna, Bo and Anna again (a double tap) mark each item handled at the same moment through the
    API: the winner's answers are 200, the other's a 409 naming the winner, one history line."""
    bookings = cars(6)
    project = deploy(database_url, tmp_path / "deploy", bookings)
    items = open_items(database_url, [b.ref for b in bookings])
    tokens = {name: project.json("token", "create", name)["token"] for name in ("anna", "bo")}
    with serve(project) as server:
        script: list[Request] = [(f"/api/v1/attention/{item}/handled", {}) for item in items]
        runs = race_requests(
            server, [(tokens["anna"], script), (tokens["bo"], script), (tokens["anna"], script)]
        )
        assert not (logged := server.errors()), "\n".join(logged)
    names = {token: name for name, token in tokens.items()}
    seen = history_of(database_url)
    db = Database(database_url)
    try:
        with db.session() as s:
            handled_by = {r.id: r.handled_by for r in s.scalars(select(AttentionRow))}
    finally:
        db.dispose()
    for b, item, answers in zip(bookings, items, zip(*runs, strict=True), strict=True):
        assert not (problems := refused(answers)), "\n".join(problems)
        winners = {names[o.ref] for o in answers if o.won}
        assert len(winners) == 1, describe(answers)
        [winner] = winners
        assert handled_by[item] == f"token:{winner}", item
        for o in answers:
            if names[o.ref] == winner:
                assert o.won, describe([o])
            else:
                assert o.stderr == f"error: attention item {item} was already handled by token:{winner}", o
        _, lines = seen[b.ref]
        marks = [line for line in lines if line.detail == "attention handled: detractor"]
        assert [(m.actor, m.data["by"]) for m in marks] == [(f"token:{winner}",) * 2], b.ref
