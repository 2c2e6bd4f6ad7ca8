"""``forvent delay-ready``: a car in the workshop will be ready later than promised.

Driven through the real CLI on a throwaway deployment: the notice the customer
reads (nb, da, en, local times, the reason), the updated invite by email (same
UID, next SEQUENCE, DTEND moved), a pending step anchored on ``end`` moved in
place, the small change that stays silent, and the refusals (exit 1, one line).
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from tests.conftest import Project
from tests.e2e.journeys import DROP_OFF, book_arrival, started_car

MIDDAY = "2026-11-24T11:00:00+01:00"
# A step anchored on the ready time, so a moved ready time has a pending row to carry along.
COLLECT_STEP = """
  - id: collect_reminder
    at: end + 30m
    channels: [sms]
    template: reminder_2h
"""


def notices(project: Project, step: str = "ready_delay_notice") -> list[dict[str, Any]]:
    return [s for s in project.sms_files() if s["step"] == step]


def invite_of(path: Path) -> Any:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return message, next(iter(Calendar.from_ical(part.get_content()).walk("VEVENT")))


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "nb",
            "Hei Kari! Beklager, bilen din (Toyota Corolla) blir ikke klar til avtalt tid. "
            "Vi regner nå med at den er klar i dag kl. 15:30.\nÅrsak: Venter på en del",
        ),
        (
            "da",
            "Hej Kari! Beklager, din bil (Toyota Corolla) bliver ikke færdig til den aftalte tid. "
            "Vi regner nu med, at den er klar i dag kl. 15:30.\nÅrsag: Venter på en del",
        ),
        (
            "en",
            "Hi Kari! Sorry, your car (Toyota Corolla) will not be ready by the agreed time. "
            "We now expect it to be ready today at 15:30.\nReason: Venter på en del",
        ),
    ],
)
def test_the_customer_is_told_the_new_ready_time_in_their_language(
    project: Project, locale: str, words: str
) -> None:
    started_car(project, locale=locale)
    done = project.json("delay-ready", "C-1", "--minutes", "90", "--reason", "Venter på en del", now=MIDDAY)
    assert done["status"] == "started"
    assert done["end"] == "2026-11-24T15:30:00+01:00"
    assert done["promised_end"] == "2026-11-24T14:00:00+01:00"  # the promise never moves
    project.run("dispatch", "--once", now=MIDDAY)

    [sms] = notices(project)
    assert sms["body"].startswith(words)
    assert sms["encoding"] == "GSM-7"
    rows = project.json("messages", "C-1", now=MIDDAY)
    [notice] = [m for m in rows if m["step"] == "ready_delay_notice"]
    assert (notice["status"], notice["sent_at"]) == ("sent", MIDDAY)  # before the promised 14:00


def test_the_invite_follows_with_the_same_uid_a_higher_sequence_and_the_new_end(project: Project) -> None:
    started_car(project)
    [confirmation] = project.eml_files()
    _, first = invite_of(confirmation)

    project.run("delay-ready", "C-1", "--until", "2026-11-24T16:15", now=MIDDAY)
    project.run("dispatch", "--once", now=MIDDAY)

    [update] = [p for p in project.eml_files() if p != confirmation]
    message, moved = invite_of(update)
    assert message["X-Forvent-Step"] == "invite_update"  # the notice itself went by SMS
    assert str(moved["UID"]) == str(first["UID"])
    assert int(moved["SEQUENCE"]) > int(first["SEQUENCE"])
    assert moved.decoded("DTSTART") == first.decoded("DTSTART")
    assert moved.decoded("DTEND").isoformat() == "2026-11-24T16:15:00+01:00"
    assert "16:15" in notices(project)[0]["body"]


def test_a_pending_step_anchored_on_the_ready_time_moves_in_place(project: Project) -> None:
    playbook = project.root / "playbooks" / "car_service.yaml"
    playbook.write_text(playbook.read_text(encoding="utf-8") + COLLECT_STEP, encoding="utf-8")
    started_car(project)
    [before] = [m for m in project.json("messages", "C-1", now=DROP_OFF) if m["step"] == "collect_reminder"]
    assert before["due_at"] == "2026-11-24T14:30:00+01:00"

    project.run("delay-ready", "C-1", "--minutes", "60", now=MIDDAY)

    [after] = [m for m in project.json("messages", "C-1", now=MIDDAY) if m["step"] == "collect_reminder"]
    assert (after["id"], after["status"], after["due_at"]) == (
        before["id"],
        "planned",
        "2026-11-24T15:30:00+01:00",
    )
    moves = [h for h in project.json("history", "C-1", now=MIDDAY) if "moved to" in (h["detail"] or "")]
    assert [h["detail"] for h in moves] == ["collect_reminder (sms): moved to 2026-11-24T15:30:00+01:00"]


def test_a_change_below_the_minimum_notice_moves_the_time_without_a_message(project: Project) -> None:
    started_car(project)
    project.run("delay-ready", "C-1", "--minutes", "5", now=MIDDAY)
    project.run("dispatch", "--once", now=MIDDAY)
    assert notices(project) == []
    history = project.json("history", "C-1", now=MIDDAY)
    assert "ready time updated without a message: below min_delay_notice" in [h["detail"] for h in history]

    # Another 5 minutes: the untold change (10 minutes from 14:00) now reaches the minimum.
    project.run("delay-ready", "C-1", "--minutes", "5", now="2026-11-24T11:30:00+01:00")
    project.run("dispatch", "--once", now="2026-11-24T11:30:00+01:00")
    [sms] = notices(project)
    assert "i dag kl. 14:10" in sms["body"]


def test_refusals_name_why_and_change_nothing(project: Project) -> None:
    started_car(project)
    book_arrival(project)

    arrival = project.run("delay-ready", "P-1", "--minutes", "30", now=MIDDAY, check=False)
    assert arrival.returncode == 1
    assert "plumber_visit promises arrival, not a ready time; use delay" in arrival.stderr
    assert "Traceback" not in arrival.stderr

    earlier = project.run("delay-ready", "C-1", "--until", "2026-11-24T13:00", now=MIDDAY, check=False)
    assert earlier.returncode == 1
    assert "is not later than the expected ready time 2026-11-24T14:00:00+01:00" in earlier.stderr

    neither = project.run("delay-ready", "C-1", now=MIDDAY, check=False)
    assert neither.returncode == 1 and "--minutes" in neither.stderr

    project.run("ready", "C-1", now="2026-11-24T13:30:00+01:00")
    project.run("complete", "C-1", now="2026-11-24T15:00:00+01:00")
    closed = project.run("delay-ready", "C-1", "--minutes", "30", now=MIDDAY, check=False)
    assert closed.returncode == 1
    assert "cannot delay the ready time of booking C-1: it is completed" in closed.stderr
    booking = project.json("messages", "C-1", now=MIDDAY)
    assert not any(m["step"] == "ready_delay_notice" for m in booking)
