"""``forvent report``: expectation metrics, messages per step and promise calibration.

Like ``messages`` and ``history`` (``engine.cli.reading``) it reads a SQLite
file through ``sqlite3``, and takes of the business only its id, zone and
locale and of each playbook only its promise and step ids
(``engine.core.playbook_outline``): no SQLAlchemy, pydantic, phone numbers or
rich, which were nine tenths of its start-up. Any other database is read
through the ORM. Either way the same rows reach the same figures
(``engine.store.report_figures``), printed the same.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from engine import environment
from engine.cli.app import State, common, emit, open_store
from engine.cli.reading import business_id
from engine.cli.tables import Justify, print_line, print_table
from engine.core import timing
from engine.core.clock import FixedClock, SystemClock
from engine.exceptions import ForventError

STEP_COLUMNS = ("planned", "sent", "delivered", "failed", "skipped", "cancelled", "pending", "replies")
BY_REASON = ("failed", "skipped")  # a count and what it is made of, left-aligned
ASSIGNEE_METRICS = (
    "bookings",
    "kept_rate",
    "late",
    "lateness_minutes_median",
    "late_announced_in_time_rate",
    "notice_lead_minutes_median",
    "unannounced_late",
)


def _zone_and_locale(path: Path) -> tuple[str, str]:
    """The business's zone and default locale: read as written when both are plainly there and
    the report can use them, else from the validated profile (which says what is wrong)."""
    import yaml

    from engine.core import safe_yaml
    from engine.messages.report_text import SENTENCES

    try:
        _, data = safe_yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    if isinstance(data, dict):
        zone, locale = data.get("timezone"), data.get("default_locale")
        if isinstance(zone, str) and locale in SENTENCES:
            try:
                timing.zone(zone)
            except ForventError:
                pass
            else:
                return zone, locale
    from engine.core.business import load_business

    business = load_business(path)
    return business.timezone, business.default_locale


def _period(now: datetime, zone: str, since: str | None, until: str | None) -> tuple[datetime, datetime]:
    from engine.store.report_figures import DEFAULT_PERIOD

    tz = timing.zone(zone)
    # By default: the last 30 days through the end of today, so today's promises count.
    end_of_today = timing.at_local_time(now + timedelta(days=1), time(0, 0), tz)
    end = timing.parse_instant(until, tz, field="until") if until else end_of_today
    start = timing.parse_instant(since, tz, field="since") if since else end - DEFAULT_PERIOD
    return start, end


def run_report(state: State, since: str | None, until: str | None) -> dict[str, Any]:
    from engine.core.playbook_outline import outlines
    from engine.store.report_figures import PROMISE_EVENT, figures
    from engine.store.sqlite_reads import file_of, read

    values = state.values
    path = file_of(environment.value(values, "database_url"))
    if path is None:
        runtime = open_store(state)
        ident, zone, locale = runtime.business.id, runtime.business.timezone, runtime.business.default_locale
        now = runtime.now()
    else:
        business_file = environment.value(values, "business_file")
        ident = business_id(business_file)
        zone, locale = _zone_and_locale(business_file)
        fixed = environment.value(values, "now")
        now = (FixedClock(timing.parse_clock_instant(fixed)) if fixed else SystemClock()).now()
    start, end = _period(now, zone, since, until)
    playbooks = outlines(environment.value(values, "playbooks_dir"), PROMISE_EVENT)
    promises = {pid: outline.promise for pid, outline in playbooks.items()}
    step_ids = {pid: outline.step_ids for pid, outline in playbooks.items()}
    if path is None:
        from engine.store.report import report

        with runtime.database.session() as session:
            return report(
                session,
                business_id=ident,
                promises=promises,
                since=start,
                until=end,
                step_ids=step_ids,
                locale=locale,
            )
    from engine.store.sqlite_report import report_bookings

    with read(path) as reader:
        bookings = report_bookings(reader, ident, start, end)
    return figures(bookings, promises=promises, since=start, until=end, step_ids=step_ids, locale=locale)


def _shown(value: Any) -> str:
    return "-" if value is None else str(value)


def _by_reason(row: dict[str, Any], name: str) -> str:
    """``2 (sms:21211 1, sms:30003 1)``: a count and what it is made of."""
    reasons = row[f"{name}_by_reason"]
    if not reasons:
        return str(row[name])
    return f"{row[name]} ({', '.join(f'{reason} {n}' for reason, n in reasons.items())})"


def _print_report(data: dict[str, Any]) -> None:
    from engine.messages.report_text import percent, width

    columns = ["metric", "overall", *data["playbooks"]]
    figures = [data["overall"], *data["playbooks"].values()]
    rows = [[metric, *(_shown(f[metric]) for f in figures)] for metric in data["overall"]]
    print_table(columns, rows, title=f"{data['since']} - {data['until']}")
    sides: list[Justify] = ["left", *("left" if n in BY_REASON else "right" for n in STEP_COLUMNS)]
    for playbook, step_rows in data["steps"].items():
        cells = [
            [row["step"], *(_by_reason(row, n) if n in BY_REASON else str(row[n]) for n in STEP_COLUMNS)]
            for row in step_rows
        ]
        print_table(["step", *STEP_COLUMNS], cells, sides, title=f"{playbook}: messages per step")
    _print_assignees(data)
    for playbook, calibration in data["calibration"].items():
        print_line(f"{playbook}: {calibration['sentence']}")
        for window in calibration["windows"]:
            rate = window["kept_rate"]
            kept = "-" if rate is None else f"{percent(rate, 'en')} kept"
            count = window["bookings"]
            line = f"  {width(window['minutes'], 'en')} windows: {count} booking{'s' * (count != 1)}, {kept}"
            print_line(line, markup=True, soft_wrap=False)


def _print_assignees(data: dict[str, Any]) -> None:
    """Lateness and notice lead per assignee, and their calibration sentences."""
    assignees = data.get("assignees") or {}
    if not assignees:
        return
    rows = [[metric, *(_shown(assignees[name][metric]) for name in assignees)] for metric in ASSIGNEE_METRICS]
    print_table(["metric", *assignees], rows, title="per assignee")
    for name, per_playbook in (data.get("assignee_calibration") or {}).items():
        for playbook, calibration in per_playbook.items():
            print_line(f"{name}, {playbook}: {calibration['sentence']}")


@click.command("report")
@click.option("--since", default=None, metavar="ISO")
@click.option("--until", default=None, metavar="ISO")
@common
def report_command(state: State, since: str | None, until: str | None) -> None:
    """Expectation metrics: promises kept, delays announced, delivery, scores; messages per
    step; how wide promised windows must be to be kept 90% of the time."""
    data = run_report(state, since, until)
    emit(state, data, lambda: _print_report(data))
