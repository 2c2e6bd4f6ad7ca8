"""Who did it: the actor a transaction's history lines are written with.

The actor belongs to the transaction, not to each call: the front door that
starts the work names it once (``Database.session(actor=...)``, or
``acting(...)`` around a request), it is kept in the session's ``info``, and
``engine.store.history`` writes it on every line. No service signature carries
it. Work nobody in particular asked for (the dispatcher, the watch, the
planner's re-timing) is ``system``.

Actors: a staff user's name, ``staff`` (the shared staff password),
``token:<name>`` (an API token), ``customer:sms``, ``customer:page``,
``cli:<os user>`` and ``system``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy.orm import Session

SYSTEM = "system"
SHARED_STAFF = "staff"
CUSTOMER_SMS = "customer:sms"
CUSTOMER_PAGE = "customer:page"
_KEY = "forvent.actor"
# What a front door sets for the work it runs (a web request's task, a CLI command);
# a transaction opened meanwhile takes it unless it names its own.
_acting: ContextVar[str | None] = ContextVar("forvent_actor", default=None)


def token(name: str) -> str:
    return f"token:{name}"


def cli(user: str) -> str:
    return f"cli:{user}"


def current() -> str | None:
    """The actor the surrounding work runs as, if a front door named one."""
    return _acting.get()


def set_current(actor: str) -> None:
    """Name the actor for the rest of this task (a web request's dependency: the task ends with it)."""
    _acting.set(actor)


@contextmanager
def acting(actor: str) -> Iterator[None]:
    """Run the block as ``actor``."""
    reset = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(reset)


def bind(session: Session, actor: str | None) -> None:
    """The transaction's actor: ``actor``, else the surrounding work's, else none (``system``)."""
    chosen = actor or _acting.get()
    if chosen:
        session.info[_KEY] = chosen


def of(session: Session) -> str:
    """Who this transaction's lines are written as."""
    found = session.info.get(_KEY)
    return found if isinstance(found, str) else SYSTEM
