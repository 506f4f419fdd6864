"""Report schedules: a report (PDF, Excel, both, or the weekly digest e-mail) of some
filters, sent daily, weekly or monthly at HH:MM in the schedule's time zone to a list of
recipients: active users of the app, and, added by an admin only, external addresses.

Each user recipient gets the report rendered under their OWN data scope (one job per
recipient), so a schedule can never show a recipient more than they may see. External
addresses get it under ``external_scope``, which the admin picks explicitly (countries, or
"all"); their jobs belong to the schedule's owner (the audit trail) and carry the address
in ``params["recipient"]``. Admins manage anybody's schedules; analysts manage their own,
sent to themselves only; any user (viewers too) may keep their own weekly digest
(``set_digest``).

Times: ``time_of_day`` is wall-clock time in ``timezone`` (an IANA name); ``next_run_at``
is stored as naive UTC and follows daylight saving time (a local time skipped by the
spring change runs at the next valid minute, one repeated in autumn runs once, at its
first occurrence).

Runs are idempotent: each run's job per recipient has the key
``schedule:<id>:<run time, YYYYmmddTHHMM>:<recipient>`` (unique in the jobs table), so two
beat ticks racing for one run, or a run taken up again, make one job per recipient.

A schedule may send a dashboard (``dashboard_id``) instead of the standard report: a PDF of
the dashboard's tiles (``core.dashboard_content``), built for each recipient under their
own scope and role by a ``dashboard_report`` job. Its owner and every recipient must be
able to open the dashboard when the schedule is saved; one who no longer can when it runs
(the dashboard was unshared) makes that recipient's run fail with the reason, shown with
the schedule's runs. Deleting the dashboard deletes the schedules that send it
(``core.dashboards.delete_dashboard``). Such a schedule has no filters of its own (the
dashboard keeps them), no saved view and no external recipients.

Services validate and change the session; the caller commits, then enqueues the jobs
returned by ``send_now`` / ``set_digest`` (the beat tick, ``run_due_schedules``, commits and
enqueues itself).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import zoneinfo
from typing import Annotated, Literal

import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics import countries
from analytics.errors import AccessDenied, InvalidInput, NotFound, format_validation_error
from analytics.filters import FilterError, Filters, Scope
from core import audit, dashboards, db, jobs, owned, users, views
from core.orm import Dashboard, Job, ReportSchedule, User, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
#: The days a run covers when the schedule keeps no dates (and follows no view with a
#: period): its own cadence, the latest day, 7 days or 30 days of the data.
RUN_DAYS = {"daily": 1, "weekly": 7, "monthly": 30}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_RECIPIENTS = 50
FORMATS = ("pdf", "xlsx", "both", "digest")
FORMAT_LABELS = {"pdf": "PDF", "xlsx": "Excel", "both": "PDF and Excel",
                 "digest": "weekly digest"}
#: Time zones offered by the Reports page (any IANA name is accepted).
COMMON_TIMEZONES = ("UTC", "Europe/London", "Europe/Dublin", "Europe/Paris",
                    "Europe/Berlin", "Europe/Madrid", "Europe/Amsterdam", "Europe/Stockholm",
                    "Europe/Athens", "America/New_York", "America/Chicago", "America/Denver",
                    "America/Los_Angeles", "America/Sao_Paulo", "Asia/Dubai", "Asia/Kolkata",
                    "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland")
#: The weekly digest a user switches on with one click: Monday 07:00 in their time zone
#: (London by default: the demo shop and the default currency are British).
DIGEST_NAME = "Weekly digest"
DIGEST_TIMEZONE = "Europe/London"
DIGEST_TIME = "07:00"
MAX_KEY = 200  # the jobs table's idempotency_key column


class ScheduleError(InvalidInput):
    """The schedule is invalid or the change is refused; the message says why."""


class ScheduleAccessDenied(AccessDenied, ScheduleError):
    """The actor may not see or change this schedule."""


class ScheduleNotFound(NotFound, ScheduleError):
    """No schedule with this id."""


def zone_of(name: str | None) -> zoneinfo.ZoneInfo:
    """The time zone ``name`` (an IANA name such as Europe/London); ScheduleError when
    there is none by that name."""
    try:
        return zoneinfo.ZoneInfo(str(name or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(f"timezone: unknown time zone {name!r}; use an IANA name such "
                            "as Europe/London or America/New_York") from None


class ScheduleInput(pydantic.BaseModel):
    """What a user sets on a schedule. ``external_scope`` is None while not picked,
    "all" for all data, or a list of ISO country codes."""
    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, pydantic.Field(min_length=1, max_length=200)]
    format: Literal[FORMATS] = "pdf"  # type: ignore[valid-type]
    frequency: Literal["daily", "weekly", "monthly"] = "weekly"
    weekday: Annotated[int, pydantic.Field(ge=0, le=6)] | None = None
    day_of_month: Annotated[int, pydantic.Field(ge=1, le=28)] | None = None
    time_of_day: str = "07:00"
    timezone: Annotated[str, pydantic.Field(max_length=64)] = "UTC"
    filters: Annotated[str, pydantic.Field(max_length=4000)] = ""
    recipients: Annotated[list[str], pydantic.Field(max_length=MAX_RECIPIENTS)] = []
    external_recipients: Annotated[list[str], pydantic.Field(max_length=MAX_RECIPIENTS)] = []
    external_scope: list[str] | str | None = None
    # follow a saved view: its filters, with a relative period's dates computed at each run
    saved_view_id: int | None = None
    # send this dashboard as a PDF instead of the standard report
    dashboard_id: Annotated[int, pydantic.Field(ge=1, le=2**31 - 1)] | None = None
    is_active: bool = True

    @pydantic.field_validator("time_of_day")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError("must be a time written HH:MM (24-hour clock)")
        return value

    @pydantic.field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value) -> str:
        name = str(value or "UTC").strip()
        try:
            zone_of(name)
        except ScheduleError:
            raise ValueError(f"unknown time zone {name!r}; use an IANA name such as "
                             "Europe/London or America/New_York") from None
        return name

    @pydantic.field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value) -> str:
        if isinstance(value, Filters):
            return value.to_query()
        if isinstance(value, dict):
            value = Filters.from_query(value).to_query()
        try:
            return Filters.from_query(str(value or "")).to_query()
        except FilterError as exc:
            raise ValueError(str(exc)) from None

    @pydantic.field_validator("external_scope", mode="before")
    @classmethod
    def _external_scope(cls, value):
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lower() in ("all", "*"):
            return "all"
        try:
            codes = users.parse_countries(value)
        except users.UserError as exc:
            raise ValueError(str(exc)) from None
        if not codes:
            raise ValueError("pick the countries external recipients see, or 'all'")
        return list(codes)

    @pydantic.model_validator(mode="after")
    def _day(self) -> ScheduleInput:
        if self.frequency == "weekly":
            if self.weekday is None:
                self.weekday = 0
            self.day_of_month = None
        elif self.frequency == "monthly":
            if self.day_of_month is None:
                self.day_of_month = 1
            self.weekday = None
        else:
            self.weekday = self.day_of_month = None
        return self

    def row_values(self) -> dict:
        """The columns of a ``ReportSchedule`` ("all" is stored as None = all data)."""
        values = self.model_dump()
        scope = values.pop("external_scope")
        values["external_scope"] = (None if scope == "all" or not self.external_recipients
                                    else scope)
        return values


def _input_of(schedule: ReportSchedule) -> dict:
    """A stored schedule as ``ScheduleInput`` data (for a change of some of its fields)."""
    values = {name: getattr(schedule, name) for name in ScheduleInput.model_fields}
    values["recipients"] = list(schedule.recipients or [])
    values["external_recipients"] = list(schedule.external_recipients or [])
    values["timezone"] = schedule.timezone or "UTC"
    if values["external_recipients"] and schedule.external_scope is None:
        values["external_scope"] = "all"
    return values


# ----------------------------------------------------------------- timing
def next_run_at(schedule: ReportSchedule | ScheduleInput, after: dt.datetime) -> dt.datetime:
    """The first run time strictly after ``after``, both naive UTC: the schedule's
    wall-clock time in its time zone on its next matching local day."""
    zone = zone_of(getattr(schedule, "timezone", None) or "UTC")
    hour, minute = (int(part) for part in schedule.time_of_day.split(":"))
    local_today = after.replace(tzinfo=dt.UTC).astimezone(zone).date()
    day = local_today - dt.timedelta(days=1)
    for _ in range(64):
        if _runs_on(schedule, day):
            candidate = utc_of(day, hour, minute, zone)
            if candidate > after:
                return candidate
        day += dt.timedelta(days=1)
    raise ScheduleError("the schedule never runs")  # unreachable for valid schedules


def utc_of(day: dt.date, hour: int, minute: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """Naive UTC of the wall-clock time ``hour:minute`` on ``day`` in ``zone``. A time the
    clocks skip (spring forward) becomes the next minute that exists; a time they repeat
    (fall back) its first occurrence (``fold=0``)."""
    wall = dt.datetime.combine(day, dt.time(hour, minute))
    for _ in range(24 * 60):  # a gap is an hour or two; a day bounds the search
        utc = wall.replace(tzinfo=zone).astimezone(dt.UTC)
        if utc.astimezone(zone).replace(tzinfo=None) == wall:
            return utc.replace(tzinfo=None)
        wall += dt.timedelta(minutes=1)
    raise ScheduleError(f"no valid local time on {day} in {zone.key}")


def local_time(value: dt.datetime | None, timezone: str | None) -> dt.datetime | None:
    """Naive UTC ``value`` as an aware time in ``timezone`` (for showing a next run)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(zone_of(timezone or "UTC"))


