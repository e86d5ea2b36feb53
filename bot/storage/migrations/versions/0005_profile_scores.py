"""churn risk, lifecycle stage, lifetime value and segment on customers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 02:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("churn_risk", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lifecycle_stage", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("lifetime_value", sa.Float(), nullable=True))
        batch.add_column(sa.Column("segment", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        for column in ("segment", "lifetime_value", "lifecycle_stage", "churn_risk"):
            batch.drop_column(column)
