"""What a final price may be without surprising the customer (pure).

The customer agreed to the estimate and, one by one, to the extra work they
approved; anything above their sum is a price they have not seen. Staff are
asked to confirm such a price before the customer is told it
(engine/services/price_check.py), and the report counts it (``over_estimate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class PriceFigures:
    """A final price beside what the customer agreed to."""

    price: Decimal
    estimate: Decimal
    approved_extras: Decimal  # the prices of the findings the customer approved

    @property
    def allowed(self) -> Decimal:
        return self.estimate + self.approved_extras

    @property
    def over(self) -> bool:
        return self.price > self.allowed


def price_figures(
    price: Decimal, estimate: object, approved_prices: Iterable[object | None]
) -> PriceFigures | None:
    """The figures for ``price``, or None when there is no estimate to hold it against."""
    if estimate is None:
        return None
    extras = sum((Decimal(str(p)) for p in approved_prices if p is not None and p != ""), Decimal(0))
    return PriceFigures(price=price, estimate=Decimal(str(estimate)), approved_extras=extras)
