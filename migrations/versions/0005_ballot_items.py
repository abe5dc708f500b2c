"""ballot items, receipts, top-level caps, rehearsal mode

Revision ID: 0005_ballot_items
Revises: 0004_rate_counter
Create Date: 2026-11-21 08:33:42.490832

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_ballot_items'
down_revision = '0004_rate_counter'
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed: the new NOT NULL column has a server default, so meetings in progress upgrade
    # in place; ballot_item_mark and receipt, like ballot_mark and slip_use, have no rowid on
    # SQLite and no sequence or time (R23).
    op.create_table('ballot_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('item_type', sa.String(length=12), nullable=False),
    sa.Column('label', sa.String(length=50), nullable=False),
    sa.Column('weight', sa.Numeric(precision=7, scale=3), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("item_type IN ('dimension', 'reverse', 'intent')", name=op.f('ck_ballot_item_item_type_known')),
    sa.CheckConstraint("kind IN ('team', 'person')", name=op.f('ck_ballot_item_item_kind_known')),
    sa.CheckConstraint('weight IS NULL OR weight >= 0', name=op.f('ck_ballot_item_item_weight_non_negative')),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_ballot_item_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_item')),
    sa.UniqueConstraint('round_id', 'kind', 'item_type', 'label', name='uq_ballot_item_label')
    )
    with op.batch_alter_table('ballot_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_item_round_id'), ['round_id'], unique=False)

    op.create_table('receipt',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_receipt_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'code', name=op.f('pk_receipt')),
    sqlite_with_rowid=False
    )
    op.create_table('ballot_item_mark',
    sa.Column('ballot_id', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_item_mark_ballot_id_ballot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['ballot_item.id'], name=op.f('fk_ballot_item_mark_item_id_ballot_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['target.id'], name=op.f('fk_ballot_item_mark_target_id_target'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ballot_id', 'target_id', 'item_id', name=op.f('pk_ballot_item_mark')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('ballot_item_mark', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_item_mark_item_id'), ['item_id'], unique=False)

    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rehearsal', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('top_cap_team', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('top_cap_person', sa.Integer(), nullable=True))



def downgrade():
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_column('top_cap_person')
        batch_op.drop_column('top_cap_team')

    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_column('rehearsal')

    with op.batch_alter_table('ballot_item_mark', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_item_mark_item_id'))

    op.drop_table('ballot_item_mark')
    op.drop_table('receipt')
    with op.batch_alter_table('ballot_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_item_round_id'))

    op.drop_table('ballot_item')