def _runs_on(schedule, day: dt.date) -> bool:
    if schedule.frequency == "weekly":
        return day.weekday() == schedule.weekday
    if schedule.frequency == "monthly":
        return day.day == schedule.day_of_month
    return True


def describe(schedule: ReportSchedule | ScheduleInput) -> str:
    """"every Monday at 07:00 Europe/London" and so on."""
    if schedule.frequency == "weekly":
        when = f"every {WEEKDAYS[schedule.weekday or 0]}"
    elif schedule.frequency == "monthly":
        when = f"on day {schedule.day_of_month} of every month"
    else:
        when = "every day"
    return f"{when} at {schedule.time_of_day} {getattr(schedule, 'timezone', None) or 'UTC'}"


def external_scope_label(schedule: ReportSchedule) -> str | None:
    """"External recipients see: FR, DE" (None when the schedule has no external one)."""
    if not schedule.external_recipients:
        return None
    scope = schedule.external_scope
    return "External recipients see: " + (", ".join(scope) if scope is not None
                                           else "all data")


def run_key(schedule_id: int, run_at: dt.datetime, recipient: str) -> str:
    """The idempotency key of one run's job for one recipient (a long address is
    shortened with a digest so the key fits its column)."""
    key = f"schedule:{schedule_id}:{run_at:%Y%m%dT%H%M}:{recipient}"
    if len(key) > MAX_KEY:
        digest = hashlib.sha256(key.encode()).hexdigest()[:40]
        key = key[:MAX_KEY - 41] + ":" + digest
    return key


