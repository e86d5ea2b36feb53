"""action_calls of staff: a lookup a person ran from the console answers no customer message,
and says who ran it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_calls") as batch:
        batch.alter_column("message_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_action_calls_staff_id", "staff", ["staff_id"], ["id"])


def downgrade() -> None:
    # A staff lookup has no customer message to keep once the column is required again.
    op.execute("DELETE FROM action_calls WHERE message_id IS NULL")
    with op.batch_alter_table("action_calls") as batch:
        batch.drop_constraint("fk_action_calls_staff_id", type_="foreignkey")
        batch.drop_column("staff_id")
        batch.alter_column("message_id", existing_type=sa.Integer(), nullable=False)
