"""``forvent preview``: the dry-run timeline, with no database of the user's."""

from __future__ import annotations

from tests.conftest import Project


def preview(project: Project, *args: str) -> list[dict[str, object]]:
    rows = project.json(
        "preview",
        "car_service",
        "--start",
        "2026-11-26T10:00",
        "--end",
        "2026-11-26T14:00",
        "--locale",
        "nb",
        "--created",
        "2026-11-23T12:00",
        *args,
    )
    assert isinstance(rows, list)
    return rows


def test_timeline_is_in_send_order_with_waiting_rows_last(project: Project) -> None:
    rows = preview(project, "--fact", "vehicle=Toyota Corolla")
    planned = [(r["send_at"], r["step"], r["channel"], r["status"]) for r in rows if r["status"] != "waiting"]
    assert planned[:3] == [
        ("2026-11-23T12:00:00+01:00", "confirmation", "email", "planned"),
        ("2026-11-23T12:00:00+01:00", "confirmation", "sms", "planned"),
        ("2026-11-25T17:00:00+01:00", "reminder_day_before", "sms", "planned"),
    ]
    assert ("2026-11-26T08:00:00+01:00", "reminder_2h", "sms", "planned") in planned
    waiting = [(r["step"], r["send_at"], r["reason"]) for r in rows if r["status"] == "waiting"]
    assert waiting[0] == ("review_request", None, "waiting for job.completed")
    assert rows[-1]["status"] == "waiting"


def test_each_row_is_rendered_in_the_customers_language_as_of_its_send_time(
    project: Project,
) -> None:
    rows = preview(project, "--fact", "vehicle=Toyota Corolla")
    reminder = next(r for r in rows if r["step"] == "reminder_day_before")
    assert "i morgen" in str(reminder["body"])  # sent Wednesday about Thursday
    assert reminder["encoding"] == "GSM-7" and reminder["segments"] in (1, 2)
    email = next(r for r in rows if r["step"] == "confirmation" and r["channel"] == "email")
    assert email["attachments"] == ["invite.ics"]
    assert "torsdag 26. november" in str(email["subject"]) + str(email["body"])


def test_events_apply_in_time_order_and_move_the_rows(project: Project) -> None:
    rows = preview(
        project,
        "--fact",
        "vehicle=Toyota Corolla",
        "--event",
        "job.completed@2026-11-26T15:00",
        "--event",
        "booking.delayed@2026-11-26T07:00,minutes=60,reason=deler kom sent",
    )
    notice = next(r for r in rows if r["step"] == "delay_notice")
    assert notice["send_at"] == "2026-11-26T07:00:00+01:00"
    assert "11:00" in str(notice["body"])
    review = next(r for r in rows if r["step"] == "review_request")
    assert (review["status"], review["send_at"]) == ("planned", "2026-11-26T17:00:00+01:00")


def test_preview_leaves_no_database_behind(project: Project) -> None:
    before = sorted(p.name for p in project.root.iterdir())
    preview(project, "--fact", "vehicle=Toyota Corolla")
    assert sorted(p.name for p in project.root.iterdir()) == before


def test_a_bad_event_is_one_line_exit_1(project: Project) -> None:
    result = project.run(
        "preview",
        "car_service",
        "--start",
        "2026-11-26T10:00",
        "--event",
        "job.exploded@2026-11-26T10:00",
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "--event" in result.stderr
