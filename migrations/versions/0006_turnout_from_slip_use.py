"""turnout counted from slip_use: drop round.cast_count

Why: every cast bumped the round's counter, so on PostgreSQL each cast held the round's row
lock until its commit and casts queued one WAL flush after another (issue "Proof under load",
B1). A cast now takes a shared lock on the round instead (services.voting), and turnout is
the number of ``slip_use`` rows of the round, which are already written and indexed.

Revision ID: 0006_turnout_from_slip_use
Revises: 0005_ballot_items
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_turnout_from_slip_use"
down_revision = "0005_ballot_items"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("round") as batch:
        batch.drop_column("cast_count")


def downgrade():
    with op.batch_alter_table("round") as batch:
        batch.add_column(sa.Column("cast_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE round SET cast_count = (SELECT count(*) FROM slip_use WHERE slip_use.round_id = round.id)")
