"""reply_suggestions: what became of each suggested reply a person was shown (used as is,
edited, or ignored), for the figures per knowledge-base entry

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_suggestions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id", sa.String(32), sa.ForeignKey("conversations.id"), nullable=False
        ),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("reply_id", sa.Integer(), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("entry_id", sa.String(128), nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("conversation_id", "entry_id", "staff_id", "created_at"):
        op.create_index(f"ix_reply_suggestions_{column}", "reply_suggestions", [column])


def downgrade() -> None:
    for column in ("created_at", "staff_id", "entry_id", "conversation_id"):
        op.drop_index(f"ix_reply_suggestions_{column}", "reply_suggestions")
    op.drop_table("reply_suggestions")
