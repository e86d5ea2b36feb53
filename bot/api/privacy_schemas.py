"""Shapes of the privacy routes: a customer's export and what an erasure removed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CustomerExportOut(BaseModel):
    """Everything held about one customer. Besides these fields, one list of rows per table that
    refers to the customer (conversations, messages, escalations, surveys, action_calls,
    staff_actions, …), each row with all its columns; times in ISO 8601, UTC."""

    model_config = ConfigDict(extra="allow")

    exported_at: datetime
    customer: dict[str, Any] = Field(description="the profile, every column")
    privacy_records: list[dict[str, Any]] = Field(
        description="every earlier export and erasure of this customer's data"
    )


class ErasureOut(BaseModel):
    customer_id: int = Field(description="the internal id, which the record keeps")
    rows: dict[str, int] = Field(
        description="rows per table: deleted; for staff_actions kept with the link to the "
        "conversation cut; for customers the profile emptied"
    )
