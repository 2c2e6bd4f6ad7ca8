"""``forvent report`` on a SQLite file (read through ``sqlite3``) prints what the ORM reads.

The same stores as the other report tests, reported once the default way and
once through a URL ``engine.store.sqlite_reads`` leaves to SQLAlchemy (a query
string): the text and the JSON must be the same to the byte. Then the light
read of the playbooks: a playbook it cannot read plainly is loaded in full,
whose error a broken one gets, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.services.inbound import Inbound
from tests.integration.test_report_assignees import three_visits_by_two_plumbers
from tests.integration.test_report_steps import (
    cli_report,
    three_plumber_visits,
    twelve_plumber_visits_and_two_car_services,
)
from tests.integration.world import REPO, World


def kari_pays_more_than_estimate_and_extras(world: World) -> None:
    """Estimated 3 450 kr, approved brake pads at 1 890 kr by SMS, charged 6 000 kr with staff's say-so."""
    world.book(ref="C-1", facts={"vehicle": "Toyota Corolla", "estimate": 3450})
    world.at(2026, 11, 26, 10, 30)
    world.service.start("C-1")
    world.service.finding("C-1", text="Bremseklosser foran", price="1890", must_fix=True)
    world.dispatcher.run_until_idle()
    assert Inbound(world.rt).reply("+4791234567", "JA").booking_ref == "C-1"
    world.at(2026, 11, 26, 13, 0)
    world.service.ready("C-1", price="6000", confirm_price=True)
    world.dispatcher.run_until_idle()


@pytest.mark.parametrize(
    "story",
    [
        three_plumber_visits,
        three_visits_by_two_plumbers,
        twelve_plumber_visits_and_two_car_services,
        kari_pays_more_than_estimate_and_extras,
    ],
)
def test_sqlite3_and_the_orm_print_the_same_report(world: World, story: Callable[[World], None]) -> None:
    story(world)
    through_orm = f"{world.rt.settings.database_url}?timeout=30"
    for options in ((), ("--json",)):
        direct = cli_report(world, *options)
        assert "plumber_visit" in direct or "car_service" in direct
        assert cli_report(world, *options, db=through_orm) == direct


def test_over_the_estimate_is_counted_from_the_file(world: World) -> None:
    kari_pays_more_than_estimate_and_extras(world)
    assert '"over_estimate": 1' in cli_report(world, "--json")


def test_a_playbook_without_a_plain_promise_is_read_in_full(world: World, tmp_path: Path) -> None:
    """No ``promise:`` key: the schema's default (arrival) comes from the full loader."""
    twelve_plumber_visits_and_two_car_services(world)
    folder = tmp_path / "playbooks"
    folder.mkdir()
    for path in (REPO / "playbooks").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        (folder / path.name).write_text(text.replace("promise: arrival\n", ""), encoding="utf-8")
    assert "\npromise:" not in (folder / "plumber_visit.yaml").read_text(encoding="utf-8")
    assert cli_report(world, "--json", playbooks=folder) == cli_report(world, "--json")


def test_a_broken_playbook_is_refused_in_the_loaders_words(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    text = (REPO / "playbooks" / "plumber_visit.yaml").read_text(encoding="utf-8")
    (folder / "plumber_visit.yaml").write_text(text.replace("promise: arrival", "promise: arival"), "utf-8")
    result = CliRunner().invoke(
        cli,
        ["--db", world.rt.settings.database_url, "--playbooks", str(folder), "--business",
         str(REPO / "business.yaml"), "report"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "plumber_visit.yaml:" in result.output and "promise" in result.output
    assert "Traceback" not in result.output
