"""``forvent erase-customer``: the person is gone, the counts stay."""

from __future__ import annotations

import sqlite3

from tests.conftest import Project
from tests.e2e.journeys import book

NOW = "2026-11-23T12:00:00+01:00"


def test_erase_by_phone_removes_contact_data_and_bodies_but_keeps_the_rows(project: Project) -> None:
    book(
        project,
        "P-1",
        playbook="plumber_visit",
        email="kari@example.com",
        start="2026-11-26T10:00",
        location="Kirkeveien 12",
        facts=["task=Tett avløp hos Kari"],
        now=NOW,
    )
    project.run("dispatch", "--once", now=NOW)
    before = project.json("messages", "P-1", now=NOW)
    assert any(m["body"] for m in before)

    result = project.json("erase-customer", "--phone", "+47 912 34 567", now=NOW)
    assert (result["customers"], result["bookings"]) == (1, 1)

    after = project.json("messages", "P-1", now=NOW)
    assert [(m["id"], m["status"]) for m in after if m["status"] != "cancelled"] == [
        (m["id"], m["status"]) for m in before if m["status"] not in ("planned",)
    ]
    assert all(m["to"] is None and m["body"] is None for m in after)
    assert {m["reason"] for m in after if m["status"] == "cancelled"} == {"erased"}
    booking = project.json("history", "P-1", now=NOW)
    text = repr(booking)
    assert "Kari" not in text and "912" not in text and "Kirkeveien" not in text
    assert any(h["detail"] == "customer data erased" for h in booking)


def test_erasing_nobody_is_not_an_error(project: Project) -> None:
    result = project.json("erase-customer", "--email", "nobody@example.com", now=NOW)
    assert result["customers"] == 0


def _leftovers(project: Project, needles: list[bytes]) -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = {}
    files = [project.root / f"forvent.db{suffix}" for suffix in ("", "-wal")]
    files += sorted(p for p in project.outbox.rglob("*") if p.is_file())
    for path in files:
        data = path.read_bytes() if path.exists() else b""
        hits = [needle for needle in needles if needle in data]
        if hits:
            found[path.name] = hits
    return found


def test_after_erasure_the_person_is_in_no_file_database_wal_or_outbox(project: Project) -> None:
    kari = {"name": "Kari Nordmann", "phone": "912 34 567", "email": "kari.nordmann@example.com"}
    ola = {"name": "Ola Hansen", "phone": "934 56 789", "email": "ola.hansen@example.com"}
    tuesday = "2026-11-26T10:00"
    visit = "plumber_visit"
    book(project, "P-1", playbook=visit, start=tuesday, location="Kirkeveien 12", facts=["task=x"], **kari)
    book(project, "P-2", playbook=visit, start="2026-11-27T10:00", facts=["task=y"], **kari)
    book(project, "P-3", playbook=visit, start=tuesday, facts=["task=z"], **ola)
    project.run("dispatch", "--once", now=NOW)
    project.run("delay", "P-1", "--minutes", "30", now=NOW)
    project.run("dispatch", "--once", now=NOW)
    kari_bytes = [b"Kari", b"Nordmann", b"91234567", b"kari.nordmann@example.com", b"Kirkeveien"]
    assert _leftovers(project, kari_bytes)  # the search finds the person before the erasure
    # A server on the same file keeps a connection open, so the WAL is not folded back on exit.
    server = sqlite3.connect(project.root / "forvent.db", isolation_level=None)
    try:
        server.execute("SELECT count(*) FROM messages").fetchone()
        project.run("erase-customer", "--phone", "+4791234567", now=NOW)
        assert _leftovers(project, kari_bytes) == {}
    finally:
        server.close()
    # Ola's messages and files are untouched.
    assert any(b"Ola" in p.read_bytes() for p in project.outbox.iterdir())
    assert all(m["body"] for m in project.json("messages", "P-3", now=NOW) if m["status"] == "sent")