# ----------------------------------------------------------------- services
def _validate(session: Session, actor: User, data: dict, owner: User) -> ScheduleInput:
    if not actor.is_active:
        raise ScheduleAccessDenied("your account is not active")
    try:
        values = ScheduleInput.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ScheduleError(format_validation_error(exc, subject="schedule")) from None
    own_digest = (values.format == "digest" and owner.id == actor.id)
    if not actor.has_role("analyst") and not own_digest:
        raise ScheduleAccessDenied("report schedules need the analyst or admin role "
                                   "(every user may switch on their own weekly digest)")
    emails = _addresses(values.recipients)
    externals = _addresses(values.external_recipients, external=True)
    if not emails and not externals:
        raise ScheduleError("recipients: a schedule needs at least one recipient (a user, "
                            "or an external address added by an admin)")
    if not actor.has_role("admin") and owner.id != actor.id:
        raise ScheduleAccessDenied("this schedule belongs to another user")
    found = {user.email: user for user in session.scalars(
        sa.select(User).where(User.email.in_(emails + externals)))}
    unknown = [email for email in emails if email not in found or not found[email].is_active]
    if unknown:
        raise ScheduleError("recipients must be active users of Shoplens: "
                            + ", ".join(unknown)
                            + (" (an admin may add other addresses as external recipients)"))
    if not actor.has_role("admin") and (emails != [actor.email] or externals):
        if externals:
            raise ScheduleAccessDenied("only admins can send reports outside Shoplens")
        raise ScheduleAccessDenied("analysts can schedule reports for themselves only; "
                                   "ask an admin to send reports to others")
    if externals:
        users_among = [email for email in externals if email in found]
        if users_among:
            raise ScheduleError(f"{', '.join(users_among)}: a user of Shoplens is a "
                                "recipient, not an external one (they then see the report "
                                "under their own data scope)")
        if values.external_scope is None:
            raise ScheduleError("external_scope: pick the data external recipients see: a "
                                "list of countries, or 'all'")
        _check_external_scope(actor, values)
        _check_external_filters(values)
    if values.saved_view_id is not None:
        _check_saved_view(session, owner, values)
    if values.dashboard_id is not None:
        _check_dashboard(session, owner, values, [found[email] for email in emails])
    values.recipients = emails
    values.external_recipients = externals
    return values


