"""One shape per message: the API's customer and staff shapes are the message view's."""

from __future__ import annotations

from bot.api.schemas import MessageOut, StaffMessageOut
from bot.messages import ALL_FIELDS, CUSTOMER_FIELDS


def test_the_customer_shape_is_the_customer_fields_and_the_staff_shape_all_of_them() -> None:
    assert tuple(MessageOut.model_fields) == CUSTOMER_FIELDS
    assert set(StaffMessageOut.model_fields) == set(ALL_FIELDS)
    assert issubclass(StaffMessageOut, MessageOut)
