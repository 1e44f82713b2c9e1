"""The record's first schema: verified interpretations, their clauses, feedback and the audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interpretations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("review_by", sa.String(10)),
        sa.Column("withdrawn", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "interpretation_passages",
        sa.Column("interpretation_id", sa.String(32), sa.ForeignKey("interpretations.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("passage_id", sa.String(64), nullable=False),
        sa.Column("authority", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("clause", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("view", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("passage_id", sa.String(64)),
        sa.Column("authority", sa.Text),
        sa.Column("right_passage_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
        sa.Column("handled_by", sa.String(200)),
        sa.Column("handled_at", sa.String(32)),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("audit", "feedback", "interpretation_passages", "interpretations"):
        op.drop_table(table)
