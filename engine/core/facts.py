"""Booking facts: parse ``--fact k=v`` and check values against the playbook's ``facts:`` (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from engine.core.playbooks import Playbook
from engine.exceptions import UserInputError

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


class WrittenNumber(float):
    """A ``--fact`` number that keeps the text it was read from.

    JSON reads ``3.450`` as 3.45, but a money fact must see what was typed:
    in nb and da that is three thousand four hundred fifty.
    """

    written: str

    def __new__(cls, value: float, written: str) -> WrittenNumber:
        number = super().__new__(cls, value)
        number.written = written
        return number


def _scalar(raw: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, float):
        return WrittenNumber(value, raw)
    return value if isinstance(value, str | int | bool) else raw


# Spaces that group thousands: plain, no-break (Babel's nb group), narrow no-break, thin.
_GROUP_SPACE = re.compile(r"(?<=[0-9])[ \u00a0\u202f\u2009](?=[0-9])")
_AMOUNT = re.compile(r"-?[0-9]+(?:[ .,][0-9]+)*")
_MAX_AMOUNT = Decimal("100000000")


def parse_money(raw: Any, *, field: str) -> Decimal:
    """An amount, read the same whatever the business's locale, never by guessing.

    Numbers (JSON, or ``int``/``float`` from code) are taken as they are. In
    text, spaces between digits group thousands (``3 450``) and a trailing
    ``,-`` means whole units (``3450,-``). One kind of separator, once and
    followed by one or two digits, is the decimal mark (``12.5``, ``12,50``);
    repeated, it groups thousands (``1.234.567``). With both kinds, the last
    is the decimal mark (``3.450,00``, ``3,450.00``). A single separator
    followed by exactly three digits (``3.450``) is refused as ambiguous: it
    is 3450 in nb and da and 3.45 in en, and either reading would store some
    business's price wrong without a word. More than two decimals are refused.
    """
    if isinstance(raw, bool):
        raise UserInputError(f"{field}: expected an amount, got {raw!r}", field=field)
    if isinstance(raw, WrittenNumber):
        raw = raw.written
    value = Decimal(str(raw)) if isinstance(raw, int | float) else _amount_text(str(raw), field)
    if not value.is_finite() or value < 0 or value > _MAX_AMOUNT:
        raise UserInputError(f"{field}: {raw!r} is not a sensible amount", field=field)
    return value.quantize(Decimal("0.01"))


def _amount_text(raw: str, field: str) -> Decimal:
    text = _GROUP_SPACE.sub(" ", raw.strip()).removesuffix(",-").removesuffix(".-")
    if not _AMOUNT.fullmatch(text):
        raise UserInputError(f"{field}: expected an amount such as 3450 or 12.50, got {raw!r}", field=field)
    marks = {c for c in text if c in ".,"}
    last = max(text.rfind("."), text.rfind(","))
    whole, decimals = text, ""
    if len(marks) == 2 or (marks and text.count(text[last]) == 1):
        whole, decimals = text[:last], text[last + 1 :]
    if len(marks) == 1 and len(decimals) == 3 and re.fullmatch(r"-?[0-9]{1,3}", whole):
        grouped, decimal = f"{whole}{decimals}", format(Decimal(f"{whole}.{decimals}").normalize(), "f")
        raise UserInputError(
            f"{field}: {raw!r} is ambiguous ({grouped} or {decimal}?): "
            f"write {grouped}, or two decimals such as {whole}.{decimals[:2]}",
            field=field,
        )
    if len(decimals) > 2:
        raise UserInputError(f"{field}: {raw!r} has more than two decimals", field=field)
    groups = re.split(r"[ .,]", whole)
    if (len(groups[0].lstrip("-")) > 3 and len(groups) > 1) or any(len(g) != 3 for g in groups[1:]):
        digits = "".join(groups) + (f".{decimals}" if decimals else "")
        raise UserInputError(
            f"{field}: {raw!r} groups its thousands wrongly: write it without separators, such as {digits}",
            field=field,
        )
    return Decimal("".join(groups) + (f".{decimals}" if decimals else ""))


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
