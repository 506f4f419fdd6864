"""jobs: when the task was last sent to the broker, and how often the reaper re-sent it

A queued job whose message the broker lost (Redis restarted empty) is sent again by the
reaper (``core.jobs.reconcile_queued``), at most ``MAX_RESENDS`` times.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('sent_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('resends', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('resends')
        batch.drop_column('sent_at')
