"""initial schema: meetings, slips, anonymous ballots, audit

Revision ID: 0ea8db09e2a7
Revises: 
Create Date: 2026-11-21 06:34:21.209304

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0ea8db09e2a7'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed: ballot, ballot_mark and slip_use have no rowid on SQLite and no sequence or
    # timestamp anywhere, so nothing stored pairs a slip use with a ballot (R23).
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('expected_count', sa.Integer(), nullable=False),
    sa.Column('present_count', sa.Integer(), nullable=True),
    sa.Column('value_0', sa.Integer(), nullable=False),
    sa.Column('value_1', sa.Integer(), nullable=False),
    sa.Column('value_2', sa.Integer(), nullable=False),
    sa.Column('value_3', sa.Integer(), nullable=False),
    sa.Column('abstain_as_zero', sa.Boolean(), nullable=False),
    sa.Column('quorum_num', sa.Integer(), nullable=False),
    sa.Column('quorum_den', sa.Integer(), nullable=False),
    sa.Column('created_dt', sa.DateTime(), nullable=False),
    sa.CheckConstraint('expected_count > 0', name=op.f('ck_meeting_expected_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting'))
    )
    op.create_table('organizer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_dt', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizer')),
    sa.UniqueConstraint('username', name=op.f('uq_organizer_username'))
    )
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_dt', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_audit_entry_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('opened_dt', sa.DateTime(), nullable=True),
    sa.Column('closed_dt', sa.DateTime(), nullable=True),
    sa.Column('published_dt', sa.DateTime(), nullable=True),
    sa.Column('cast_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_round_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_round'))
    )
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_round_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('unit', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('is_principal', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('team', 'person')", name=op.f('ck_target_kind_known')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_target_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_target'))
    )
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_target_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('voter_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('weight', sa.Numeric(precision=7, scale=3), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('weight >= 0', name=op.f('ck_voter_category_weight_non_negative')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_voter_category_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voter_category')),
    sa.UniqueConstraint('meeting_id', 'code', name='uq_voter_category_meeting_code')
    )
    with op.batch_alter_table('voter_category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voter_category_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('ballot',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('is_valid', sa.Boolean(), nullable=False),
    sa.Column('is_paper', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['voter_category.id'], name=op.f('fk_ballot_category_id_voter_category'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_ballot_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_round_id'), ['round_id'], unique=False)

    op.create_table('round_target',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_round_target_round_id_round'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['target.id'], name=op.f('fk_round_target_target_id_target'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'target_id', name=op.f('pk_round_target'))
    )
    op.create_table('slip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.LargeBinary(length=16), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('issued_dt', sa.DateTime(), nullable=False),
    sa.Column('voided_dt', sa.DateTime(), nullable=True),
    sa.Column('void_reason', sa.String(length=200), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['voter_category.id'], name=op.f('fk_slip_category_id_voter_category'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_slip_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replaces_id'], ['slip.id'], name=op.f('fk_slip_replaces_id_slip'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slip')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_slip_code_digest'))
    )
    with op.batch_alter_table('slip', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slip_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_slip_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('ballot_mark',
    sa.Column('ballot_id', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], name=op.f('fk_ballot_mark_ballot_id_ballot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['target.id'], name=op.f('fk_ballot_mark_target_id_target'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ballot_id', 'target_id', name=op.f('pk_ballot_mark')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('ballot_mark', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_mark_target_id'), ['target_id'], unique=False)

    op.create_table('slip_use',
    sa.Column('slip_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_slip_use_round_id_round'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['slip_id'], ['slip.id'], name=op.f('fk_slip_use_slip_id_slip'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('slip_id', 'round_id', name=op.f('pk_slip_use')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('slip_use', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slip_use_round_id'), ['round_id'], unique=False)

    # ### end Alembic commands ###


def downgrade():
    # Reviewed: ballot, ballot_mark and slip_use have no rowid on SQLite and no sequence or
    # timestamp anywhere, so nothing stored pairs a slip use with a ballot (R23).
    with op.batch_alter_table('slip_use', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slip_use_round_id'))

    op.drop_table('slip_use')
    with op.batch_alter_table('ballot_mark', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_mark_target_id'))

    op.drop_table('ballot_mark')
    with op.batch_alter_table('slip', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slip_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_slip_category_id'))

    op.drop_table('slip')
    op.drop_table('round_target')
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_round_id'))

    op.drop_table('ballot')
    with op.batch_alter_table('voter_category', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voter_category_meeting_id'))

    op.drop_table('voter_category')
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_target_meeting_id'))

    op.drop_table('target')
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_round_meeting_id'))

    op.drop_table('round')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_meeting_id'))

    op.drop_table('audit_entry')
    op.drop_table('organizer')
    op.drop_table('meeting')
    # ### end Alembic commands ###
