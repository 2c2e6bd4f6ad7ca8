"""The playbook format: schema, loading with line numbers, structural checks.

A playbook is a YAML file ``playbooks/<id>.yaml``. Its schema is the pydantic
model ``Playbook`` below (exported as JSON Schema by ``forvent lint --schema``).
Loading reports every problem as ``file:line: message``; template checks live
in ``engine.messages.lint``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.core import safe_yaml, timing
from engine.core.localised import LocalisedText
from engine.core.playbook_outline import PLAYBOOK_ID, playbook_ids
from engine.exceptions import NotFoundError, PlaybookError, UserInputError

EVENTS = frozenset(
    {
        "booking.created",
        "booking.confirmed",
        "booking.rescheduled",
        "booking.delayed",
        "booking.cancelled",
        "booking.no_show",
        "job.started",
        "job.finding",
        "job.ready",
        "job.ready_delayed",
        "job.completed",
        "customer.replied",
        "customer.scored",
        "customer.detractor",
        "customer.promoter",
        "staff.on_my_way",
    }
)
CHANNELS = ("sms", "email")
LOCALES = frozenset({"nb", "da", "en"})
#: Anchors whose event has already happened when the step could run: no negative offsets.
NO_NEGATIVE_ANCHORS = frozenset({"confirmed", "started", "ready", "completed"})

Channel = Literal["sms", "email"]


def _drop_extensions(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    return data


def _default_channels() -> list[Channel]:
    return ["sms", "email"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _extensions(cls, data: Any) -> Any:
        return _drop_extensions(data)


def _check_duration(value: str | None) -> str | None:
    if value is not None:
        timing.parse_duration(value)
    return value


def _check_local_time(value: str | None) -> str | None:
    if value is not None:
        timing.parse_local_time(value)
    return value


class QuietHoursSpec(_Model):
    from_: str = Field(alias="from", description='Local "HH:MM" when quiet hours begin.')
    to: str = Field(description='Local "HH:MM" when quiet hours end.')

    _times = field_validator("from_", "to")(_check_local_time)

    def value(self) -> timing.QuietHours:
        return timing.QuietHours(timing.parse_local_time(self.from_), timing.parse_local_time(self.to))


class FactSpec(_Model):
    type: Literal["text", "money", "bool", "number", "date"] = "text"
    required: bool = False
    label: str | None = None
    max_length: int | None = Field(default=None, ge=1, le=10_000)


class OptionSpec(_Model):
    id: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    choices: list[str] = Field(min_length=2)
    label: LocalisedText | None = Field(
        default=None,
        description="Shown on the customer's page: text, a key of the page's words, or one per locale.",
    )


class InviteSpec(_Model):
    method: Literal["request"] = "request"
    alarm: str | None = Field(default=None, description="Reminder before start, e.g. 1h.")

    _alarm = field_validator("alarm")(_check_duration)

    def alarm_delta(self) -> timedelta | None:
        if self.alarm is None:
            return None
        duration = timing.parse_duration(self.alarm)
        return timedelta(days=duration.days, seconds=duration.seconds)


class StepSpec(_Model):
    id: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    when: str | None = Field(default=None, description="An event that triggers the step.")
    at: str | None = Field(default=None, description="anchor +/- duration, e.g. start - 1d.")
    at_local_time: str | None = None
    channels: list[Channel] | None = None
    deliver: Literal["first", "all"] = "first"
    template: str = Field(pattern=r"^[a-z0-9_]+$")
    invite: Literal["request"] | InviteSpec | None = None
    urgent: bool = False
    skip_if_created_within: str | None = None
    if_: str | None = Field(default=None, alias="if")
    unless: str | None = None
    on_closed_day: Literal["keep", "next_open_day", "skip"] = "keep"
    marketing: bool = False

    _local = field_validator("at_local_time")(_check_local_time)
    _skip = field_validator("skip_if_created_within")(_check_duration)

    @field_validator("when")
    @classmethod
    def _known_event(cls, value: str | None) -> str | None:
        if value is not None and value not in EVENTS:
            raise ValueError(f"unknown event {value!r}")
        return value

    @field_validator("at")
    @classmethod
    def _valid_at(cls, value: str | None) -> str | None:
        if value is not None:
            expr = timing.parse_at(value)
            if expr.anchor in NO_NEGATIVE_ANCHORS and expr.is_before_anchor:
                raise ValueError(f"a negative offset from {expr.anchor!r} is always too late")
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> StepSpec:
        if (self.when is None) == (self.at is None):
            raise ValueError("a step needs exactly one of 'when' and 'at'")
        if self.at_local_time and self.at is None:
            raise ValueError("'at_local_time' goes with 'at'")
        return self

    @property
    def at_expr(self) -> timing.AtExpression | None:
        return timing.parse_at(self.at) if self.at else None

    @property
    def local_time(self) -> time | None:
        return timing.parse_local_time(self.at_local_time) if self.at_local_time else None

    @property
    def invite_spec(self) -> InviteSpec | None:
        if self.invite == "request":
            return InviteSpec()
        return self.invite if isinstance(self.invite, InviteSpec) else None

    @property
    def condition_sources(self) -> list[tuple[str, bool]]:
        """(expression, wanted truth) pairs."""
        out = []
        if self.if_:
            out.append((self.if_, True))
        if self.unless:
            out.append((self.unless, False))
        return out


class Playbook(_Model):
    """A customer journey: its defaults, the facts a booking carries, and its steps."""

    playbook: str = Field(pattern=PLAYBOOK_ID.pattern, description="Id; the file stem.")
    title: LocalisedText = Field(description="Its name, one for every locale or one per locale.")
    default_locale: str = "nb"
    locales: list[str] | None = None
    timezone: str | None = None
    default_duration: str = "1h"
    channels: list[Channel] = Field(default_factory=lambda: _default_channels(), min_length=1)
    quiet_hours: QuietHoursSpec | None = None
    min_delay_notice: str = "10m"
    promise: Literal["arrival", "ready"] = "arrival"
    # Bookings of this playbook that may overlap in a self-service slot; None: business.yaml's capacity.
    capacity: int | None = Field(default=None, ge=1, le=1000)
    facts: dict[str, FactSpec] = Field(default_factory=dict)
    options: list[OptionSpec] = Field(default_factory=list)
    steps: list[StepSpec] = Field(default_factory=list)

    _durations = field_validator("default_duration", "min_delay_notice")(_check_duration)

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"unsupported locale {value!r} (supported: nb, da, en)")
        return value

    @field_validator("locales")
    @classmethod
    def _locales(cls, value: list[str] | None) -> list[str] | None:
        for locale in value or []:
            if locale not in LOCALES:
                raise ValueError(f"unsupported locale {locale!r} (supported: nb, da, en)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                timing.zone(value)
            except UserInputError as exc:
                raise ValueError(exc.message) from None
        return value

    @field_validator("facts")
    @classmethod
    def _fact_names(cls, value: dict[str, FactSpec]) -> dict[str, FactSpec]:
        for name in value:
            if not name.isidentifier() or name.startswith("_") or name != name.lower():
                raise ValueError(f"fact name {name!r} must match [a-z][a-z0-9_]*")
        return value

    @property
    def all_locales(self) -> list[str]:
        return self.locales or [self.default_locale]

    def title_in(self, locale: str) -> str:
        return self.text_in(self.title, locale)

    def text_in(self, text: LocalisedText, locale: str) -> str:
        return text.pick(locale, self.default_locale)

    def texts(self) -> Iterator[tuple[tuple[str | int, ...], LocalisedText]]:
        """Every translatable text with where it is written (for lint's line numbers)."""
        yield ("title",), self.title
        for index, option in enumerate(self.options):
            if option.label is not None:
                yield ("options", index, "label"), option.label

    @property
    def duration(self) -> timing.Duration:
        return timing.parse_duration(self.default_duration)

    @property
    def min_delay(self) -> timedelta:
        return timing.parse_timedelta(self.min_delay_notice)

    def step(self, step_id: str) -> StepSpec | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def steps_for(self, event: str) -> list[StepSpec]:
        return [s for s in self.steps if s.when == event]

    def step_channels(self, step: StepSpec) -> list[str]:
        return list(step.channels or self.channels)


# --- loading with line numbers -------------------------------------------------


@dataclass(frozen=True)
class LoadedPlaybook:
    playbook: Playbook
    path: Path
    lines: Mapping[tuple[str | int, ...], int]

    def line_of(self, *loc: str | int) -> int:
        return _nearest_line(self.lines, loc)


def _walk(node: yaml.Node, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], int]]:
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value
            yield (*path, name), key.start_mark.line + 1
            yield from _walk(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index))


