"""The app database: users, roles, tokens, data scopes, jobs, schedules, deliveries,
audit events and data loads. SQLAlchemy 2 ORM, independent of Flask so that workers and the
CLI use the same models. The schema is owned by the Alembic revisions in ``migrations/``.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("viewer", "analyst", "admin")
ROLE_RANK = {name: rank for rank, name in enumerate(ROLES)}

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
DELIVERY_STATUSES = ("queued", "rendered", "sent", "failed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict: sa.JSON, list: sa.JSON}


class Role(Base):
    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    description: Mapped[str] = mapped_column(sa.String(200))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(120))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.ForeignKey("roles.name"), default="viewer")
    is_active: Mapped[bool] = mapped_column(default=True)
    # bumped on deactivation, password change, role/scope change and sign-out: old sessions stop
    session_epoch: Mapped[int] = mapped_column(default=0)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
    password_changed_at: Mapped[dt.datetime | None]

    scope: Mapped["DataScope | None"] = relationship(
        back_populates="user", uselist=False, cascade="all, delete-orphan", lazy="joined")

    @property
    def countries(self) -> tuple[str, ...] | None:
        """ISO alpha-2 codes the user may see, or None for all data."""
        if self.scope is None or self.scope.countries is None:
            return None
        return tuple(self.scope.countries)

    def has_role(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]


class DataScope(Base):
    """What a user may see. No row (or countries NULL) means all data; an empty list means
    nothing."""
    __tablename__ = "data_scopes"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    countries: Mapped[list | None] = mapped_column(sa.JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    user: Mapped[User] = relationship(back_populates="scope")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="api")
    prefix: Mapped[str] = mapped_column(sa.String(16))        # shown to users, not secret
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 hex
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    user: Mapped[User] = relationship()


class PasswordReset(Base):
    __tablename__ = "password_resets"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class LoginThrottle(Base):
    """Failed sign-ins per key ("account:x@y" or "ip:1.2.3.4") in a sliding window."""
    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None]


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    scope: Mapped[list | None] = mapped_column(sa.JSON)  # countries at submission; None=all
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", index=True)
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(sa.String(500))
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    result_path: Mapped[str | None] = mapped_column(sa.String(500))
    error: Mapped[str | None] = mapped_column(sa.Text)
    data_version: Mapped[int | None]
    celery_task_id: Mapped[str | None] = mapped_column(sa.String(64))
    worker: Mapped[str | None] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    schedule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report_schedules.id"))
    sent_at: Mapped[dt.datetime | None]  # task last sent to the broker (core.jobs.enqueue)
    resends: Mapped[int] = mapped_column(default=0, server_default="0")  # by the reaper
    # one job per schedule run and recipient ("schedule:<id>:<run>:<recipient>")
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    user: Mapped[User | None] = relationship()


class ReportSchedule(Base):
    __tablename__ = "report_schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    format: Mapped[str] = mapped_column(sa.String(10))          # pdf | xlsx | both | digest
    frequency: Mapped[str] = mapped_column(sa.String(10))       # daily | weekly | monthly
    weekday: Mapped[int | None]                                 # 0 = Monday (weekly)
    day_of_month: Mapped[int | None]                            # 1–28 (monthly)
    time_of_day: Mapped[str] = mapped_column(sa.String(5), default="07:00")  # HH:MM local
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC",
                                          server_default="UTC")  # IANA name
    filters: Mapped[str] = mapped_column(sa.Text, default="")   # URL query string
    recipients: Mapped[list] = mapped_column(sa.JSON, default=list)  # user e-mails
    # addresses outside the users (admins only), rendered under external_scope
    external_recipients: Mapped[list | None] = mapped_column(sa.JSON)
    external_scope: Mapped[list | None] = mapped_column(sa.JSON)  # countries; None = all
    # follow a saved view: its filters (and rolling period) at each run
    saved_view_id: Mapped[int | None] = mapped_column(sa.ForeignKey(
        "saved_views.id", ondelete="SET NULL", name="fk_report_schedules_saved_view_id"))
    # send a dashboard as a PDF instead of the standard report
    dashboard_id: Mapped[int | None] = mapped_column(sa.ForeignKey(
        "dashboards.id", ondelete="CASCADE", name="fk_report_schedules_dashboard_id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[dt.datetime | None]
    next_run_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    owner: Mapped[User] = relationship()


class Delivery(Base):
    """The delivery ledger: one row per message to one recipient, of a report (``job_id``)
    or of an alert firing (``firing_id``), by e-mail (``recipient`` an address) or webhook
    (``recipient`` the URL). ``idempotency_key`` is unique: one message per run and
    recipient."""
    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str | None] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    firing_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alert_firings.id", ondelete="CASCADE", name="fk_deliveries_firing_id"),
        index=True)
    channel: Mapped[str] = mapped_column(sa.String(10), default="email",
                                         server_default="email")   # email | webhook
    recipient: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    message_path: Mapped[str | None] = mapped_column(sa.String(500))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    next_attempt_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[dt.datetime | None]


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor: Mapped[str | None] = mapped_column(sa.String(254))   # e-mail, "cli", "system"
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    target: Mapped[str | None] = mapped_column(sa.String(300))
    detail: Mapped[dict | None] = mapped_column(sa.JSON)
    ip: Mapped[str | None] = mapped_column(sa.String(64))


class DataLoad(Base):
    __tablename__ = "data_loads"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(sa.String(500))
    format: Mapped[str] = mapped_column(sa.String(30))
    mode: Mapped[str] = mapped_column(sa.String(10), default="replace")  # replace | append
    status: Mapped[str] = mapped_column(sa.String(20), default="running")
    version: Mapped[int | None]                   # the data version it published
    lines_read: Mapped[int | None]
    lines_loaded: Mapped[int | None]
    lines_rejected: Mapped[int | None]
    quality: Mapped[dict | None] = mapped_column(sa.JSON)
    rejects_path: Mapped[str | None] = mapped_column(sa.String(500))
    error: Mapped[str | None] = mapped_column(sa.Text)
    seconds: Mapped[float | None]
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


# ----------------------------------------------------------------- alerts (issue 13)
class AlertRule(Base):
    """An alert on one KPI under some filters, evaluated under its owner's data scope
    (``core.alerts``). ``kind`` "threshold": the KPI over the last ``days`` days is
    ``direction`` ("below" | "above") ``value``; "change": it moved ``direction`` ("down" |
    "up") by more than ``value`` % against the previous ``days`` days. ``armed`` is false
    once it fired, until its condition was false once (re-armed) or ``cooldown_hours``
    passed."""
    __tablename__ = "alert_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))            # threshold | change
    kpi: Mapped[str] = mapped_column(sa.String(40))             # analytics.catalog KPI name
    direction: Mapped[str] = mapped_column(sa.String(10))       # below|above / down|up
    value: Mapped[float] = mapped_column(sa.Float)              # threshold, or percent
    days: Mapped[int] = mapped_column(default=7)
    filters: Mapped[str] = mapped_column(sa.Text, default="")   # URL query string
    cooldown_hours: Mapped[int] = mapped_column(default=24)
    compare: Mapped[str] = mapped_column(sa.String(12), default="previous",
                                         server_default="previous")  # previous | last_year
    email: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    webhook_url: Mapped[str | None] = mapped_column(sa.String(1000))
    saved_view_id: Mapped[int | None] = mapped_column(sa.ForeignKey(
        "saved_views.id", ondelete="SET NULL", name="fk_alert_rules_saved_view_id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    armed: Mapped[bool] = mapped_column(default=True)
    snoozed_until: Mapped[dt.datetime | None]
    last_evaluated_at: Mapped[dt.datetime | None]
    last_fired_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    owner: Mapped[User] = relationship()


class AlertFiring(Base):
    """One firing of an alert rule: the numbers, the sentence and the explanation; how
    each message went is in its deliveries (``Delivery.firing_id``)."""
    __tablename__ = "alert_firings"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("alert_rules.id", ondelete="CASCADE"),
                                         index=True)
    fired_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    period_start: Mapped[dt.date | None]     # None for operational rules
    period_end: Mapped[dt.date | None]
    current: Mapped[float | None] = mapped_column(sa.Float)
    previous: Mapped[float | None] = mapped_column(sa.Float)
    sentence: Mapped[str] = mapped_column(sa.Text)
    explanation: Mapped[dict | None] = mapped_column(sa.JSON)
    data_version: Mapped[int | None]
    rule: Mapped[AlertRule] = relationship()


class Notification(Base):
    """What the navbar bell shows one user: an alert firing, a finished job, a failed
    delivery (``core.notifications``)."""
    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_created", "user_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))      # alert | job | delivery
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str | None] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.String(1000))
    ref: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]


# ----------------------------------------------------------------- views (issue 15)
class SavedView(Base):
    """Named filters for a page. ``period`` keeps a rolling period relative
    ("last_90_days", "this_month", "year_to_date", …: dates computed when the view is
    opened); ``filters`` holds the rest as a URL query string. ``sharing``: "private",
    "everyone" or "users" (``shared_with``: user ids); whoever opens it sees only their
    own scope."""
    __tablename__ = "saved_views"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name", name="uq_saved_views_owner_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    page: Mapped[str] = mapped_column(sa.String(100))
    filters: Mapped[str] = mapped_column(sa.Text, default="")
    period: Mapped[str | None] = mapped_column(sa.String(30))
    sharing: Mapped[str] = mapped_column(sa.String(10), default="private",
                                         server_default="private")
    shared_with: Mapped[list | None] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    owner: Mapped[User] = relationship()


class UserPreferences(Base):
    """One user's preferences: the view they land on, their time zone."""
    __tablename__ = "user_preferences"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    default_view_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("saved_views.id", ondelete="SET NULL"))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Dashboard(Base):
    """A user's page of pinned tiles, with its own filters the tiles may follow."""
    __tablename__ = "dashboards"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    filters: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    period: Mapped[str | None] = mapped_column(sa.String(30))
    sharing: Mapped[str] = mapped_column(sa.String(10), default="private",
                                         server_default="private")
    shared_with: Mapped[list | None] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    owner: Mapped[User] = relationship()
    tiles: Mapped[list["DashboardTile"]] = relationship(
        order_by="DashboardTile.position", cascade="all, delete-orphan",
        back_populates="dashboard")


