"""privacy_records: each export and erasure of a customer's data; erased_activity: the daily
counts erased conversations leave behind. Profile attributes that are no longer kept (phone,
address, date of birth, …) are removed from the profiles stored before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# As bot/conversation/redaction.py had them when this migration was written: a migration keeps
# its own copy, so that it does the same whatever the code becomes.
SENSITIVE_ATTRIBUTE_WORDS = (
    "phone",
    "mobile",
    "address",
    "street",
    "postcode",
    "postalcode",
    "zip",
    "birth",
    "dob",
    "passport",
    "nationalid",
    "ssn",
    "iban",
    "card",
    "password",
)


def upgrade() -> None:
    op.create_table(
        "privacy_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(16), nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_privacy_records_customer_id", "privacy_records", ["customer_id"])
    op.create_index("ix_privacy_records_created_at", "privacy_records", ["created_at"])
    op.create_table(
        "erased_activity",
        sa.Column("day", sa.String(10), primary_key=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "conversations",
                "messages",
                "escalations",
                "surveys",
                "csat_answers",
                "csat_total",
                "action_calls",
            )
        ),
    )
    _drop_sensitive_attributes()


def downgrade() -> None:
    # The attributes removed are gone for good; only the tables go.
    op.drop_table("erased_activity")
    op.drop_index("ix_privacy_records_created_at", "privacy_records")
    op.drop_index("ix_privacy_records_customer_id", "privacy_records")
    op.drop_table("privacy_records")


def _drop_sensitive_attributes() -> None:
    connection = op.get_bind()
    customers = sa.table("customers", sa.column("id", sa.Integer), sa.column("attributes", sa.JSON))
    for customer_id, attributes in connection.execute(
        sa.select(customers.c.id, customers.c.attributes)
    ):
        if isinstance(attributes, str):
            attributes = json.loads(attributes)
        if not isinstance(attributes, dict):
            continue
        kept = _kept(attributes)
        if kept != attributes:
            connection.execute(
                customers.update().where(customers.c.id == customer_id).values(attributes=kept)
            )


def _kept(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _kept(item)
            for key, item in value.items()
            if not any(
                word in re.sub(r"[^a-z]", "", str(key).lower())
                for word in SENSITIVE_ATTRIBUTE_WORDS
            )
        }
    if isinstance(value, list):
        return [_kept(item) for item in value]
    return value
