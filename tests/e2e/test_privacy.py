"""``forvent erase-customer``: the person is gone, the counts stay."""

from __future__ import annotations

from tests.conftest import Project

NOW = "2026-11-23T12:00:00+01:00"


def test_erase_by_phone_removes_contact_data_and_bodies_but_keeps_the_rows(project: Project) -> None:
    project.run(
        "book",
        "--playbook",
        "plumber_visit",
        "--ref",
        "P-1",
        "--name",
        "Kari Nordmann",
        "--phone",
        "912 34 567",
        "--email",
        "kari@example.com",
        "--start",
        "2026-11-26T10:00",
        "--location",
        "Kirkeveien 12",
        "--fact",
        "task=Tett avløp hos Kari",
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