class DashboardTile(Base):
    """One pinned panel (``panel``: a registered chart, KPI card or table) on a dashboard,
    at ``position``, size "S" | "M" | "L", following the dashboard's filters or its own."""
    __tablename__ = "dashboard_tiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    dashboard_id: Mapped[int] = mapped_column(
        sa.ForeignKey("dashboards.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    size: Mapped[str] = mapped_column(sa.String(1), default="M", server_default="M")
    panel: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[str | None] = mapped_column(sa.String(200))
    filters: Mapped[str | None] = mapped_column(sa.Text)
    period: Mapped[str | None] = mapped_column(sa.String(30))
    follow_dashboard: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    dashboard: Mapped[Dashboard] = relationship(back_populates="tiles")


class Annotation(Base):
    """A note on a date or a range ("price change", "site outage"), shown on time charts,
    in the PDF and the API. ``countries``: the scope it was written under (null = all
    data): a user sees the notes whose countries meet their scope."""
    __tablename__ = "annotations"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    start_date: Mapped[dt.date] = mapped_column(index=True)
    end_date: Mapped[dt.date | None]
    text: Mapped[str] = mapped_column(sa.String(500))
    countries: Mapped[list | None] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    owner: Mapped[User] = relationship()


# ------------------------------------------------ installation settings (issue 15)
class InstallationSetting(Base):
    """One setting of the whole installation an admin changed in the app (e.g.
    ``locale.currency``); a setting without a row takes its environment default."""
    __tablename__ = "installation_settings"
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))
    updated_by: Mapped[str | None] = mapped_column(sa.String(254))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
