"""The shop's shapes: an order and its parts, the seed file, and the bodies the API accepts.

One shape per entity: the seed file is read into these, the store keeps them as JSON documents,
and the API answers with them. Money is GBP as `Decimal` (exact sums), sent as a JSON number.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

ORDER_ID_PATTERN = re.compile(r"BC-\d{6}")
ORDER_ID_FORM = "BC- and 6 digits, e.g. BC-204518"

Money = Annotated[Decimal, Field(ge=0, decimal_places=2), PlainSerializer(float, when_used="json")]


def check_order_id(value: str) -> str:
    """The order id as given, or ValueError naming the expected form."""
    if not ORDER_ID_PATTERN.fullmatch(value):
        raise ValueError(f"order id {value!r} is not an order number: expected {ORDER_ID_FORM}")
    return value


class OrderStatus(StrEnum):
    PLACED = "placed"
    PROCESSING = "processing"
    DISPATCHED = "dispatched"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


# Before dispatch the warehouse has not packed the parcel: it can still be stopped or readdressed.
BEFORE_DISPATCH = frozenset({OrderStatus.PLACED, OrderStatus.PROCESSING})


class RefundStatus(StrEnum):
    PENDING = "pending"
    ISSUED = "issued"


class ReturnStatus(StrEnum):
    STARTED = "started"  # the customer has the label; the parcel is not back yet
    RECEIVED = "received"  # back at the warehouse; the refund is pending
    COMPLETED = "completed"  # refunded


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Shape):
    sku: str
    name: str
    quantity: int = Field(ge=1)
    price: Money


class Address(_Shape):
    lines: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=3
    )
    city: str = Field(min_length=1, max_length=60)
    postcode: str = Field(min_length=2, max_length=10)


class Shipment(_Shape):
    carrier: str
    tracking_number: str
    estimated_delivery: date
    delivered_at: datetime | None = None


class Refund(_Shape):
    amount: Money
    status: RefundStatus
    issued_at: datetime | None = None


class Return(_Shape):
    sku: str
    status: ReturnStatus
    started_at: datetime


class Order(_Shape):
    # `return` is a Python keyword: the field is `return_`, its JSON name `return`.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    order_id: str
    customer_id: str
    email: str
    placed_at: datetime
    status: OrderStatus
    items: list[Item] = Field(min_length=1)
    delivery_charge: Money
    total: Money
    delivery_address: Address
    shipment: Shipment | None = None
    refund: Refund | None = None
    return_: Return | None = Field(default=None, alias="return")

    _check_id = field_validator("order_id")(check_order_id)

    @model_validator(mode="after")
    def _adds_up(self) -> Order:
        # A hand-written seed file is where a wrong total would creep in.
        items = sum((item.price * item.quantity for item in self.items), Decimal(0))
        if items + self.delivery_charge != self.total:
            raise ValueError(
                f"{self.order_id}: total {self.total} is not the items ({items}) "
                f"plus delivery ({self.delivery_charge})"
            )
        return self

    def item(self, sku: str) -> Item | None:
        return next((item for item in self.items if item.sku == sku), None)


class Customer(_Shape):
    customer_id: str
    name: str
    email: str


class Seed(_Shape):
    """The data file: the day its dates are written against, the customers, their orders."""

    today: date
    customers: list[Customer]
    orders: list[Order]

    @model_validator(mode="after")
    def _owners_known(self) -> Seed:
        known = {customer.customer_id for customer in self.customers}
        strays = sorted({o.order_id for o in self.orders if o.customer_id not in known})
        if strays:
            raise ValueError(f"orders of unknown customers: {', '.join(strays)}")
        return self


class CustomerOrders(_Shape):
    customer: Customer
    orders: list[Order]


class RefundOut(_Shape):
    order_id: str
    refund: Refund | None


class ReturnOut(_Shape):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    order_id: str
    return_: Return | None = Field(alias="return")


class ReturnIn(_Shape):
    sku: str = Field(min_length=1, max_length=40)


class VerifyIn(_Shape):
    order_id: str
    email: str = Field(min_length=3, max_length=254)

    _check_id = field_validator("order_id")(check_order_id)


class Verified(_Shape):
    customer_id: str
