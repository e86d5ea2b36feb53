"""What the shop allows: cancel, start a return, change the address. Pure functions over an order.

Each takes the order as it stands and returns it changed, or raises `Refused` with a code the
caller can branch on and a reason a person can read. Nothing here touches the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.demo_shop.schemas import (
    BEFORE_DISPATCH,
    Address,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
    Return,
    ReturnStatus,
)

# The published policy (data/README.md): 30 days from delivery. VIP members' 60 days need the
# membership, which this shop does not model.
RETURN_WINDOW = timedelta(days=30)


class Refused(Exception):
    """The order's state does not allow the change; answered as 409."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def cancel(order: Order, now: datetime) -> Order:
    """Cancelled, with a pending refund of everything paid (payment is taken at checkout)."""
    if order.status not in BEFORE_DISPATCH:
        raise Refused("not_cancellable", f"order {order.order_id} is {order.status}: {_too_late}")
    refund = Refund(amount=order.total, status=RefundStatus.PENDING)
    return order.model_copy(update={"status": OrderStatus.CANCELLED, "refund": refund})


def change_address(order: Order, address: Address) -> Order:
    if order.status not in BEFORE_DISPATCH:
        raise Refused(
            "address_locked",
            f"order {order.order_id} is {order.status}: the address can only change before "
            "dispatch; the courier's tracking link can redirect the parcel",
        )
    return order.model_copy(update={"delivery_address": address})


def start_return(order: Order, sku: str, now: datetime) -> Order:
    """A return of one item (the order's `return`), started now; the refund follows its arrival."""
    if order.status is not OrderStatus.DELIVERED:
        raise Refused("not_delivered", f"order {order.order_id} is {order.status}, not delivered")
    if order.return_ is not None:
        raise Refused(
            "return_open", f"order {order.order_id} already has a return ({order.return_.status})"
        )
    if order.item(sku) is None:
        raise Refused("not_in_order", f"order {order.order_id} has no item {sku!r}")
    delivered = order.shipment.delivered_at if order.shipment else None
    # Counted in calendar days, as the customer counts them: delivered on the 1st, returnable
    # until the 31st whatever the hour.
    if delivered is None or now.date() - delivered.date() > RETURN_WINDOW:
        raise Refused(
            "return_window_closed",
            f"order {order.order_id} was delivered more than {RETURN_WINDOW.days} days ago",
        )
    started = Return(sku=sku, status=ReturnStatus.STARTED, started_at=now)
    return order.model_copy(update={"return_": started})


_too_late = "only a placed or processing order can be cancelled; once dispatched it can be returned"
