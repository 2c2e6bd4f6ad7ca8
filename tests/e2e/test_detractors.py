"""A detractor through the real CLI: ``forvent reply`` with a low score, ``forvent attention``,
``forvent attention handled``; a promoter's "10" gets the review link.

A plumber visit on Tuesday 24 November 2026, done at 11:00; the review request
goes at 13:00 and Kari answers at 13:30.
"""

from __future__ import annotations

from tests.conftest import Project
from tests.e2e.test_replies import book_and_dispatch, sms_of

DONE = "2026-11-24T11:00:00+01:00"
REVIEWED = "2026-11-24T13:00:00+01:00"
ANSWERED = "2026-11-24T13:30:00+01:00"
STAFF_PHONE = "+4791001122"  # business.yaml


def reviewed(project: Project) -> None:
    book_and_dispatch(project)
    project.run("start", "P-100", now="2026-11-24T10:05:00+01:00")
    project.run("complete", "P-100", now=DONE)
    project.run("dispatch", "--once", now=REVIEWED)
    [request] = sms_of(project, "review_request")
    assert "Svar med et tall fra 0 til 10." in request["body"] and "https://" not in request["body"]


def test_a_low_score_reaches_a_person_who_marks_it_handled(project: Project) -> None:
    reviewed(project)
    said = project.run("reply", "--from", "912 34 567", "--text", "3 dårlig service", now=ANSWERED).stdout
    assert said == "reply from +4791234567: score, booking P-100, score; recovery_call_back planned\n"
    project.run("dispatch", "--once", now=ANSWERED)
    [alert] = [s for s in project.sms_files() if s["to"] == STAFF_PHONE]
    assert alert["body"] == (
        "Forvent: Kari Nordmann (P-100) ga 3 av 10: «dårlig service». "
        "Kontakt kunden: +4791234567 / kari@example.com."
    )
    [offer] = sms_of(project, "recovery_call_back")
    assert offer["body"].startswith("Hei Kari, takk for at du sa ifra, og beklager")

    listed = project.run("attention", now=ANSWERED).stdout
    assert listed == (
        "#1 2026-11-24T13:30:00+01:00 Kari Nordmann (P-100) +4791234567 [detractor]: 3/10: dårlig service\n"
    )
    [item] = project.json("attention", "list", now=ANSWERED)
    assert (item["id"], item["ref"], item["handled_at"]) == (1, "P-100", None)

    later = "2026-11-24T14:00:00+01:00"
    done = project.run("attention", "handled", "1", "--by", "Ola", now=later).stdout
    assert done == "#1 handled by Ola at 2026-11-24T14:00:00+01:00 (booking P-100)\n"
    assert project.run("attention", "handled", "1", "--by", "Ola", now=later).returncode == 0  # idempotent
    lost = project.run("attention", "handled", "1", now=later, check=False)
    assert lost.returncode == 1 and "attention item 1 was already handled by Ola" in lost.stderr
    assert project.run("attention", now=later).stdout == "nothing needs attention\n"
    history = project.json("history", "P-100", now=later)
    assert any(h["detail"] == "attention handled: detractor" and h["actor"] == "Ola" for h in history)
    missing = project.run("attention", "handled", "9", now=later, check=False)
    assert missing.returncode == 1 and "no attention item 9" in missing.stderr


def test_a_ten_gets_the_review_link(project: Project) -> None:
    reviewed(project)
    said = project.run("reply", "--from", "+4791234567", "--text", "10", now=ANSWERED).stdout
    assert said.endswith("review_link planned\n")
    project.run("dispatch", "--once", now=ANSWERED)
    [thanks] = sms_of(project, "review_link")
    assert thanks["body"] == (
        "Tusen takk, Kari! Det betyr mye for oss. Vil du dele det med andre? En kort omtale hjelper oss mye: "
        "https://reviews.example.org/fjordbyen-bil-og-ror\nHilsen Fjordbyen Bil & Rør AS"
    )
    assert project.json("attention", now=ANSWERED) == []


def test_handled_from_the_command_line_names_the_user_who_ran_it(project: Project) -> None:
    import getpass

    reviewed(project)
    project.run("reply", "--from", "912 34 567", "--text", "2", now=ANSWERED)
    later = "2026-11-24T14:00:00+01:00"
    done = project.run("attention", "handled", "1", now=later).stdout
    assert done == f"#1 handled by cli:{getpass.getuser()} at {later} (booking P-100)\n"
