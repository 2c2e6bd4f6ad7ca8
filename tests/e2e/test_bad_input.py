"""Bad input through the real CLI: one line naming the field or file:line, exit 1, nothing changed."""

from __future__ import annotations

import pytest

from tests.conftest import Project

NOW = "2026-11-23T12:00:00+01:00"
BOOK = [
    "book",
    "--playbook",
    "plumber_visit",
    "--ref",
    "P-1",
    "--name",
    "Kari Nordmann",
    "--phone",
    "91234567",
    "--start",
    "2026-11-24T10:00",
    "--fact",
    "task=Tett avløp",
]


def one_line_error(project: Project, *args: str) -> str:
    result = project.run(*args, now=NOW, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def with_option(option: str, value: str) -> list[str]:
    args = list(BOOK)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


@pytest.mark.parametrize(
    ("option", "value", "names"),
    [
        ("--tz", "Europe/Osl", "unknown time zone 'Europe/Osl'"),
        ("--phone", "12", "phone"),
        ("--phone", "22 00 00 00", "not a mobile number"),
        ("--email", "kari@", "email"),
        ("--end", "2026-11-24T09:00", "end: must be after start"),
        ("--start", "2026-11-20T10:00", "start: more than 1 h in the past"),
        ("--start", "tomorrow", "start: not an ISO 8601 time"),
        ("--start", "2026-03-29T02:30", "does not exist"),
        ("--playbook", "dentist", "unknown playbook 'dentist'"),
        ("--playbook", "../business", "playbook: '../business' is not a playbook id"),
        ("--locale", "sv", "locale: 'sv'"),
        ("--fact", "colour=red", "facts.colour"),
    ],
)
def test_bad_booking_input_names_the_field_and_stores_nothing(
    project: Project, option: str, value: str, names: str
) -> None:
    args = with_option(option, value)
    if option == "--start" and value == "2026-03-29T02:30":
        args += ["--tz", "Europe/Oslo"]
    assert names in one_line_error(project, *args)
    assert project.json("messages", now=NOW) == []


def test_an_unknown_ref_is_named(project: Project) -> None:
    assert "unknown booking ref 'NOPE'" in one_line_error(project, "delay", "NOPE", "--minutes", "10")


def test_a_bad_number_of_minutes_is_a_user_error_not_a_usage_error(project: Project) -> None:
    project.run(*BOOK, now=NOW)
    assert "--minutes" in one_line_error(project, "delay", "P-1", "--minutes", "ten")
    assert "minutes" in one_line_error(project, "delay", "P-1", "--minutes", "0")


def test_an_ambiguous_price_is_refused_and_a_grouped_one_is_read_right(project: Project) -> None:
    later = "2026-11-24T12:00:00+01:00"
    project.run(*BOOK, now=NOW)
    project.run("start", "P-1", now="2026-11-24T10:05:00+01:00")
    before = project.json("history", "P-1", now=later)
    result = project.run("ready", "P-1", "--price", "3.450", now=later, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert "price: '3.450' is ambiguous (3450 or 3.45?): write 3450" in line
    assert project.json("history", "P-1", now=later) == before
    assert project.json("ready", "P-1", "--price", "3.450,00", now=later)["final_price"] == "3450.00"
    assert project.json("complete", "P-1", "--price", "3 450,-", now=later)["final_price"] == "3450.00"


def test_a_refused_action_changes_nothing(project: Project) -> None:
    project.run(*BOOK, now=NOW)
    project.run("start", "P-1", now="2026-11-24T10:05:00+01:00")
    before = project.json("history", "P-1", now=NOW)
    assert "cannot delay booking P-1: it is started" in one_line_error(
        project, "delay", "P-1", "--minutes", "15"
    )
    assert project.json("history", "P-1", now=NOW) == before


@pytest.mark.parametrize("command", [["messages"], ["init-db"], ["dispatch", "--once"], BOOK])
def test_a_db_that_is_not_a_database_is_one_line_naming_db(project: Project, command: list[str]) -> None:
    notes = project.root / "notes.txt"
    notes.write_text("Ring Kari om bremsene\n" * 40)
    line = one_line_error(project, "--db", f"sqlite:///{notes}", *command)
    assert line == "error: --db: not a usable database: file is not a database"
    assert notes.read_text() == "Ring Kari om bremsene\n" * 40


def test_usage_errors_exit_2(project: Project) -> None:
    assert project.run("frobnicate", check=False).returncode == 2
    assert project.run("book", "--playbook", "plumber_visit", check=False).returncode == 2


def test_now_without_offset_is_refused(project: Project) -> None:
    result = project.run("--now", "2026-11-23T12:00", "messages", check=False)
    assert result.returncode == 1 and "offset" in result.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("title:", "colour: red\ntitle:", 1), "unknown key 'colour'"),
        (lambda t: t.replace("at: start - 1d", "at: start - 1x", 1), "bad duration '1x'"),
        (lambda t: t.replace("at: start - 1d", "at: opening - 1d", 1), "unknown anchor 'opening'"),
        (
            lambda t: t.replace("when: booking.delayed", "when: booking.late", 1),
            "unknown event 'booking.late'",
        ),
        (lambda t: t.replace("steps:", "steps: [\n", 1), "malformed YAML"),
        (lambda t: t + "steps: []\n", "duplicate key 'steps' (first on line"),
        (
            lambda t: t.replace("title:", "x-a: &a [1]\nx-b: [*a, *a]\ntitle:", 1),
            "anchors (&a) are not allowed",
        ),
    ],
)
def test_lint_rejects_playbook_problems_as_file_line(project: Project, edit: object, expected: str) -> None:
    path = project.root / "playbooks" / "plumber_visit.yaml"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    result = project.run("lint", check=False)
    assert result.returncode == 1
    line = next(line for line in result.stderr.splitlines() if expected in line)
    assert line.startswith("playbooks/plumber_visit.yaml:")
    assert line.split(":")[1].isdigit()


def test_lint_rejects_template_problems_with_the_template_line(project: Project) -> None:
    template = project.root / "templates" / "plumber_visit" / "da" / "on_my_way.sms.j2"
    template.write_text("Hej {{ customer.first_name }}\n{{ booking.facts.colour }}\n{% if %}\n")
    result = project.run("lint", check=False)
    assert result.returncode == 1
    assert f"{template.relative_to(project.root)}:3: " in result.stderr and "syntax error" in result.stderr
    template.write_text("Hej {{ customer.first_name }}\n{{ booking.facts.colour }} {{ shoe_size }}\n")
    result = project.run("lint", check=False)
    assert "on_my_way.sms.j2:2: booking.facts.colour is not declared" in result.stderr
    assert "on_my_way.sms.j2:2: unknown variable 'shoe_size'" in result.stderr
    template.write_text("{{ customer.__class__ }}\n")
    assert "unsafe template construct" in project.run("lint", check=False).stderr


def test_lint_names_a_missing_template(project: Project) -> None:
    (project.root / "templates" / "plumber_visit" / "en" / "review.sms.j2").unlink()
    result = project.run("lint", check=False)
    assert result.returncode == 1
    assert "missing template review.sms.j2 for locale en" in result.stderr


def test_lint_schema_prints_only_the_schema(project: Project) -> None:
    import json

    result = project.run("lint", "--schema")
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
