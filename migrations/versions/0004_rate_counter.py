"""rate counters for code guessing and login attempts

Revision ID: 0004_rate_counter
Revises: 0003_assessment
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_rate_counter"
down_revision = "0003_assessment"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rate_counter",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window", name=op.f("pk_rate_counter")),
    )


def downgrade():
    op.drop_table("rate_counter")
