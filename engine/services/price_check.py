"""A final price above what the customer agreed to is held until staff confirm it.

``ready --price`` (and ``complete --price`` for playbooks with no ``job.ready``
step, whose completion summary is where the customer first sees the price)
checks the price against the estimate fact plus the approved findings' prices.
Above it, the action is refused before anything is recorded or planned:
staff confirm the price (``--confirm-price``, ``"confirm_price": true``, the
board's confirm button) or adjust it. Without an estimate there is nothing
to hold it against.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.business import BusinessProfile
from engine.core.pricing import PriceFigures, price_figures
from engine.exceptions import ConflictError
from engine.messages.formatting import money
from engine.store.tables import BookingRow, FindingRow


class PriceOverEstimateError(ConflictError):
    """The price is above estimate + approved extras and was not confirmed: nothing was done."""

    code = "price_over_estimate"

    def __init__(self, message: str, figures: PriceFigures, currency: str) -> None:
        super().__init__(message, field="price")
        self.figures = figures
        self.currency = currency

    def details(self) -> dict[str, object]:
        f = self.figures
        return {
            "price": str(f.price),
            "estimate": str(f.estimate),
            "approved_extras": str(f.approved_extras),
            "allowed": str(f.allowed),
            "currency": self.currency,
        }


def figures_for(session: Session, row: BookingRow, price: Decimal) -> PriceFigures | None:
    approved = session.scalars(
        select(FindingRow.price).where(FindingRow.booking_id == row.id, FindingRow.decision == "approved")
    )
    return price_figures(price, (row.facts or {}).get("estimate"), approved)


def refusal(figures: PriceFigures, business: BusinessProfile) -> str:
    """One line with every figure, in the business's own money format (as the board shows it)."""

    def m(value: Decimal) -> str:
        return money(value, business.currency, business.default_locale)

    return (
        f"price: {m(figures.price)} is more than the estimate {m(figures.estimate)} "
        f"+ approved extras {m(figures.approved_extras)} = {m(figures.allowed)}; "
        "nothing was sent: adjust the price, or confirm it with --confirm-price "
        '(API: "confirm_price": true)'
    )


def hold_if_over_estimate(
    session: Session, row: BookingRow, price: Decimal, business: BusinessProfile
) -> None:
    """Raise ``PriceOverEstimateError`` when ``price`` is above what the customer agreed to."""
    figures = figures_for(session, row, price)
    if figures is not None and figures.over:
        raise PriceOverEstimateError(refusal(figures, business), figures, business.currency)
