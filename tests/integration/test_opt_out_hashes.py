"""Opt-outs are kept as hashes keyed with FORVENT_SECRET: a copy of the database does not name them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from engine.core.contacts import address_hash
from engine.exceptions import ConfigurationError
from engine.services.inbound import Inbound
from engine.store.db import Database, alembic_config
from engine.store.tables import OptOutRow
from tests.integration.world import World

NUMBER = "+4791234567"


def unkeyed(channel: str, address: str) -> str:
    return hashlib.sha256(f"{channel}:{address}".encode()).hexdigest()


def test_a_stop_is_stored_under_a_keyed_hash_and_still_honoured(world: World) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    Inbound(world.rt).reply(NUMBER, "STOP")
    with world.rt.database.session() as s:
        [stored] = s.query(OptOutRow.address_hash).all()
    # Hashing every Norwegian mobile number no longer finds it without the secret.
    assert stored[0] != unkeyed("sms", NUMBER)
    assert stored[0] != address_hash("sms", NUMBER, "another-secret")
    assert stored[0] == address_hash("sms", NUMBER, world.rt.settings.secret)
    world.at(2026, 11, 26, 8, 0)
    world.dispatcher.run_until_idle()
    two_hour = world.row("reminder_2h")
    assert (two_hour.status, two_hour.reason) == ("skipped", "opted_out")


def test_no_secret_no_opt_out_hash() -> None:
    with pytest.raises(ConfigurationError, match="FORVENT_SECRET"):
        address_hash("sms", NUMBER, None)


def _database_at_0002_with_unkeyed_opt_outs(path: Path) -> str:
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "0002")
    engine = create_engine(url)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO businesses (id, business_id, name, created_at) VALUES ('b', 'b', 'B', :now)"),
            {"now": now},
        )
        # One opt-out whose customer is still on record, one whose customer was erased long ago.
        for channel, address in (("sms", NUMBER), ("marketing", "gone@example.com")):
            conn.execute(
                text(
                    "INSERT INTO opt_outs (business_id, channel, address_hash, created_at)"
                    " VALUES ('b', :channel, :hash, :now)"
                ),
                {"channel": channel, "hash": unkeyed(channel, address), "now": now},
            )
    engine.dispose()
    return url


def _hashes(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT channel, address_hash FROM opt_outs")).all()
    engine.dispose()
    return {str(channel): str(digest) for channel, digest in rows}


def test_upgrading_re_keys_every_stored_opt_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _database_at_0002_with_unkeyed_opt_outs(tmp_path / "old.db")
    monkeypatch.setenv("FORVENT_SECRET", "the-deployment-secret")
    database = Database(url)
    database.upgrade()
    database.dispose()
    assert _hashes(url) == {
        "sms": address_hash("sms", NUMBER, "the-deployment-secret"),
        "marketing": address_hash("marketing", "gone@example.com", "the-deployment-secret"),
    }


def test_upgrading_opt_outs_without_the_secret_is_refused_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _database_at_0002_with_unkeyed_opt_outs(tmp_path / "old.db")
    before = _hashes(url)
    monkeypatch.delenv("FORVENT_SECRET", raising=False)
    database = Database(url)
    with pytest.raises(ConfigurationError, match="FORVENT_SECRET"):
        database.upgrade()
    database.dispose()
    assert _hashes(url) == before
