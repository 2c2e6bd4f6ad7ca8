"""Hostile templates through the real CLI: lint, preview and dispatch stop them with file:line.

A template that loops without end, recurses or builds a huge value must not
hang the command (nor the dispatcher's pass, holding the database's write
lock): rendering stops within its budget (engine/messages/limits.py) and
the message fails as a ``template_error``. Every command here runs with a
subprocess timeout as a safety net only; no test measures time.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import FORVENT, Project

NOW = "2026-11-23T12:00:00+01:00"
RUNAWAY = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
LOOPS = "loops ran more than 1000000 times in one message"
RECURSION = "recursion too deep: a macro that calls itself without end"
# The safety net: the limits stop a hostile render in seconds at most.
SAFETY_NET_SECONDS = 90


def forvent(project: Project, *args: str, now: str | None = NOW) -> subprocess.CompletedProcess[str]:
    env = dict(project.env)
    if now is not None:
        env["FORVENT_NOW"] = now
    return subprocess.run(
        [*FORVENT, *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=SAFETY_NET_SECONDS,
    )


def hostile(project: Project, template: str, source: str) -> str:
    """Write ``source`` to ``templates/<template>``; its path as the CLI names it."""
    path = project.root / "templates" / template
    path.write_text(source, encoding="utf-8")
    return str(path.relative_to(project.root))


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("Hej {{ customer.first_name }}\n" + RUNAWAY + "\n", 2, LOOPS),
        ("Hej\n{% macro again(n) %}{{ again(n + 1) }}{% endmacro %}\n{{ again(0) }}\n", 2, RECURSION),
        ("Hej\n\n{% include 'plumber_visit/da/on_my_way.sms.j2' %}\n", 3, RECURSION),
    ],
    ids=["runaway-loop", "recursive-macro", "self-include"],
)
def test_lint_stops_a_hostile_template_with_one_file_line_error(
    project: Project, source: str, line: int, message: str
) -> None:
    template = hostile(project, "plumber_visit/da/on_my_way.sms.j2", source)
    result = forvent(project, "lint")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [text for text in result.stderr.splitlines() if template in text]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("playbooks/plumber_visit.yaml:")
    assert f": step on_my_way (da): sample render failed: {template}:{line}: {message}" in errors[0]


def test_preview_shows_the_hostile_message_failed_and_the_rest_planned(project: Project) -> None:
    template = hostile(project, "car_service/nb/reminder_2h.sms.j2", "Hei\n" + RUNAWAY + "\n")
    args = ["--json", "preview", "car_service", "--start", "2026-11-26T10:00", "--end", "2026-11-26T14:00"]
    args += ["--locale", "nb", "--created", "2026-11-23T12:00", "--fact", "vehicle=Toyota Corolla"]
    result = forvent(project, *args, now=None)
    assert result.returncode == 0, result.stderr  # a template error fails its row, not the preview
    rows = json.loads(result.stdout)
    failed = [row for row in rows if row["status"] == "failed"]
    assert [(row["step"], row["channel"], row["reason"]) for row in failed] == [
        ("reminder_2h", "sms", f"{template}:2: {LOOPS}")
    ]
    planned = {(row["step"], row["channel"]) for row in rows if row["status"] == "planned"}
    assert {("confirmation", "sms"), ("confirmation", "email"), ("reminder_day_before", "sms")} <= planned


def test_dispatch_fails_the_hostile_message_and_sends_the_rest_of_the_batch(project: Project) -> None:
    path = project.root / "templates" / "plumber_visit" / "nb" / "confirmation.sms.j2"
    lines = path.read_text().rstrip("\n").split("\n")
    bomb = ['{% if booking.facts.task == "boom" %}', RUNAWAY, "{% endif %}"]  # the loop on line n + 2
    template = hostile(project, "plumber_visit/nb/confirmation.sms.j2", "\n".join([*lines, *bomb]) + "\n")
    for ref, task in (("H-1", "Tett avløp"), ("H-2", "boom"), ("H-3", "Lekk kran")):
        book = ["book", "--playbook", "plumber_visit", "--ref", ref, "--name", "Kari Nordmann"]
        book += ["--phone", "91234567", "--email", f"{ref.lower()}@example.com"]
        book += ["--start", "2026-11-24T10:00", "--fact", f"task={task}"]
        assert forvent(project, *book).returncode == 0
    result = forvent(project, "dispatch", "--once")
    assert result.returncode == 0, result.stderr  # a failed message is recorded, not an exit status
    messages = project.json("messages", now=NOW)
    confirmations = {(m["booking"], m["channel"]): m for m in messages if m["step"] == "confirmation"}
    failed = confirmations.pop(("H-2", "sms"))
    assert (failed["status"], failed["reason"]) == ("failed", "template_error")
    assert {m["status"] for m in confirmations.values()} == {"sent"}  # H-2's email, the other bookings
    assert len(confirmations) == 5
    [entry] = [h for h in project.json("history", "H-2", now=NOW) if h["kind"] == "message:failed"]
    assert f"{template}:{len(lines) + 2}: {LOOPS}" in entry["detail"]
