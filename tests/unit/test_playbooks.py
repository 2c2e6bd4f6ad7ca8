"""Playbook validation: every rejection names the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.exceptions import PlaybookError
from engine.playbooks import json_schema, load_playbook

GOOD = """\
playbook: visit
title: Visit
steps:
  - id: confirmation
    when: booking.created
    template: confirmation
  - id: reminder
    at: start - 1d
    at_local_time: "17:00"
    template: reminder
"""


def write(tmp_path: Path, text: str, name: str = "visit") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, name: str = "visit") -> list[str]:
    with pytest.raises(PlaybookError) as info:
        load_playbook(write(tmp_path, text, name))
    return info.value.problems


def test_good_playbook_loads(tmp_path: Path) -> None:
    loaded = load_playbook(write(tmp_path, GOOD))
    assert [s.id for s in loaded.playbook.steps] == ["confirmation", "reminder"]
    assert loaded.playbook.all_locales == ["nb"]


def test_extension_keys_are_allowed(tmp_path: Path) -> None:
    load_playbook(write(tmp_path, "x-owner: ops\n" + GOOD))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("title: Visit", "title: Visit\ncolour: red"), ":3: unknown key 'colour'"),
        (GOOD.replace("at: start - 1d", "at: start - 1x"), ":8: steps.1.at: bad duration '1x'"),
        (
            GOOD.replace("at: start - 1d", "at: begin - 1d"),
            ":8: steps.1.at: unknown anchor 'begin'",
        ),
        (
            GOOD.replace("booking.created", "booking.made"),
            ":5: steps.0.when: unknown event 'booking.made'",
        ),
        (GOOD.replace('"17:00"', "17:00"), ":9: at_local_time: times of day must be quoted"),
        (GOOD.replace("id: reminder", "id: confirmation"), ":7: duplicate step id 'confirmation'"),
        (GOOD.replace("at: start - 1d", "at: completed - 1d"), "always too late"),
        (GOOD.replace("    when: booking.created\n", ""), "exactly one of 'when' and 'at'"),
        ("playbook: visit\ntitle: [unclosed\n", ":3: malformed YAML"),
    ],
)
def test_rejections_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path / "visit.yaml") + ":") for p in found)


def test_yes_no_choices_must_be_quoted(tmp_path: Path) -> None:
    text = GOOD + "options:\n  - {id: cleanup, choices: [yes, no]}\n"
    found = problems(tmp_path, text)
    assert any("quote it" in p and ":12: options.0.choices.0" in p for p in found), found


def test_file_name_must_match_id(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD, name="other")
    assert any("must match the file name 'other'" in p for p in found)


def test_unknown_zone_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, "timezone: Mars/Olympus\n" + GOOD)
    assert any(":1: timezone: unknown time zone 'Mars/Olympus'" in p for p in found), found


def test_schema_is_draft_2020_12_and_forbids_unknown_keys() -> None:
    schema = json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["additionalProperties"] is False
    json.dumps(schema)


@pytest.mark.parametrize("name", ["car_service", "plumber_visit"])
def test_seed_playbooks_load(name: str) -> None:
    root = Path(__file__).resolve().parents[2]
    assert load_playbook(root / "playbooks" / f"{name}.yaml").playbook.playbook == name
