"""Booking facts: parse ``--fact k=v`` and check values against the playbook's ``facts:`` (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.exceptions import UserInputError
from engine.playbooks import Playbook

FACT_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_TEXT = 2000  # characters; a fact is a note, not a document


def parse_fact_args(items: Iterable[str]) -> dict[str, Any]:
    """``k=v`` pairs; ``v`` is a JSON scalar when it parses as one, else text; ``k=`` removes."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not FACT_NAME.match(key):
            raise UserInputError(
                f"--fact: expected k=v with k like vehicle_model, got {item!r}", field="fact"
            )
        out[key] = None if raw == "" else _scalar(raw)
    return out


def _scalar(raw: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, str | int | float | bool) else raw


def parse_money(raw: Any, *, field: str) -> Decimal:
    if isinstance(raw, bool):
        raise UserInputError(f"{field}: expected an amount, got {raw!r}", field=field)
    try:
        value = Decimal(str(raw).replace(" ", "").replace(",", "."))
    except InvalidOperation as exc:
        raise UserInputError(
            f"{field}: expected an amount such as 3450 or 12.50, got {raw!r}", field=field
        ) from exc
    if not value.is_finite() or value < 0 or value > Decimal("100000000"):
        raise UserInputError(f"{field}: {raw!r} is not a sensible amount", field=field)
    return value.quantize(Decimal("0.01"))


def check_facts(playbook: Playbook, facts: Mapping[str, Any], *, require: bool) -> dict[str, Any]:
    """Validated facts as stored (money as text, to keep exact decimals in JSON)."""
    out: dict[str, Any] = {}
    for name, value in facts.items():
        spec = playbook.facts.get(name)
        field = f"facts.{name}"
        if spec is None:
            declared = ", ".join(playbook.facts) or "none"
            raise UserInputError(
                f"{field}: {playbook.playbook} declares no fact {name!r} (declared: {declared})",
                field=field,
            )
        if value is None:
            out[name] = None
            continue
        out[name] = _typed(spec.type, value, field, spec.max_length or MAX_TEXT)
    if require:
        for name, spec in playbook.facts.items():
            if spec.required and out.get(name) is None:
                raise UserInputError(f"facts.{name}: required by {playbook.playbook}", field=f"facts.{name}")
    return out


def _typed(kind: str, value: Any, field: str, max_length: int) -> Any:
    if kind == "money":
        return str(parse_money(value, field=field))
    if kind == "bool":
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        if lowered in {"yes", "true", "1", "ja"}:
            return True
        if lowered in {"no", "false", "0", "nei", "nej"}:
            return False
        raise UserInputError(f"{field}: expected true or false, got {value!r}", field=field)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserInputError(f"{field}: expected a number, got {value!r}", field=field)
        return value
    if kind == "date":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise UserInputError(f"{field}: expected a date YYYY-MM-DD, got {value!r}", field=field) from exc
    text = str(value)
    if len(text) > max_length:
        raise UserInputError(f"{field}: longer than {max_length} characters", field=field)
    return text


def facts_for_templates(playbook: Playbook, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored facts as templates see them: money as Decimal, absent ones left out."""
    out: dict[str, Any] = {}
    for name, value in stored.items():
        if value is None:
            continue
        spec = playbook.facts.get(name)
        out[name] = Decimal(value) if spec and spec.type == "money" else value
    return out
