"""staff accounts, their sessions and actions; assignment, intent corrections, agent messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])
    op.create_table(
        "staff_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_actions_staff_id", "staff_actions", ["staff_id"])
    op.create_index("ix_staff_actions_conversation_id", "staff_actions", ["conversation_id"])
    op.create_index("ix_staff_actions_created_at", "staff_actions", ["created_at"])
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("assigned_staff_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_conversations_assigned_staff_id", "staff", ["assigned_staff_id"], ["id"]
        )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("corrected_intent", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_messages_staff_id", "staff", ["staff_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("fk_messages_staff_id", type_="foreignkey")
        batch.drop_column("staff_id")
        batch.drop_column("corrected_intent")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint("fk_conversations_assigned_staff_id", type_="foreignkey")
        batch.drop_column("assigned_staff_id")
    for index, table in (
        ("ix_staff_actions_created_at", "staff_actions"),
        ("ix_staff_actions_conversation_id", "staff_actions"),
        ("ix_staff_actions_staff_id", "staff_actions"),
        ("ix_staff_sessions_staff_id", "staff_sessions"),
    ):
        op.drop_index(index, table_name=table)
    op.drop_table("staff_actions")
    op.drop_table("staff_sessions")
    op.drop_table("staff")