def _check_saved_view(session: Session, owner: User, values: ScheduleInput) -> None:
    """A schedule follows a view its owner may open (their own or one shared with them);
    its own filters are then the view's, read at each run (``core.views.query_for_run``),
    so it keeps none of its own."""
    try:
        view = views.get_view(session, owner, values.saved_view_id)
    except views.ViewNotFound:
        raise ScheduleError(f"saved_view_id: there is no saved view {values.saved_view_id} "
                            "that the schedule's owner may open") from None
    if values.filters:
        raise ScheduleError("a schedule follows a saved view or keeps its own filters, not "
                            f"both: leave filters empty to follow “{view.name}”")


def _check_dashboard(session: Session, owner: User, values: ScheduleInput,
                     recipients: list[User]) -> None:
    """A schedule sends a dashboard its owner and EVERY recipient may open (the owner's,
    shared with everyone, or with each of them): each then reads it under their own scope
    and role. The dashboard keeps its own filters; it goes to users only, as a PDF."""
    try:
        dashboard = dashboards.get_dashboard(session, owner, values.dashboard_id)
    except dashboards.DashboardNotFound:
        raise ScheduleError(f"dashboard_id: there is no dashboard {values.dashboard_id} "
                            "that the schedule's owner may open") from None
    if values.format != "pdf":
        raise ScheduleError(f"format: a dashboard is sent as a PDF, not as "
                            f"{FORMAT_LABELS[values.format]}")
    if values.filters or values.saved_view_id is not None:
        raise ScheduleError(f"the dashboard “{dashboard.name}” keeps its own filters: leave "
                            "the schedule's filters and saved view empty")
    if values.external_recipients:
        raise ScheduleError("external_recipients: a dashboard is sent to users of Shoplens "
                            "only (each sees it under their own data scope)")
    blind = dashboards.blind_readers(dashboard, recipients)
    if blind:
        raise ScheduleAccessDenied(
            f"recipients: {', '.join(user.email for user in blind)} cannot open the "
            f"dashboard “{dashboard.name}”; share it with them first")


