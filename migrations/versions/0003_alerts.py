"""alerts: rules on a KPI (threshold or change) or on the data (stale, failed load), and
their firings

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alert_rules',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('owner_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False, index=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('kpi', sa.String(40), nullable=False),
        sa.Column('direction', sa.String(10), nullable=False),
        sa.Column('value', sa.Float(), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('filters', sa.Text(), nullable=False),
        sa.Column('cooldown_hours', sa.Integer(), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('armed', sa.Boolean(), nullable=False),
        sa.Column('snoozed_until', sa.DateTime(), nullable=True),
        sa.Column('last_evaluated_at', sa.DateTime(), nullable=True),
        sa.Column('last_fired_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'alert_firings',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('rule_id', sa.Integer(),
                  sa.ForeignKey('alert_rules.id', ondelete='CASCADE'), nullable=False,
                  index=True),
        sa.Column('fired_at', sa.DateTime(), nullable=False, index=True),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('current', sa.Float(), nullable=True),
        sa.Column('previous', sa.Float(), nullable=True),
        sa.Column('sentence', sa.Text(), nullable=False),
        sa.Column('explanation', sa.JSON(), nullable=True),
        sa.Column('data_version', sa.Integer(), nullable=True),
        sa.Column('recipient', sa.String(254), nullable=True),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('message_path', sa.String(500), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('alert_firings')
    op.drop_table('alert_rules')
