"""``forvent demo``: sample bookings in ./demo, one dispatch pass, and where to look."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from tests.web.conftest import REPO


def test_demo_prepares_a_business_with_sample_bookings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"FORVENT_NOW": "2026-11-23T11:20:00+01:00", "FORVENT_SECRET": "", "FORVENT_DATABASE_URL": ""}
    for _ in range(2):  # a second run starts afresh instead of failing on existing refs
        result = CliRunner().invoke(cli, ["demo", "--no-serve", "--json", "--port", "8123"], env=env)
        assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["staff"] == "http://127.0.0.1:8123/staff" and info["password"] == "demo"
    assert info["customer"].startswith("http://127.0.0.1:8123/b/")
    assert len(info["bookings"]) == 8 and info["sent"] > 0
    outbox = tmp_path / "demo" / "outbox"
    sms = [json.loads(p.read_text()) for p in outbox.glob("*.sms.json")]
    assert any(m["step"] == "delay_notice" for m in sms) and list(outbox.glob("*.eml"))
    assert (tmp_path / "demo" / "forvent.db").exists()


def test_demo_refuses_a_bad_port_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--port", "eighty"])
    assert result.exit_code == 1 and "--port" in result.stderr


def test_serve_refuses_without_a_business_file_or_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    no_business = {"FORVENT_SECRET": "s", "FORVENT_BUSINESS_FILE": str(tmp_path / "none.yaml")}
    result = CliRunner().invoke(cli, ["serve"], env=no_business)
    assert result.exit_code == 1 and "no business profile" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    shutil.copy(REPO / "business.yaml", tmp_path / "business.yaml")
    result = CliRunner().invoke(
        cli, ["serve"], env={"FORVENT_SECRET": "", "FORVENT_BUSINESS_FILE": "business.yaml"}
    )
    assert result.exit_code == 1 and "FORVENT_SECRET" in result.stderr
