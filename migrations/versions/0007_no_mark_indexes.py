"""drop the secondary indexes of ballot_mark and ballot_item_mark

Why: ``ix_ballot_mark_target_id`` (and ``ix_ballot_item_mark_item_id``) put each of a ballot's
marks in a different random place of the index, so a batch of 20 ballots of 30 targets dirtied
hundreds of index pages. Writing a ballot on SQLite cost 0.43 ms on an empty meeting and
0.95 ms after eight rounds with them, a flat 0.43 ms without (issue "Proof under load", B1).
No query reads them: the counts reach marks through their ballots, by the primary key's
prefix. Deleting a target or an item (set-up, before any ballot) now scans the marks table.

Revision ID: 0007_no_mark_indexes
Revises: 0006_turnout_from_slip_use
Create Date: 2026-11-21
"""

from alembic import op

revision = "0007_no_mark_indexes"
down_revision = "0006_turnout_from_slip_use"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_ballot_mark_target_id", table_name="ballot_mark")
    op.drop_index("ix_ballot_item_mark_item_id", table_name="ballot_item_mark")


def downgrade():
    op.create_index("ix_ballot_item_mark_item_id", "ballot_item_mark", ["item_id"])
    op.create_index("ix_ballot_mark_target_id", "ballot_mark", ["target_id"])
