"""one delivery ledger for reports and alerts, by e-mail or webhook; schedules in a time
zone with external recipients; idempotent scheduled runs; in-app notifications

* ``deliveries``: a delivery belongs to a job (a report) or to an alert firing; its
  ``channel`` is "email" (``recipient`` an address) or "webhook" (``recipient`` the URL);
  ``idempotency_key`` makes "one message per run and recipient" a constraint, not a hope;
  ``next_attempt_at`` is when a failed delivery is tried again (backoff).
* ``alert_firings`` lose their own copy of the ledger (recipient, status, attempts, …): their
  deliveries say how each message went.
* ``alert_rules``: ``compare`` ("previous" period or "last_year", the same days a year
  before), ``email`` (send the owner an e-mail) and ``webhook_url``.
* ``report_schedules``: ``timezone`` (IANA name; ``time_of_day`` is local to it),
  ``external_recipients`` (addresses outside the users, admins only) and ``external_scope``
  (the countries they may see, null = all data, picked by the admin).
* ``jobs.idempotency_key``: one job per schedule run and recipient, even when two beat
  ticks race or a run is picked up again.
* ``notifications``: what the navbar bell shows a user (alert firings, finished jobs, failed
  deliveries), read or not.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_FIRING_LEDGER = ('recipient', 'status', 'attempts', 'last_error', 'message_path', 'sent_at')


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.alter_column('job_id', existing_type=sa.String(32), nullable=True)
        batch.alter_column('recipient', existing_type=sa.String(254), type_=sa.String(1000))
        batch.add_column(sa.Column('firing_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('channel', sa.String(10), nullable=False,
                                   server_default='email'))
        batch.add_column(sa.Column('idempotency_key', sa.String(200), nullable=True))
        batch.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch.create_foreign_key('fk_deliveries_firing_id', 'alert_firings',
                                 ['firing_id'], ['id'], ondelete='CASCADE')
        batch.create_index('ix_deliveries_firing_id', ['firing_id'])
        batch.create_unique_constraint('uq_deliveries_idempotency_key', ['idempotency_key'])
    with op.batch_alter_table('alert_firings') as batch:
        for name in _FIRING_LEDGER:
            batch.drop_column(name)
    with op.batch_alter_table('alert_rules') as batch:
        batch.add_column(sa.Column('compare', sa.String(12), nullable=False,
                                   server_default='previous'))
        batch.add_column(sa.Column('email', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column('webhook_url', sa.String(1000), nullable=True))
    with op.batch_alter_table('report_schedules') as batch:
        batch.add_column(sa.Column('timezone', sa.String(64), nullable=False,
                                   server_default='UTC'))
        batch.add_column(sa.Column('external_recipients', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('external_scope', sa.JSON(), nullable=True))
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('idempotency_key', sa.String(200), nullable=True))
        batch.create_unique_constraint('uq_jobs_idempotency_key', ['idempotency_key'])
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('title', sa.String(300), nullable=False),
        sa.Column('body', sa.Text(), nullable=True),
        sa.Column('link', sa.String(1000), nullable=True),
        sa.Column('ref', sa.String(100), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=True),
    )
    op.create_index('ix_notifications_user_created', 'notifications',
                    ['user_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_notifications_user_created', table_name='notifications')
    op.drop_table('notifications')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_constraint('uq_jobs_idempotency_key', type_='unique')
        batch.drop_column('idempotency_key')
    with op.batch_alter_table('report_schedules') as batch:
        for name in ('external_scope', 'external_recipients', 'timezone'):
            batch.drop_column(name)
    with op.batch_alter_table('alert_rules') as batch:
        for name in ('webhook_url', 'email', 'compare'):
            batch.drop_column(name)
    with op.batch_alter_table('alert_firings') as batch:
        batch.add_column(sa.Column('recipient', sa.String(254), nullable=True))
        batch.add_column(sa.Column('status', sa.String(20), nullable=False,
                                   server_default='sent'))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch.add_column(sa.Column('message_path', sa.String(500), nullable=True))
        batch.add_column(sa.Column('sent_at', sa.DateTime(), nullable=True))
    op.execute("DELETE FROM deliveries WHERE job_id IS NULL")
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_constraint('uq_deliveries_idempotency_key', type_='unique')
        batch.drop_index('ix_deliveries_firing_id')
        batch.drop_constraint('fk_deliveries_firing_id', type_='foreignkey')
        for name in ('next_attempt_at', 'idempotency_key', 'channel', 'firing_id'):
            batch.drop_column(name)
        batch.alter_column('recipient', existing_type=sa.String(1000), type_=sa.String(254))
        batch.alter_column('job_id', existing_type=sa.String(32), nullable=False)
