"""The ``forvent`` root group and what its commands share: state, options, error lines, output.

User errors print one line naming the field or file and exit 1; click's own
usage errors (unknown command or option, missing argument) exit 2.

Start-up stays light: this module and the command modules import only click and
the stdlib-only parts of the engine at their top. The settings, the database,
templates, rich and the web stack are imported by the command that needs them,
so ``forvent --help`` and ``forvent CMD --help`` never load them
(tests/e2e/test_cli_startup.py holds that line).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from engine.core import timing
from engine.exceptions import ForventError

if TYPE_CHECKING:
    from rich.console import Console

    from engine.runtime import Runtime
    from engine.services.bookings import BookingService
    from engine.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


class LazyConsole:
    """A rich console built when something is first printed through it: rich is slow to import."""

    def __init__(self, build: Callable[[], Console]) -> None:
        self._build = build
        self._console: Console | None = None

    @property
    def rich(self) -> Console:
        if self._console is None:
            self._console = self._build()
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.rich.print(*objects, **options)


def _stdout_console() -> Console:
    from rich.console import Console

    # Piped output gets a wide console: rich's 80-column default folds every table cell.
    from engine.cli.tables import PIPED_WIDTH

    return Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


console = LazyConsole(_stdout_console)
err_console = LazyConsole(_stderr_console)


def load_values(changes: dict[str, Any]) -> dict[str, Any]:
    """The environment's settings with the root options' ``changes``, read without pydantic.

    A bad variable or clock is a ForventError. Commands that only read the store
    take what they need from these values; ``State.settings`` validates them.
    """
    from engine import environment
    from engine.logs import configure

    values = {**environment.read(), **changes}
    configure(environment.value(values, "log_level"))
    now = environment.value(values, "now")
    if now:
        timing.parse_clock_instant(now)
    return values


class State:
    """The root options; the settings and the runtime are built when a command first asks for them."""

    def __init__(self, changes: dict[str, Any], as_json: bool, business_file: Path | None) -> None:
        self.as_json = as_json
        self.business_file = business_file
        self._changes = changes
        self._values: dict[str, Any] | None = None
        self._settings: Settings | None = None
        self._runtime: Runtime | None = None

    @property
    def values(self) -> dict[str, Any]:
        """The settings' values by field name, only those set (``engine.environment.value`` reads one)."""
        if self._values is None:
            self._values = load_values(self._changes)
        return self._values

    def change(self, **changes: Any) -> None:
        """A command's own options over the root's: settings and runtime are built afresh."""
        self.close()
        self._changes = {**self._changes, **changes}
        self._values = self._settings = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from engine.settings import Settings

            self._settings = Settings.of(self.values)
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        """New settings: a runtime built from the old ones is closed and built afresh when asked for."""
        self.close()
        self._settings = settings

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from engine.runtime import Runtime

            self._runtime = Runtime(self.settings)
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def fail(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    sys.exit(1)


def common(func: F) -> F:
    """Every command accepts ``--json`` and ``--now`` after its name, and reports user errors."""

    @functools.wraps(func)
    def wrapper(*args: Any, as_json: bool, now: str | None, **kwargs: Any) -> Any:
        state: State = click.get_current_context().obj
        if as_json:
            state.as_json = True
        try:
            if now:
                state.change(now=now)
            state.values  # noqa: B018 - a bad variable or clock is refused before the command runs
            return func(state, *args, **kwargs)
        except ForventError as exc:
            fail(str(exc))
        finally:
            state.close()

    wrapper = click.option("--now", "now", default=None, metavar="ISO", help="Engine clock (with offset).")(
        wrapper
    )
    wrapper = click.option("--json", "as_json", is_flag=True, default=False, help="Machine-readable output.")(
        wrapper
    )
    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", default=None, metavar="URL", help="SQLAlchemy URL (env FORVENT_DATABASE_URL).")
@click.option("--playbooks", default=None, metavar="DIR", help="Playbooks directory.")
@click.option("--templates", default=None, metavar="DIR", help="Templates directory.")
@click.option("--business", default=None, metavar="FILE", help="business.yaml (env FORVENT_BUSINESS_FILE).")
@click.option("--json", "as_json", is_flag=True, default=False, help="Machine-readable output.")
@click.option("--now", default=None, metavar="ISO", help="Engine clock, with offset (env FORVENT_NOW).")
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    playbooks: str | None,
    templates: str | None,
    business: str | None,
    as_json: bool,
    now: str | None,
) -> None:
    """Forvent: proactive expectation messaging for service businesses."""
    changes: dict[str, Any] = {}
    if db:
        changes["database_url"] = db
    if playbooks:
        changes["playbooks_dir"] = Path(playbooks)
    if templates:
        changes["templates_dir"] = Path(templates)
    if business:
        changes["business_file"] = Path(business)
    if now:
        changes["now"] = now
    ctx.obj = State(changes, as_json, Path(business) if business else None)


def emit(state: State, data: Any, human: Callable[[], None]) -> None:
    if state.as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        human()


def open_store(state: State) -> Runtime:
    """The runtime of a command on bookings: it refuses to run without a business profile or a schema."""
    runtime = state.runtime
    runtime.business  # noqa: B018 - loaded for its check
    runtime.database.check_schema()
    return runtime


def cli_actor() -> str:
    """Who a command's history lines are written as: ``cli:<the operating system's user>``."""
    import getpass

    from engine.store import actors

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = "unknown"
    return actors.cli(user)


def booking_service(state: State) -> BookingService:
    from engine.services.bookings import BookingService

    return BookingService(open_store(state), actor=cli_actor())
