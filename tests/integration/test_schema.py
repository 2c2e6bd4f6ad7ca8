"""The Alembic migrations and the models agree, and init-db is repeatable."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from engine.store.db import Database
from engine.store.tables import Base


def test_upgrade_head_on_an_empty_database_matches_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    db.upgrade()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    db.dispose()


def test_init_db_twice_keeps_the_schema_and_is_a_no_op(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'twice.db'}")
    db.upgrade()
    db.upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "bookings",
        "messages",
        "history",
        "customers",
        "businesses",
        "alembic_version",
    } <= tables
    db.dispose()


def test_every_table_carries_business_id() -> None:
    for table in Base.metadata.sorted_tables:
        assert "business_id" in table.columns, table.name
