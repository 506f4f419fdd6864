"""Report schedules: a report (PDF or Excel) of some filters, e-mailed daily, weekly or
monthly at HH:MM UTC to a list of recipients (active users of the app).

Each recipient gets the report rendered under their OWN data scope (one
``scheduled_report`` job per recipient), so a schedule can never show a recipient more than
they may see. Admins manage anybody's schedules; analysts manage their own, sent to
themselves only. Services validate and change the session; the caller commits, then
enqueues the jobs returned by ``send_now`` (the beat tick, ``run_due_schedules``, commits
and enqueues itself).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Annotated, Literal

import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics.errors import AccessDenied, InvalidInput, NotFound, format_validation_error
from analytics.filters import FilterError, Filters
from core import audit, db, jobs, owned
from core.orm import Job, ReportSchedule, User, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_RECIPIENTS = 50


class ScheduleError(InvalidInput):
    """The schedule is invalid or the change is refused; the message says why."""


class ScheduleAccessDenied(AccessDenied, ScheduleError):
    """The actor may not see or change this schedule."""


class ScheduleNotFound(NotFound, ScheduleError):
    """No schedule with this id."""


class ScheduleInput(pydantic.BaseModel):
    """What a user sets on a schedule."""
    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, pydantic.Field(min_length=1, max_length=200)]
    format: Literal["pdf", "xlsx"] = "pdf"
    frequency: Literal["daily", "weekly", "monthly"] = "weekly"
    weekday: Annotated[int, pydantic.Field(ge=0, le=6)] | None = None
    day_of_month: Annotated[int, pydantic.Field(ge=1, le=28)] | None = None
    time_of_day: str = "07:00"
    filters: Annotated[str, pydantic.Field(max_length=4000)] = ""
    recipients: Annotated[list[str], pydantic.Field(min_length=1,
                                                     max_length=MAX_RECIPIENTS)]
    is_active: bool = True

    @pydantic.field_validator("time_of_day")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError("must be a time written HH:MM (24-hour clock, UTC)")
        return value

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

    @pydantic.model_validator(mode="after")
    def _day(self) -> "ScheduleInput":
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


# ----------------------------------------------------------------- timing
def next_run_at(schedule: ReportSchedule | ScheduleInput, after: dt.datetime) -> dt.datetime:
    """The first run time strictly after ``after`` (naive UTC)."""
    hour, minute = (int(part) for part in schedule.time_of_day.split(":"))
    day = after.date()
    for _ in range(62):
        candidate = dt.datetime.combine(day, dt.time(hour, minute))
        if candidate > after and _runs_on(schedule, day):
            return candidate
        day += dt.timedelta(days=1)
    raise ScheduleError("the schedule never runs")  # unreachable for valid schedules


def _runs_on(schedule, day: dt.date) -> bool:
    if schedule.frequency == "weekly":
        return day.weekday() == schedule.weekday
    if schedule.frequency == "monthly":
        return day.day == schedule.day_of_month
    return True


def describe(schedule: ReportSchedule) -> str:
    """"Every Monday at 07:00 UTC" and so on."""
    if schedule.frequency == "weekly":
        when = f"every {WEEKDAYS[schedule.weekday or 0]}"
    elif schedule.frequency == "monthly":
        when = f"on day {schedule.day_of_month} of every month"
    else:
        when = "every day"
    return f"{when} at {schedule.time_of_day} UTC"


# ----------------------------------------------------------------- services
def _validate(session: Session, actor: User, data: dict, owner: User) -> ScheduleInput:
    if not actor.is_active or not actor.has_role("analyst"):
        raise ScheduleAccessDenied("report schedules need the analyst or admin role")
    try:
        values = ScheduleInput.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ScheduleError(format_validation_error(exc, subject="schedule")) from None
    emails = []
    for text in values.recipients:
        email = str(text).strip().lower()
        if email and email not in emails:
            emails.append(email)
    if not emails:
        raise ScheduleError("a schedule needs at least one recipient")
    users = {user.email: user for user in session.scalars(
        sa.select(User).where(User.email.in_(emails)))}
    unknown = [email for email in emails if email not in users or not users[email].is_active]
    if unknown:
        raise ScheduleError("recipients must be active users of Shoplens: "
                            + ", ".join(unknown))
    if not actor.has_role("admin") and emails != [actor.email]:
        raise ScheduleAccessDenied("analysts can schedule reports for themselves only; "
                                   "ask an admin to send reports to others")
    if not actor.has_role("admin") and owner.id != actor.id:
        raise ScheduleAccessDenied("this schedule belongs to another user")
    values.recipients = emails
    return values


def create_schedule(session: Session, actor: User, data: dict, *,
                    owner: User | None = None, now: dt.datetime | None = None
                    ) -> ReportSchedule:
    """Create a schedule owned by ``owner`` (default: the actor; only admins may create one
    for someone else). The caller commits."""
    owner = owner or actor
    values = _validate(session, actor, data, owner)
    schedule = ReportSchedule(owner_id=owner.id, **values.model_dump())
    schedule.next_run_at = next_run_at(values, now or utcnow()) if values.is_active else None
    session.add(schedule)
    session.flush()
    audit.record(session, "schedule_changed", actor=actor, target=str(schedule.id),
                 detail={"change": "created", "name": schedule.name})
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
    current = {name: getattr(schedule, name) for name in ScheduleInput.model_fields}
    values = _validate(session, actor, {**current, **changes}, schedule.owner)
    for name, value in values.model_dump().items():
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


def send_now(session: Session, actor: User, schedule_id: int) -> list[Job]:
    """Start the schedule's reports now (its regular timing is unchanged). The caller
    commits, then calls ``jobs.enqueue`` for each job returned."""
    schedule = get_schedule(session, actor, schedule_id)
    made = _jobs_for(session, schedule)
    audit.record(session, "report_requested", actor=actor, target=f"schedule:{schedule.id}",
                 detail={"send_now": True, "jobs": [job.id for job in made]})
    return made


def _jobs_for(session: Session, schedule: ReportSchedule) -> list[Job]:
    """One job per active recipient, each under the recipient's own scope."""
    made = []
    for email in schedule.recipients or []:
        recipient = session.scalar(sa.select(User).where(User.email == email))
        if recipient is None or not recipient.is_active:
            log.warning("schedule %s: recipient %s is not an active user; skipped",
                        schedule.id, email)
            continue
        made.append(jobs.add_scheduled_report(session, recipient, schedule.id,
                                              schedule.format, schedule.filters or "",
                                              title=schedule.name))
    return made


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
            # claim the run: a second tick racing this one sees next_run_at moved and skips
            claimed = session.execute(
                sa.update(ReportSchedule)
                .where(ReportSchedule.id == schedule.id,
                       ReportSchedule.next_run_at == schedule.next_run_at)
                .values(last_run_at=now, next_run_at=next_run_at(schedule, now))
                .execution_options(synchronize_session=False)).rowcount
            if not claimed:
                continue
            made = _jobs_for(session, schedule)
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
    """The schedule as the API and the admin page show it."""
    return {"id": schedule.id, "name": schedule.name, "owner": schedule.owner.email,
            "format": schedule.format, "frequency": schedule.frequency,
            "weekday": schedule.weekday, "day_of_month": schedule.day_of_month,
            "time_of_day": schedule.time_of_day, "filters": schedule.filters,
            "recipients": list(schedule.recipients or []), "is_active": schedule.is_active,
            "description": describe(schedule),
            "last_run_at": _iso(schedule.last_run_at), "next_run_at": _iso(schedule.next_run_at)}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None