def _addresses(texts: list[str], external: bool = False) -> list[str]:
    """Trimmed, lower-cased, without repeats; external ones must be e-mail addresses."""
    emails: list[str] = []
    for text in texts:
        email = str(text).strip().lower()
        if external and email:
            try:
                email = users.normalise_email(email)
            except users.UserError:
                raise ScheduleError(f"external_recipients: {text!r} is not an e-mail "
                                    "address") from None
        if email and email not in emails:
            emails.append(email)
    return emails


def _check_external_scope(actor: User, values: ScheduleInput) -> None:
    """An admin with a data scope cannot show outsiders more than they may see."""
    if actor.countries is None:
        return
    allowed = set(actor.countries)
    picked = values.external_scope
    if picked == "all" or not set(picked) <= allowed:
        raise ScheduleAccessDenied(
            "external_scope: external recipients cannot see more than you; your data "
            f"scope is {', '.join(sorted(allowed)) or 'no data'}")


def _check_external_filters(values: ScheduleInput) -> None:
    """A country filter must lie inside what external recipients see (their scope already
    narrows the report; a filter outside it would be a report of nothing, or a leak)."""
    if values.external_scope in (None, "all"):
        return
    scope = set(values.external_scope)
    named = Filters.from_query(values.filters or "").countries
    outside = [name for name in named
               if (countries.country_code(name) or str(name).upper()) not in scope]
    if outside:
        raise ScheduleAccessDenied(
            f"the filters reach beyond what external recipients see "
            f"({', '.join(values.external_scope)}): country {', '.join(outside)}")


def create_schedule(session: Session, actor: User, data: dict, *,
                    owner: User | None = None, now: dt.datetime | None = None
                    ) -> ReportSchedule:
    """Create a schedule owned by ``owner`` (default: the actor; only admins may create one
    for someone else). The caller commits."""
    owner = owner or actor
    values = _validate(session, actor, data, owner)
    schedule = ReportSchedule(owner_id=owner.id, **values.row_values())
    schedule.next_run_at = next_run_at(values, now or utcnow()) if values.is_active else None
    session.add(schedule)
    session.flush()
    audit.record(session, "schedule_changed", actor=actor, target=str(schedule.id),
                 detail={"change": "created", "name": schedule.name,
                         "external_recipients": len(values.external_recipients)})
    return schedule


def get_schedule(session: Session, actor: User, schedule_id: int) -> ReportSchedule:
    """The schedule, for its owner or an admin."""
    return owned.get(session, actor, ReportSchedule, schedule_id, not_found=ScheduleNotFound,
                     denied=ScheduleAccessDenied, noun="report schedule")


def list_schedules(session: Session, actor: User) -> list[ReportSchedule]:
    """The actor's schedules (all of them for an admin)."""
    return owned.listed(session, actor, ReportSchedule)


def update_schedule(session: Session, actor: User, schedule_id: int, changes: dict, *,
                    now: dt.datetime | None = None) -> ReportSchedule:
    """Change some fields of a schedule; the next run is recomputed. The caller commits."""
    schedule = get_schedule(session, actor, schedule_id)
    values = _validate(session, actor, {**_input_of(schedule), **changes}, schedule.owner)
    for name, value in values.row_values().items():
        setattr(schedule, name, value)
    schedule.next_run_at = next_run_at(values, now or utcnow()) if values.is_active else None
    audit.record(session, "schedule_changed", actor=actor, target=str(schedule.id),
                 detail={"change": "updated", "fields": sorted(changes)})
    return schedule


def delete_schedule(session: Session, actor: User, schedule_id: int) -> None:
    """Delete a schedule (its past jobs stay, unlinked). The caller commits."""
    schedule = get_schedule(session, actor, schedule_id)
    session.execute(sa.update(Job).where(Job.schedule_id == schedule.id)
                    .values(schedule_id=None))
    audit.record(session, "schedule_changed", actor=actor, target=str(schedule.id),
                 detail={"change": "deleted", "name": schedule.name})
    session.delete(schedule)
    session.flush()


