"""Database connections: engine creation, SQLite settings, migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.exceptions import ConfigurationError, ConflictError
from engine.store import actors

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "forvent_read_only"  # execution option of the connections ``read_session`` uses


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 opens transactions lazily; take control so BEGIN IMMEDIATE works.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Zero freed space, so an erased customer's values do not linger in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    # No checkpoint inside a commit: the one that crossed the threshold (a staff
    # delay as often as not) would copy the log back and wait for it. The
    # scheduler checkpoints instead (Database.checkpoint), and the last
    # connection to close does too.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: two dispatchers on one file then
    # queue on busy_timeout instead of failing mid-transaction on an upgrade.
    # A read-only session reads a snapshot under a deferred BEGIN and takes no lock.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise ConfigurationError(f"--db: cannot use {url!r}: {exc}", field="db") from exc


# PostgreSQL: deadlock_detected, serialization_failure, lock_not_available.
_LOST_RACE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def is_lost_race(exc: OperationalError) -> bool:
    """The database gave up on this transaction because another one holds what it needs."""
    if getattr(exc.orig, "sqlstate", None) in _LOST_RACE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """An engine plus a session factory; ``session()`` is one transaction.

    ``secret`` is ``FORVENT_SECRET``, which a migration may need (0003 re-keys the
    stored opt-outs with it); without it that migration reads the environment.
    """

    def __init__(self, url: str, *, secret: str | None = None) -> None:
        self.url = url
        self.secret = secret
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), autoflush=False, expire_on_commit=False
        )

    @contextmanager
    def session(self, *, actor: str | None = None) -> Iterator[Session]:
        """One transaction. A lost race the database detects is a ``ConflictError`` (409, exit 1).

        ``actor`` names who its history lines are written as (``engine.store.actors``).
        """
        try:
            with self._sessions() as session, session.begin():
                actors.bind(session, actor)
                yield session
        except OperationalError as exc:
            if not is_lost_race(exc):
                raise
            raise ConflictError(
                "another change to the same booking won the race; nothing was changed, try again"
            ) from exc

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """One transaction that only reads, and holds no lock a writer waits for.

        On SQLite it begins deferred (``BEGIN``, not ``BEGIN IMMEDIATE``): it
        reads a snapshot of the write-ahead log while other connections write.
        Nothing is committed: whatever is added to it is dropped at the end,
        and the rows it loaded stay readable (detached, not expired).
        """
        with self._read_sessions() as session:
            yield session

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file, waiting for no reader or writer.

        No commit checkpoints (``wal_autocheckpoint=0``): the dispatcher's scheduler
        calls this, off any request, and so does ``dispatch --once`` at its end.
        Elsewhere a no-op.
        """
        if not is_sqlite(self.engine):
            return
        connection = self.engine.raw_connection()
        try:  # outside any transaction: the connection is in autocommit (isolation_level None)
            connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").close()
        finally:
            connection.close()

    def upgrade(self) -> None:
        """Create or upgrade the schema (Alembic ``upgrade head``), then refresh statistics."""
        from alembic import command  # migrations are rare; keep them off every command's start-up

        config = alembic_config(self.url)
        self._check_usable()
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                config.attributes["secret"] = self.secret
                command.upgrade(config, "head")
        except OperationalError as exc:
            raise ConfigurationError(f"--db: cannot reach the database: {exc.orig}") from exc
        self.analyze()

    def analyze(self) -> None:
        # Without statistics SQLite's planner picked the status index over the
        # booking index and moving a booking's rows took 40x longer (FACTS.md).
        with self.engine.begin() as connection:
            connection.execute(text("ANALYZE"))

    def _check_usable(self) -> None:
        """Connect once, so that a URL leading to no database is one line naming ``--db``.

        A text file given as the SQLite path fails on the first statement with
        "file is not a database" (a ``DatabaseError``, not an ``OperationalError``).
        Only the connection is judged here: an error inside a migration is a bug
        to see in full, not the user's input.
        """
        try:
            with self.engine.connect():
                pass
        except OperationalError as exc:
            raise ConfigurationError(f"--db: cannot reach the database: {exc.orig}", field="db") from exc
        except DatabaseError as exc:
            raise ConfigurationError(f"--db: not a usable database: {exc.orig}", field="db") from exc

    def check_schema(self) -> None:
        from sqlalchemy import inspect

        self._check_usable()
        try:
            present = inspect(self.engine).has_table("messages")
        except OperationalError as exc:
            raise ConfigurationError(f"--db: cannot reach the database: {exc.orig}") from exc
        if not present:
            raise ConfigurationError("the database has no schema yet: run `forvent init-db`")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
