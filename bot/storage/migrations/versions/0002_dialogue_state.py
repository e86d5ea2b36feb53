"""dialogue state and escalation on conversations, the reason for every decision, escalations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("dialogue", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("queue", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("high_value", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("decision_reason", sa.Text(), nullable=True))
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_escalations_conversation_id", "escalations", ["conversation_id"])
    op.create_index("ix_escalations_created_at", "escalations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_escalations_created_at", table_name="escalations")
    op.drop_index("ix_escalations_conversation_id", table_name="escalations")
    op.drop_table("escalations")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("decision_reason")
    with op.batch_alter_table("conversations") as batch:
        for column in ("waiting_since", "high_value", "priority", "queue", "dialogue"):
            batch.drop_column(column)
