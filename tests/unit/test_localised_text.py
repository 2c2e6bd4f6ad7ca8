"""Playbook titles and option labels written once or per locale: which text each locale gets,
what a bad one says (file:line), and lint naming a listed locale without its own text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.core.business import load_business
from engine.core.localised import LocalisedText
from engine.core.playbooks import json_schema, load_playbook
from engine.exceptions import PlaybookError
from engine.messages.lint import Linter
from engine.web import i18n

REPO = Path(__file__).resolve().parents[2]

VISIT = """\
playbook: visit
title: {nb: Rørleggerbesøk, da: VVS-besøg, en: Plumber visit}
default_locale: da
locales: [nb, da, en]
options:
  - id: cleanup
    choices: ["yes", "no"]
    label:
      nb: Skal vi rydde etterpå?
      da: Skal vi rydde op bagefter?
      en: Shall we clean up afterwards?
steps:
  - id: confirmation
    when: booking.created
    template: confirmation
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "visit.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_locale_gets_its_own_title_and_label(tmp_path: Path) -> None:
    playbook = load_playbook(write(tmp_path, VISIT)).playbook
    assert [playbook.title_in(loc) for loc in ("nb", "da", "en")] == [
        "Rørleggerbesøk",
        "VVS-besøg",
        "Plumber visit",
    ]
    option = playbook.options[0]
    assert i18n.option_label(playbook, option, "nb") == "Skal vi rydde etterpå?"
    assert i18n.option_label(playbook, option, "en") == "Shall we clean up afterwards?"


def test_a_missing_locale_falls_back_to_the_default_locale_then_to_the_first_written() -> None:
    text = LocalisedText.parse({"en": "Car service", "da": "Bilservice"})
    assert text.pick("nb", "da") == "Bilservice"
    assert text.pick("nb", "nb") == "Car service"
    assert text.pick("nb") == "Car service"
    assert text.missing(["nb", "da", "en"]) == ["nb"]


def test_a_plain_title_serves_every_locale_as_before(tmp_path: Path) -> None:
    playbook = load_playbook(write(tmp_path, VISIT.replace(VISIT.splitlines()[1], "title: Besøk"))).playbook
    assert playbook.title_in("en") == "Besøk" and playbook.title.missing(["nb", "da", "en"]) == []
    assert playbook.model_dump()["title"] == "Besøk"


def test_a_plain_label_still_names_a_key_of_the_pages_words(tmp_path: Path) -> None:
    """``label: option_cleanup``, as playbooks wrote it before labels could be written per locale."""
    text = (
        VISIT.split("    label:")[0]
        + "    label: option_cleanup\n"
        + VISIT.split("en: Shall we clean up afterwards?\n")[1]
    )
    playbook = load_playbook(write(tmp_path, text)).playbook
    option = playbook.options[0]
    assert i18n.option_label(playbook, option, "da") == "Skal vi rydde op og tage emballagen med bagefter?"
    assert i18n.option_label(playbook, option, "en") == (
        "Shall we clean up and take the packaging away afterwards?"
    )
    plain = load_playbook(write(tmp_path, text.replace("option_cleanup", "Rydde?"))).playbook
    assert i18n.option_label(plain, plain.options[0], "en") == "Rydde?"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "da: VVS-besøg, ",
            "de: Klempnerbesuch, ",
            ":2: title: unsupported locale 'de' (supported: nb, da, en)",
        ),
        ("da: VVS-besøg", "da: 5", ":2: title: da: expected quoted text, got the number 5"),
        ("da: VVS-besøg", 'da: ""', ":2: title: da: expected text, got an empty one"),
        (
            "{nb: Rørleggerbesøk, da: VVS-besøg, en: Plumber visit}",
            "{}",
            ":2: title: expected a text per locale",
        ),
        ("{nb: Rørleggerbesøk, da: VVS-besøg, en: Plumber visit}", "yes", ":2: title: YAML 1.1 reads"),
        (
            "      da: Skal vi rydde op bagefter?",
            "      da: [a, b]",
            ":9: options.0.label: da: expected text",
        ),
    ],
)
def test_a_bad_text_is_named_by_file_and_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in VISIT
    path = write(tmp_path, VISIT.replace(old, new))
    with pytest.raises(PlaybookError) as info:
        load_playbook(path)
    assert any(p.startswith(f"{path}{expected}") for p in info.value.problems), info.value.problems


def test_lint_fails_on_a_listed_locale_without_its_own_text(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    (templates / "visit").symlink_to(templates / "plumber_visit")
    text = VISIT.replace("da: VVS-besøg, ", "").replace("      en: Shall we clean up afterwards?\n", "")
    path = write(tmp_path, text)
    errors = Linter(templates, load_business(REPO / "business.yaml")).lint(path).errors
    assert f"{path}:2: title: no text for da (the playbook's locales: nb, da, en)" in errors
    assert f"{path}:9: options.0.label: no text for en (the playbook's locales: nb, da, en)" in errors


@pytest.mark.parametrize("name", ["car_service", "plumber_visit"])
def test_the_seed_playbooks_are_written_in_every_locale(name: str) -> None:
    playbook = load_playbook(REPO / "playbooks" / f"{name}.yaml").playbook
    assert all(not text.missing(playbook.all_locales) for _, text in playbook.texts())
    assert len({playbook.title_in(loc) for loc in ("nb", "en")}) == 2


def test_the_schema_offers_a_text_or_one_per_locale() -> None:
    title = json_schema()["properties"]["title"]
    kinds = [choice["type"] for choice in title["anyOf"]]
    assert kinds == ["string", "object"]
    assert sorted(title["anyOf"][1]["properties"]) == ["da", "en", "nb"]
    json.dumps(title)
