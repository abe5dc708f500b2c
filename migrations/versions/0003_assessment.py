"""assessment: units, groups, history; meeting settings; selection rounds

Revision ID: 0003_assessment
Revises: 0002_live_hall
Create Date: 2026-11-21 07:29:12.499767

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_assessment'
down_revision = '0002_live_hall'
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed: every new NOT NULL column has a server default, so meetings already in the
    # database upgrade in place (a test upgrades a populated database).
    op.create_table('history_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('group_name', sa.String(length=50), nullable=False),
    sa.Column('unit', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('band', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_record')),
    sa.UniqueConstraint('year', 'kind', 'unit', 'name', name='uq_history_record_key')
    )
    with op.batch_alter_table('history_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_history_record_year'), ['year'], unique=False)

    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('group_name', sa.String(length=50), nullable=False),
    sa.Column('target_score', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('is_vetoed', sa.Boolean(), nullable=False),
    sa.Column('veto_reason', sa.String(length=200), nullable=False),
    sa.Column('staff_count', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('staff_count >= 0', name=op.f('ck_unit_staff_non_negative')),
    sa.CheckConstraint('target_score >= 0 AND target_score <= 100', name=op.f('ck_unit_score_range')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_unit_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit')),
    sa.UniqueConstraint('meeting_id', 'name', name='uq_unit_meeting_name')
    )
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('unit_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('candidate_places', sa.Integer(), nullable=True),
    sa.Column('seats', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_unit_group_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_group')),
    sa.UniqueConstraint('meeting_id', 'name', name='uq_unit_group_meeting_name')
    )
    with op.batch_alter_table('unit_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_group_meeting_id'), ['meeting_id'], unique=False)

    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('principal_target_pct', sa.Integer(), nullable=False, server_default='60'))
        batch_op.add_column(sa.Column('member_target_pct', sa.Integer(), nullable=False, server_default='40'))
        batch_op.add_column(sa.Column('grade_basic', sa.Integer(), nullable=False, server_default='80'))
        batch_op.add_column(sa.Column('grade_qualified', sa.Integer(), nullable=False, server_default='90'))
        batch_op.add_column(sa.Column('reward_per_point', sa.Numeric(precision=12, scale=2), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('reward_basic_pct', sa.Integer(), nullable=False, server_default='80'))
        batch_op.add_column(sa.Column('reward_lump_excellent', sa.Numeric(precision=12, scale=2), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('reward_lump_top', sa.Numeric(precision=12, scale=2), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('majority_required', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seats', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('group_name', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('runoff_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('candidate_order', sa.String(length=8), nullable=False, server_default='score'))
        batch_op.create_foreign_key(batch_op.f('fk_round_runoff_of_id_round'), 'round', ['runoff_of_id'], ['id'], ondelete='CASCADE')

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_round_runoff_of_id_round'), type_='foreignkey')
        batch_op.drop_column('candidate_order')
        batch_op.drop_column('runoff_of_id')
        batch_op.drop_column('group_name')
        batch_op.drop_column('seats')

    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_column('majority_required')
        batch_op.drop_column('reward_lump_top')
        batch_op.drop_column('reward_lump_excellent')
        batch_op.drop_column('reward_basic_pct')
        batch_op.drop_column('reward_per_point')
        batch_op.drop_column('grade_qualified')
        batch_op.drop_column('grade_basic')
        batch_op.drop_column('member_target_pct')
        batch_op.drop_column('principal_target_pct')
        batch_op.drop_column('year')

    with op.batch_alter_table('unit_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_group_meeting_id'))

    op.drop_table('unit_group')
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_meeting_id'))

    op.drop_table('unit')
    with op.batch_alter_table('history_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_record_year'))

    op.drop_table('history_record')
    # ### end Alembic commands ###
