"""installation settings

* ``installation_settings``: a setting of the whole installation an admin changed in the
  app, one row per name (``locale.currency``, ``locale.number_style``, ``locale.date_format``,
  ``locale.timezone``); a setting without a row takes its environment default.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'installation_settings',
        sa.Column('name', sa.String(64), primary_key=True),
        sa.Column('value', sa.String(200), nullable=False),
        sa.Column('updated_by', sa.String(254), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('installation_settings')
