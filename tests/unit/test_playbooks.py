"""Playbook validation: every rejection names the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.core.playbooks import PlaybookSet, json_schema, load_playbook
from engine.exceptions import PlaybookError, UserInputError

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


def billion_laughs(levels: int = 9) -> str:
    """Under ``x-`` (allowed) so only the YAML, not the schema, can stop it: 10**levels strings."""
    lines = ['x-lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"x-lol{level}: &l{level} [{aliases}]")
    return GOOD + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(billion_laughs(2), ":11: anchors (&l0) are not allowed", id="small-alias-bomb"),
        pytest.param(billion_laughs(), ":11: anchors (&l0) are not allowed", id="billion-laughs"),
        pytest.param(GOOD + "x-self: &me [*me]\n", ":11: anchors (&me) are not allowed", id="self-alias"),
        pytest.param(GOOD + "x-a: *nowhere\n", ":11: aliases (*nowhere) are not allowed", id="bare-alias"),
        pytest.param(
            GOOD + "steps:\n  - id: late\n    when: job.ready\n    template: ready\n",
            ":11: duplicate key 'steps' (first on line 3)",
            id="duplicate-steps",
        ),
        pytest.param(
            GOOD.replace("template: reminder", "template: reminder\n    template: other"),
            ":11: duplicate key 'template' (first on line 10)",
            id="duplicate-step-key",
        ),
        pytest.param(GOOD + "x-deep: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than", id="deep"),
    ],
)
def test_aliases_anchors_duplicate_keys_and_deep_nesting_are_refused_by_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    [problem] = problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'visit.yaml'}:") and expected in problem, problem


def test_a_playbook_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "visit.yaml"
    path.write_bytes(GOOD.replace("Visit", "Bes\xf8k").encode("latin-1"))
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    assert info.value.problems == [f"{path}:1: cannot read: not UTF-8 text"]


@pytest.mark.parametrize(
    "playbook_id",
    ["../business", "../outside/visit", "{outside}/visit", "Visit", "visit.yaml", "visit\n", "", "v" * 101],
)
def test_only_a_plain_playbook_id_is_looked_up(tmp_path: Path, playbook_id: str) -> None:
    """The id becomes a file name: a path would read files outside the folder and say which exist."""
    folder, outside = tmp_path / "playbooks", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    write(folder, GOOD)
    write(outside, GOOD)
    (tmp_path / "business.yaml").write_text("name: Bil AS\n")
    playbook_id = playbook_id.replace("{outside}", str(outside))
    playbooks = PlaybookSet(folder)
    with pytest.raises(UserInputError) as info:
        playbooks.get(playbook_id)
    assert type(info.value) is UserInputError and info.value.field == "playbook"
    assert info.value.message.startswith("playbook: ") and "is not a playbook id" in info.value.message
    assert playbooks.get("visit").title_in("nb") == "Visit"


def test_files_whose_name_cannot_be_an_id_are_not_listed(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(tmp_path, GOOD, name="My Visit")
    assert PlaybookSet(tmp_path).ids() == ["visit"]
