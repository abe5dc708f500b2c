"""live hall: display token per meeting, result mode and phone visibility per round

Revision ID: 0002_live_hall
Revises: 0ea8db09e2a7
Create Date: 2026-11-21

Reviewed: existing meetings get a fresh random display token each; existing rounds are
"hidden" (R24's default) and not shown on phones.
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002_live_hall"
down_revision = "0ea8db09e2a7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result_mode", sa.String(length=8), nullable=False, server_default="hidden"))
        batch_op.add_column(sa.Column("show_on_phones", sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_token", sa.String(length=32), nullable=True))
    conn = op.get_bind()
    meeting = sa.table("meeting", sa.column("id", sa.Integer), sa.column("display_token", sa.String))
    for (meeting_id,) in conn.execute(sa.select(meeting.c.id)).all():
        conn.execute(meeting.update().where(meeting.c.id == meeting_id).values(display_token=secrets.token_urlsafe(18)))
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.alter_column("display_token", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_meeting_display_token"), ["display_token"])


def downgrade():
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_meeting_display_token"), type_="unique")
        batch_op.drop_column("display_token")
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.drop_column("show_on_phones")
        batch_op.drop_column("result_mode")
