"""The board's answer to a price above the estimate: the figures, then confirm or adjust.

Nothing was recorded when the ready or done form got here (``price_check``);
the page sends the same form again, with ``confirm_price`` or a new price.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from engine.services.price_check import PriceOverEstimateError
from engine.store.tables import FindingRow
from engine.web import board

if TYPE_CHECKING:
    from engine.web.staff import StaffBoard


def price_page(
    staff: StaffBoard,
    request: Request,
    context: dict[str, Any],
    ref: str,
    action: str,
    held: PriceOverEstimateError,
    *,
    pickup: str,
    next_url: str,
) -> Response:
    """409, because nothing was done; the page is the way on."""
    with staff.rt.database.session() as db:
        row = staff.service.get(db, ref)
        card = board.cards(staff.rt, db, [row])[0]
        extras = [
            (f.text, f.price)
            for f in db.scalars(
                select(FindingRow)
                .where(FindingRow.booking_id == row.id, FindingRow.decision == "approved")
                .order_by(FindingRow.id)
            )
        ]
    figures = held.figures
    context.update(
        card=card,
        action=action,
        figures=figures,
        extras=extras,
        over_by=figures.price - figures.allowed,
        pickup=pickup,
        next_url=next_url or f"/staff/b/{ref}",
    )
    return staff.pages.render(request, "staff_price.html", context, status=409)
