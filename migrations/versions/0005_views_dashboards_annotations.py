"""saved views, dashboards and their tiles, chart annotations, per-user preferences

* ``saved_views``: a named set of filters for a page, with a rolling period kept relative
  (``period`` "last_90_days", "this_month", …, applied when the view is opened), private or
  shared with everyone or with chosen users; schedules and alerts may follow one
  (``saved_view_id``: the view's filters at each run).
* ``report_schedules.dashboard_id``: a schedule may send a dashboard as a PDF.
* ``user_preferences``: one row per user (their default view, their time zone).
* ``dashboards`` + ``dashboard_tiles``: pinned charts, KPI cards and tables in a grid, each
  tile following the dashboard's filters or keeping its own.
* ``annotations``: a note on a date or range shown on every time chart, in the PDF and the
  API, scoped like data (``countries``: the scope it was written under, null = everyone's).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _sharing(table: str) -> list:
    return [sa.Column('sharing', sa.String(10), nullable=False, server_default='private'),
            sa.Column('shared_with', sa.JSON(), nullable=True)]


def upgrade() -> None:
    op.create_table(
        'saved_views',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('owner_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False, index=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('page', sa.String(100), nullable=False),
        sa.Column('filters', sa.Text(), nullable=False),
        sa.Column('period', sa.String(30), nullable=True),
        *_sharing('saved_views'),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('owner_id', 'name', name='uq_saved_views_owner_name'),
    )
    op.create_table(
        'user_preferences',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('default_view_id', sa.Integer(),
                  sa.ForeignKey('saved_views.id', ondelete='SET NULL'), nullable=True),
        sa.Column('timezone', sa.String(64), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'dashboards',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('owner_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False, index=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('filters', sa.Text(), nullable=False, server_default=''),
        sa.Column('period', sa.String(30), nullable=True),
        *_sharing('dashboards'),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'dashboard_tiles',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('dashboard_id', sa.Integer(),
                  sa.ForeignKey('dashboards.id', ondelete='CASCADE'), nullable=False,
                  index=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('size', sa.String(1), nullable=False, server_default='M'),
        sa.Column('panel', sa.String(100), nullable=False),
        sa.Column('title', sa.String(200), nullable=True),
        sa.Column('filters', sa.Text(), nullable=True),
        sa.Column('period', sa.String(30), nullable=True),
        sa.Column('follow_dashboard', sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'annotations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('owner_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False, index=True),
        sa.Column('start_date', sa.Date(), nullable=False, index=True),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('text', sa.String(500), nullable=False),
        sa.Column('countries', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    for table in ('report_schedules', 'alert_rules'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('saved_view_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(f'fk_{table}_saved_view_id', 'saved_views',
                                     ['saved_view_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('report_schedules') as batch:
        batch.add_column(sa.Column('dashboard_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_report_schedules_dashboard_id', 'dashboards',
                                 ['dashboard_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('report_schedules') as batch:
        batch.drop_constraint('fk_report_schedules_dashboard_id', type_='foreignkey')
        batch.drop_column('dashboard_id')
    for table in ('alert_rules', 'report_schedules'):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'fk_{table}_saved_view_id', type_='foreignkey')
            batch.drop_column('saved_view_id')
    op.drop_table('annotations')
    op.drop_table('dashboard_tiles')
    op.drop_table('dashboards')
    op.drop_table('user_preferences')
    op.drop_table('saved_views')
