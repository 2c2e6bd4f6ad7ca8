"""``forvent lint`` and the written confirmations: every listed locale needs its own, and a
playbook's own copy of a shared template is the one checked (it is the one its messages use)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.core.business import load_business
from engine.messages.lint import SHARED_TEMPLATES, Linter

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(REPO / "templates", copy)
    return copy


def lint(templates: Path, playbook: str) -> list[str]:
    linter = Linter(templates, load_business(REPO / "business.yaml"))
    return linter.lint(REPO / "playbooks" / f"{playbook}.yaml").errors


def test_page_answers_are_confirmed_by_sms_or_email() -> None:
    for answer in ("confirm", "decline", "change", "choice"):
        assert SHARED_TEMPLATES[f"reply_{answer}"] == ("sms", "email")


@pytest.mark.parametrize("playbook", ["car_service", "plumber_visit"])
def test_the_seed_templates_pass(templates: Path, playbook: str) -> None:
    assert lint(templates, playbook) == []


def test_a_locale_without_its_own_confirmation_email_fails(templates: Path) -> None:
    (templates / "_shared" / "da" / "reply_choice.email.j2").unlink()
    [error] = lint(templates, "car_service")
    assert error.startswith(f"{REPO / 'playbooks' / 'car_service.yaml'}:1: shared: missing template ")
    assert "reply_choice.email.j2 for locale da" in error


def test_a_playbooks_own_copy_of_a_shared_template_is_checked(templates: Path) -> None:
    own = templates / "plumber_visit" / "en" / "reply_choice.sms.j2"
    own.write_text("Thank you {{ customer.shoe_size }}\n", encoding="utf-8")
    [error] = lint(templates, "plumber_visit")
    assert error.startswith(f"{own}:1: unknown attribute customer.shoe_size")
