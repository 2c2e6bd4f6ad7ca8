"""Bookings made as a user makes them, through the real CLI: one definition for the e2e tests.

Monday 23 November 2026 at noon in Oslo, Kari books her car (``promise: ready``)
and Ola a plumber visit (``promise: arrival``) for Tuesday.
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.conftest import Project

MONDAY_NOON = "2026-11-23T12:00:00+01:00"
DROP_OFF = "2026-11-24T08:05:00+01:00"


def book(
    project: Project,
    ref: str,
    *,
    playbook: str,
    start: str,
    facts: Sequence[str],
    name: str = "Kari Nordmann",
    phone: str = "912 34 567",
    email: str | None = None,
    end: str | None = None,
    locale: str | None = None,
    location: str | None = None,
    now: str = MONDAY_NOON,
) -> None:
    """``forvent book``; an option left as None is not given at all, so the engine's default applies."""
    args = ["book", "--playbook", playbook, "--ref", ref, "--name", name, "--phone", phone]
    optional = {"--email": email, "--start": start, "--end": end, "--locale": locale, "--location": location}
    for option, value in optional.items():
        if value is not None:
            args += [option, value]
    for fact in facts:
        args += ["--fact", fact]
    project.run(*args, now=now)


def book_plumber(project: Project, ref: str = "P-100") -> None:
    """Kari's plumber visit on Tuesday 10:00-10:30, in Norwegian."""
    book(
        project,
        ref,
        playbook="plumber_visit",
        email="kari@example.com",
        start="2026-11-24T10:00",
        end="2026-11-24T10:30",
        locale="nb",
        facts=["task=Tett avløp på badet"],
    )


def book_car(project: Project, *, ref: str = "C-1", locale: str = "nb") -> None:
    """Kari's Toyota, in the workshop on Tuesday from 08:00, promised ready at 14:00."""
    book(
        project,
        ref,
        playbook="car_service",
        email="kari@example.com",
        start="2026-11-24T08:00",
        end="2026-11-24T14:00",
        locale=locale,
        facts=["vehicle=Toyota Corolla"],
    )


def started_car(project: Project, *, ref: str = "C-1", locale: str = "nb") -> None:
    book_car(project, ref=ref, locale=locale)
    project.run("dispatch", "--once", now=MONDAY_NOON)  # the confirmation, with the invite
    project.run("start", ref, now=DROP_OFF)


def book_arrival(project: Project, ref: str = "P-1") -> None:
    """Ola's plumber visit on Tuesday 10:00-10:30: the promise is the arrival, not a ready time."""
    book(
        project,
        ref,
        playbook="plumber_visit",
        name="Ola Nordmann",
        phone="913 34 567",
        start="2026-11-24T10:00",
        end="2026-11-24T10:30",
        facts=["task=Tett avløp"],
    )
