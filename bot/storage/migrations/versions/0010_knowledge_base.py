"""knowledge_entries and knowledge_versions: the knowledge base in the database, edited in the
console, every change kept with who made it and when. The YAML file stays the import and export
format; an empty knowledge_entries is filled from it at start-up.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "knowledge_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "entry_id", sa.String(200), sa.ForeignKey("knowledge_entries.id"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("reverted_to", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("entry_id", "version"),
    )
    op.create_index("ix_knowledge_versions_entry_id", "knowledge_versions", ["entry_id"])
    op.create_index("ix_knowledge_versions_created_at", "knowledge_versions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_knowledge_versions_created_at", "knowledge_versions")
    op.drop_index("ix_knowledge_versions_entry_id", "knowledge_versions")
    op.drop_table("knowledge_versions")
    op.drop_table("knowledge_entries")