def digest_of(session: Session, user: User) -> ReportSchedule | None:
    """The user's own weekly digest schedule, when they have one."""
    return session.scalars(sa.select(ReportSchedule).where(
        ReportSchedule.owner_id == user.id, ReportSchedule.format == "digest")
        .order_by(ReportSchedule.id)).first()


def set_digest(session: Session, actor: User, enabled: bool, *,
               timezone: str | None = None, now: dt.datetime | None = None
               ) -> ReportSchedule | None:
    """Switch the actor's weekly digest on (made on first use: every Monday at 07:00 in
    ``timezone``, default DIGEST_TIMEZONE, to the actor alone, under their scope) or off
    (paused, kept). Any active user may; returns the schedule (None: off and never made).
    The caller commits."""
    schedule = digest_of(session, actor)
    if schedule is None:
        if not enabled:
            return None
        return create_schedule(session, actor, {
            "name": DIGEST_NAME, "format": "digest", "frequency": "weekly", "weekday": 0,
            "time_of_day": DIGEST_TIME, "timezone": timezone or DIGEST_TIMEZONE,
            "recipients": [actor.email]}, now=now)
    changes: dict = {"is_active": bool(enabled)}
    if timezone:
        changes["timezone"] = timezone
    return update_schedule(session, actor, schedule.id, changes, now=now)


def send_now(session: Session, actor: User, schedule_id: int,
             now: dt.datetime | None = None) -> list[Job]:
    """Start the schedule's reports now (its regular timing is unchanged). The run is the
    current minute: a second click within it starts nothing more. The caller commits,
    then calls ``jobs.enqueue`` for each job returned."""
    schedule = get_schedule(session, actor, schedule_id)
    made = _jobs_for(session, schedule, (now or utcnow()).replace(second=0, microsecond=0))
    audit.record(session, "report_requested", actor=actor, target=f"schedule:{schedule.id}",
                 detail={"send_now": True, "jobs": [job.id for job in made]})
    return made


def _jobs_for(session: Session, schedule: ReportSchedule, run_at: dt.datetime) -> list[Job]:
    """The run's jobs: one per active user recipient under the recipient's own scope, one
    per external address under ``external_scope`` (owned by the schedule's owner). A job
    whose key exists already (the run was started before) is not made again."""
    made: list[Job] = []
    common = {"schedule_id": schedule.id, "format": schedule.format,
              "filters": schedule.filters or "", "title": schedule.name,
              "saved_view_id": schedule.saved_view_id,
              "period_days": RUN_DAYS.get(schedule.frequency),
              "dashboard_id": schedule.dashboard_id}
    for email in schedule.recipients or []:
        recipient = session.scalar(sa.select(User).where(User.email == email))
        if recipient is None or not recipient.is_active:
            log.warning("schedule %s: recipient %s is not an active user; skipped",
                        schedule.id, email)
            continue
        made.append(jobs.add_scheduled_report(
            session, recipient, **common, idempotency_key=run_key(schedule.id, run_at, email)))
    owner = schedule.owner
    if schedule.external_recipients and not (owner.is_active and owner.has_role("admin")):
        log.warning("schedule %s: its owner %s is no longer an active admin; external "
                    "recipients skipped", schedule.id, owner.email)
    elif schedule.external_recipients:
        scope = external_run_scope(schedule)
        for address in schedule.external_recipients:
            made.append(jobs.add_scheduled_report(
                session, owner, **common, scope=scope, recipient=address,
                idempotency_key=run_key(schedule.id, run_at, address)))
    return [job for job in made if job is not None]


def external_run_scope(schedule: ReportSchedule) -> Scope:
    """What a run shows external recipients: ``external_scope``, within the owner's
    CURRENT scope (an owner whose scope was narrowed since cannot send more)."""
    picked = schedule.external_scope
    owned_countries = schedule.owner.countries
    if owned_countries is None:
        return Scope.of(picked)
    if picked is None:
        return Scope.of(owned_countries)
    return Scope.of(set(picked) & set(owned_countries))