def _nearest_line(lines: Mapping[tuple[str | int, ...], int], loc: tuple[Any, ...]) -> int:
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(p) for p in error["loc"] if not str(p).startswith(("function-", "literal["))]
    where = ".".join(p.replace("from_", "from").replace("if_", "if") for p in loc)
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" if loc else "unknown key"
    if kind in {"string_type", "literal_error"} and isinstance(value, bool):
        boolean = str(value).lower()
        return f"{where}: YAML 1.1 reads an unquoted yes/no/on/off as the boolean {boolean}; quote it"
    if kind == "string_type" and isinstance(value, int) and "local_time" in where + "from to":
        return f'{where}: times of day must be quoted, e.g. "17:00" (YAML read {value})'
    if kind == "string_type" and isinstance(value, int):
        return f"{where}: expected quoted text, got the number {value}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def load_playbook(path: Path) -> LoadedPlaybook:
    """Parse and validate one playbook file; ``PlaybookError`` lists ``file:line: message``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookError([f"{path}:1: cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise PlaybookError([f"{path}:1: cannot read: not UTF-8 text"]) from exc
    try:
        node, data = safe_yaml.load(text)
    except yaml.YAMLError as exc:
        line, problem = safe_yaml.describe(exc)
        raise PlaybookError([f"{path}:{line}: {problem}"]) from exc
    if not isinstance(data, dict) or node is None:
        raise PlaybookError([f"{path}:1: a playbook is a mapping of keys (playbook, steps, ...)"])
    lines = dict(_walk(node, ()))
    _check_quoted_times(node, path)
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{path}:{_nearest_line(lines, tuple(e['loc']))}: {_describe(dict(e))}" for e in exc.errors()
        ]
        raise PlaybookError(problems) from exc
    loaded = LoadedPlaybook(playbook=playbook, path=path, lines=lines)
    problems = _structural_problems(loaded)
    if problems:
        raise PlaybookError(problems)
    return loaded


def _check_quoted_times(node: yaml.Node, path: Path) -> None:
    """YAML 1.1 reads 17:00 as 1020: catch it before the schema sees a number."""
    for key, value in _mapping_items(node):
        if (
            isinstance(value, yaml.ScalarNode)
            and key in {"at_local_time", "from", "to"}
            and value.style is None
            and ":" in value.value
        ):
            raise PlaybookError(
                [
                    f"{path}:{value.start_mark.line + 1}: {key}: times of day must be "
                    f'quoted, e.g. "{value.value}" (YAML 1.1 reads it as a number)'
                ]
            )


def _mapping_items(node: yaml.Node) -> Iterator[tuple[str, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield str(key.value), value
            yield from _mapping_items(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _mapping_items(item)


def _structural_problems(loaded: LoadedPlaybook) -> list[str]:
    playbook, path = loaded.playbook, loaded.path
    problems = []
    if playbook.playbook != path.stem:
        line = loaded.line_of("playbook")
        problems.append(
            f"{path}:{line}: playbook id {playbook.playbook!r} must match the file name {path.stem!r}"
        )
    seen: set[str] = set()
    for index, step in enumerate(playbook.steps):
        if step.id in seen:
            problems.append(f"{path}:{loaded.line_of('steps', index, 'id')}: duplicate step id {step.id!r}")
        seen.add(step.id)
    if playbook.default_locale not in playbook.all_locales:
        problems.append(
            f"{path}:{loaded.line_of('locales')}: default_locale {playbook.default_locale!r} "
            "is not in locales"
        )
    return problems


def check_playbook_id(playbook_id: str) -> str:
    """Refuse anything but a plain id: the id becomes a file name, so ``../x`` or ``/etc/x`` would
    read (and, by the answer, reveal) files outside the playbooks folder."""
    if not isinstance(playbook_id, str) or not PLAYBOOK_ID.fullmatch(playbook_id):
        shown = playbook_id[:60] if isinstance(playbook_id, str) else playbook_id
        raise UserInputError(
            f"playbook: {shown!r} is not a playbook id (a lower-case letter, then letters, digits or _)",
            field="playbook",
        )
    return playbook_id


class PlaybookSet:
    """The playbooks of a directory, loaded on demand and cached."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, LoadedPlaybook] = {}

    def ids(self) -> list[str]:
        return playbook_ids(self.directory)

    def paths(self) -> list[Path]:
        return sorted(self.directory.glob("*.yaml")) if self.directory.is_dir() else []

    def loaded(self, playbook_id: str) -> LoadedPlaybook:
        check_playbook_id(playbook_id)
        if playbook_id not in self._cache:
            path = self.directory / f"{playbook_id}.yaml"
            if not path.is_file():
                raise NotFoundError(f"unknown playbook {playbook_id!r}", field="playbook")
            self._cache[playbook_id] = load_playbook(path)
        return self._cache[playbook_id]

    def get(self, playbook_id: str) -> Playbook:
        return self.loaded(playbook_id).playbook


def json_schema() -> dict[str, Any]:
    schema = Playbook.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Forvent playbook"
    return schema
