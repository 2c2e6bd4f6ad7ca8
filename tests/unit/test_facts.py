"""Amounts and ``--fact`` values: read the same in every locale, and never by guessing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.core.facts import check_facts, parse_fact_args, parse_money
from engine.core.playbooks import load_playbook
from engine.exceptions import UserInputError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("3450", "3450.00"),
        (3450, "3450.00"),
        (12.5, "12.50"),
        ("12.5", "12.50"),
        ("12,50", "12.50"),
        ("1890.50", "1890.50"),
        ("3 450", "3450.00"),
        ("1 890,50", "1890.50"),  # the SPEC's own example
        ("1\u00a0890,50", "1890.50"),  # Babel's nb grouping: a no-break space
        ("3.450,00", "3450.00"),  # nb/da with a decimal part: the last mark is the decimal one
        ("3,450.00", "3450.00"),  # en
        ("1.234.567", "1234567.00"),  # repeated: it can only group thousands
        ("3450,-", "3450.00"),
        (" 0.5 ", "0.50"),
    ],
)
def test_amounts_that_read_one_way_only(raw: object, amount: str) -> None:
    assert parse_money(raw, field="price") == Decimal(amount)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("3.450", "price: '3.450' is ambiguous (3450 or 3.45?): write 3450, or two decimals such as 3.45"),
        ("3,450", "price: '3,450' is ambiguous (3450 or 3.45?)"),
        ("1.000", "price: '1.000' is ambiguous (1000 or 1?)"),
        ("12.3456", "price: '12.3456' has more than two decimals"),
        ("1234.567", "price: '1234.567' has more than two decimals"),
        ("34 50", "price: '34 50' groups its thousands wrongly"),
        ("1.23.456", "price: '1.23.456' groups its thousands wrongly"),
        ("kr 3450", "price: expected an amount such as 3450 or 12.50, got 'kr 3450'"),
        ("-5", "price: '-5' is not a sensible amount"),
        (True, "price: expected an amount, got True"),
    ],
)
def test_ambiguous_or_malformed_amounts_are_refused_naming_the_field(raw: object, message: str) -> None:
    with pytest.raises(UserInputError) as info:
        parse_money(raw, field="price")
    assert info.value.field == "price" and info.value.message.startswith(message), info.value.message


def test_a_money_fact_sees_what_was_typed_not_what_json_made_of_it() -> None:
    playbook = load_playbook(REPO / "playbooks" / "car_service.yaml").playbook
    with pytest.raises(UserInputError) as info:
        check_facts(playbook, parse_fact_args(["estimate=3.450"]), require=False)
    assert info.value.field == "facts.estimate" and "is ambiguous" in info.value.message
    assert check_facts(playbook, parse_fact_args(["estimate=3450.5"]), require=False) == {
        "estimate": "3450.50"
    }
    assert check_facts(playbook, {"estimate": 3.450}, require=False) == {"estimate": "3.45"}  # a JSON number


def test_other_facts_still_read_json_numbers() -> None:
    assert parse_fact_args(["n=3.450", "m=12", "b=true"]) == {"n": 3.45, "m": 12, "b": True}