def run_due_schedules(settings: Settings, now: dt.datetime | None = None) -> list[str]:
    """The beat tick: start every active schedule whose next run is due, move its next
    run forward, commit, and enqueue the jobs. Returns the job ids."""
    now = now or utcnow()
    started: list[str] = []
    with db.session_scope(settings.database_url) as session:
        due = session.scalars(sa.select(ReportSchedule).where(
            ReportSchedule.is_active.is_(True), ReportSchedule.next_run_at <= now)
            .order_by(ReportSchedule.next_run_at)).all()
        for schedule in due:
            run_at = schedule.next_run_at
            # claim the run: a second tick racing this one sees next_run_at moved and skips
            claimed = session.execute(
                sa.update(ReportSchedule)
                .where(ReportSchedule.id == schedule.id,
                       ReportSchedule.next_run_at == run_at)
                .values(last_run_at=now, next_run_at=next_run_at(schedule, now))
                .execution_options(synchronize_session=False)).rowcount
            if not claimed:
                continue
            made = _jobs_for(session, schedule, run_at)
            started.extend(job.id for job in made)
            log.info("schedule %s (%s) started %s report job(s)", schedule.id,
                     schedule.name, len(made))
    for job_id in started:
        try:
            jobs.enqueue(settings, job_id)
        except jobs.QueueUnavailable:  # the job is failed with the reason; the next tick runs
            log.exception("scheduled report job %s could not be queued", job_id)
    return started


def schedule_to_dict(schedule: ReportSchedule) -> dict:
    """The schedule as the API and the pages show it (``next_run_local``: the next run in
    the schedule's time zone, ISO 8601 with its offset)."""
    local = local_time(schedule.next_run_at, schedule.timezone)
    dashboard = _dashboard_of(schedule)
    return {"id": schedule.id, "name": schedule.name, "owner": schedule.owner.email,
            "format": schedule.format, "frequency": schedule.frequency,
            "weekday": schedule.weekday, "day_of_month": schedule.day_of_month,
            "time_of_day": schedule.time_of_day, "timezone": schedule.timezone or "UTC",
            "filters": schedule.filters,
            "recipients": list(schedule.recipients or []),
            "external_recipients": list(schedule.external_recipients or []),
            "external_scope": (list(schedule.external_scope)
                               if schedule.external_scope is not None else
                               ("all" if schedule.external_recipients else None)),
            "external_scope_label": external_scope_label(schedule),
            "saved_view_id": schedule.saved_view_id,
            "dashboard_id": schedule.dashboard_id,
            "dashboard_name": dashboard.name if dashboard is not None else None,
            "dashboard_problem": dashboard_problem(schedule),
            "is_active": schedule.is_active,
            "description": describe(schedule),
            "last_run_at": _iso(schedule.last_run_at), "next_run_at": _iso(schedule.next_run_at),
            "next_run_local": local.isoformat(timespec="minutes") if local else None}


def _dashboard_of(schedule: ReportSchedule) -> Dashboard | None:
    session = sa.orm.object_session(schedule)
    if schedule.dashboard_id is None or session is None:
        return None
    return session.get(Dashboard, schedule.dashboard_id)


def dashboard_problem(schedule: ReportSchedule) -> str | None:
    """Why the dashboard this schedule sends cannot reach someone now (its owner or a
    recipient can no longer open it: their run fails with this reason); None when all is
    well or the schedule sends the standard report."""
    if schedule.dashboard_id is None:
        return None
    dashboard = _dashboard_of(schedule)
    if dashboard is None:
        return f"The dashboard {schedule.dashboard_id} this schedule sends was deleted."
    session = sa.orm.object_session(schedule)
    readers = [schedule.owner] + list(session.scalars(sa.select(User).where(
        User.email.in_(list(schedule.recipients or [])))))
    blind = dashboards.blind_readers(dashboard, readers)
    if not blind:
        return None
    return (f"The dashboard “{dashboard.name}” is no longer shared with "
            f"{', '.join(user.email for user in blind)}: their runs fail until it is "
            "shared with them again or they are removed from the recipients.")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None
