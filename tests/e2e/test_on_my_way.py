"""``forvent on-my-way``: the plumber's "on my way" SMS goes when they set off, with their ETA.

Monday 23 November 2026: Kari's plumber visit is booked for Tuesday 10:00-10:30. No
"on my way" is planned by the clock; Tuesday at 09:20 the plumber sets off.
"""

from __future__ import annotations

from tests.conftest import Project
from tests.e2e.journeys import MONDAY_NOON, book_plumber

SETTING_OFF = "2026-11-24T09:20:00+01:00"


def on_my_way_sms(project: Project) -> list[str]:
    return [s["body"] for s in project.sms_files() if s["step"] == "on_my_way"]


def test_nothing_goes_before_the_event_then_the_sms_names_the_eta_in_local_time(project: Project) -> None:
    book_plumber(project)
    project.run("dispatch", "--once", now=MONDAY_NOON)
    project.run("dispatch", "--once", now="2026-11-24T09:15:00+01:00")  # when the timer used to fire
    assert on_my_way_sms(project) == []
    assert all(m["step"] != "on_my_way" for m in project.json("messages", "P-100", now=SETTING_OFF))

    done = project.run("on-my-way", "P-100", "--eta", "2026-11-24T08:50:00Z", now=SETTING_OFF)
    assert done.stdout.strip() == "on my way to P-100: arriving 2026-11-24T09:50:00+01:00"
    project.run("dispatch", "--once", now=SETTING_OFF)
    assert on_my_way_sms(project) == [
        "Hei Kari! Rørleggeren er på vei og er hos deg ca. kl. 09:50.\nHilsen Fjordbyen Bil & Rør AS"
    ]

    # Held up on the way: a new ETA is a new event, and the customer hears it again.
    project.run("on-my-way", "P-100", "--eta", "2026-11-24T10:05", now="2026-11-24T09:40:00+01:00")
    project.run("dispatch", "--once", now="2026-11-24T09:40:00+01:00")
    assert on_my_way_sms(project)[1].startswith(
        "Hei Kari! Rørleggeren er på vei og er hos deg ca. kl. 10:05."
    )
    history = [
        h for h in project.json("history", "P-100", now=SETTING_OFF) if h["kind"] == "event:staff.on_my_way"
    ]
    assert [h["detail"] for h in history] == [
        "eta=2026-11-24T09:50:00+01:00",
        "eta=2026-11-24T10:05:00+01:00",
    ]


def test_a_bad_eta_or_a_started_job_is_one_line_naming_it(project: Project) -> None:
    book_plumber(project)
    cases = [
        (("--eta", "2026-11-24T09:00"), "eta: 2026-11-24T09:00:00+01:00 is not after now"),
        (("--eta", "2026-11-24T23:00"), "eta: 2026-11-24T23:00:00+01:00 is more than 12 h from now"),
        (("--eta", "soon"), "eta"),
    ]
    for args, message in cases:
        result = project.run("on-my-way", "P-100", *args, now=SETTING_OFF, check=False)
        assert result.returncode == 1, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: ") and message in line, line
    late = project.run("on-my-way", "P-100", now="2026-11-24T10:10:00+01:00", check=False)
    assert "eta: the expected start 2026-11-24T10:00:00+01:00 is not after now" in late.stderr
    project.run("start", "P-100", now="2026-11-24T10:10:00+01:00")
    started = project.run(
        "on-my-way", "P-100", "--eta", "2026-11-24T10:30", now="2026-11-24T10:10:00+01:00", check=False
    )
    assert started.returncode == 1
    assert "cannot send on-my-way for booking P-100: it is started" in started.stderr
    assert all(m["step"] != "on_my_way" for m in project.json("messages", "P-100", now=SETTING_OFF))
