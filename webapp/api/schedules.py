"""The API of report schedules (``core.schedules``): list, create, read, change, delete and
send now. Analyst role; admins manage anybody's schedules and send to any active user and
to external addresses (under the scope they pick), analysts manage their own, sent to
themselves only (the engine's rules). Each recipient gets the report under their own data
scope, and a filter naming a value that a recipient (or the external scope) cannot see is
refused (it would not widen their scope, but it would tell them nothing). Any signed-in
user, viewers too, switches their own weekly digest on or off (``POST
/schedules/digest``).

The helpers here (``check_recipient_scopes``, ``schedule_view``, ``mail_destination``,
``start_jobs``) are shared with the CLI (``webapp.cli_schedules``) and the Reports page."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics import countries, filter_values
from analytics.filters import Filters, Scope
from core import jobs, schedules, users
from core.orm import Delivery, Job, ReportSchedule
from core.settings import Settings
from webapp import services
from webapp.api import payloads
from webapp.api.routing import ApiError, endpoint
from webapp.security import current_db_user, db_session

ROLE = "analyst"
ERRORS = (400, 401, 403, 404)
RUNS_SHOWN = 10


# ---------------------------------------------------------------------- shared helpers
def mail_destination(settings: Settings) -> str:
    """Where report e-mails go: the SMTP server, or the outbox folder without SMTP_HOST."""
    if settings.smtp_host:
        return f"sent through the SMTP server {settings.smtp_host}:{settings.smtp_port}"
    return (f"no SMTP_HOST is set: e-mails are written as .eml files to the outbox folder "
            f"{settings.outbox}")


def check_recipient_scopes(session: Session, warehouse, filters: str,
                           recipients: list[str], external_scope=False) -> None:
    """Refuse filters naming a value that some recipient's data scope does not have
    (``analytics.filter_values``): ScheduleError naming the recipient and the value.
    ``external_scope`` (countries, "all" or None; False: no external recipients) is
    checked the same way, for the external recipients."""
    parsed = Filters.from_query(filters or "")
    checked = []
    for email in recipients:
        user = users.find_user(session, str(email).strip().lower())
        if user is not None:  # the engine refuses unknown recipients with its own message
            checked.append((f"recipient {user.email}", users.user_scope(user)))
    if external_scope is not False and external_scope is not None and external_scope != "all":
        try:
            codes = users.parse_countries(external_scope)
        except users.UserError as exc:
            raise schedules.ScheduleError(f"external_scope: {exc}") from None
        checked.append(("the external recipients", Scope.of(codes)))
    for who, scope in checked:
        try:
            filter_values.resolve(warehouse, parsed, scope)
        except filter_values.UnknownFilterValues as exc:
            raise schedules.ScheduleError(
                f"the filters reach beyond the data scope of {who}: {exc}") from None
        if warehouse.current_version() is None and not scope.is_all:
            # no data to check against yet: at least a country the scope leaves out
            outside = [name for name in parsed.countries
                       if (countries.country_code(name) or name.upper()) not in scope.countries]
            if outside:
                raise schedules.ScheduleError(
                    f"the filters reach beyond the data scope of {who} "
                    f"({scope}): country {', '.join(outside)}")


def runs_of(session: Session, schedule_id: int, limit: int = RUNS_SHOWN) -> list[dict]:
    """The schedule's newest report jobs with their delivery state from the ledger:
    queued → rendered → sent, or failed with the reason (a job that failed before its
    e-mail was rendered shows the job's error). ``eml``: the download of a message written
    to the outbox folder (no SMTP server)."""
    found = session.scalars(sa.select(Job).where(Job.schedule_id == schedule_id)
                            .order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)).all()
    runs = []
    for job in found:
        delivery = session.scalars(sa.select(Delivery).where(Delivery.job_id == job.id)
                                   .order_by(Delivery.id.desc())).first()
        eml = None
        if delivery is not None:
            state, reason = delivery.status, delivery.last_error
            sent_at = (delivery.sent_at.isoformat(timespec="seconds") + "Z"
                       if delivery.sent_at else None)
            if delivery.message_path:
                eml = f"/api/v1/deliveries/{delivery.id}/eml"
        else:
            state = {"done": "rendered"}.get(job.status, job.status)
            reason, sent_at = (job.error or job.message if job.status == "failed"
                               else None), None
        recipient = (job.params or {}).get("recipient") or (job.user.email if job.user
                                                            else None)
        runs.append({"job_id": job.id, "recipient": recipient,
                     "created_at": job.created_at.isoformat(timespec="seconds") + "Z",
                     "state": state, "reason": reason, "sent_at": sent_at,
                     "delivery_id": delivery.id if delivery is not None else None,
                     "eml": eml})
    return runs


def schedule_view(session: Session, schedule: ReportSchedule) -> dict:
    """The schedule as the API, the CLI and the page show it, with its newest runs."""
    return {**schedules.schedule_to_dict(schedule), "runs": runs_of(session, schedule.id)}


def start_jobs(settings: Settings, ids: list[str]) -> tuple[list[str], str | None]:
    """Send the (committed) jobs to the queue; returns their ids and, when the queue is
    unreachable, its message (the jobs are then failed with the reason)."""
    problem = None
    for job_id in ids:
        try:
            jobs.enqueue(settings, job_id)
        except jobs.QueueUnavailable as exc:
            problem = str(exc)
    return list(ids), problem


# ---------------------------------------------------------------------- endpoints
def _user():
    user = current_db_user()
    if user is None:
        raise ApiError(401, "Sign in first.")
    return user


def _owned(session: Session, user, schedule_id: int) -> ReportSchedule:
    """The schedule for its owner or an admin; 404 otherwise (the answer does not tell
    whether another user's schedule exists)."""
    try:
        return schedules.get_schedule(session, user, schedule_id)
    except (schedules.ScheduleNotFound, schedules.ScheduleAccessDenied):
        raise ApiError(404, f"There is no report schedule {schedule_id}.") from None


def _external_scope_of(data: dict):
    """The external scope to check the filters against (False: no external recipient)."""
    return data.get("external_scope") if data.get("external_recipients") else False


def _fields(body: payloads.ScheduleChanges) -> dict:
    data = body.model_dump(exclude_unset=True, exclude={"filters", "owner"})
    data = {name: value for name, value in data.items() if value is not None}
    if "dashboard_id" in body.model_fields_set and body.dashboard_id is None:
        data["dashboard_id"] = None  # back to the standard report
    if "filters" in body.model_fields_set and body.filters is not None:
        data["filters"] = body.filters.filters().to_query()
    return data


@endpoint("GET", "/schedules", role=ROLE, response=payloads.ScheduleListResponse,
          errors=(401, 403),
          summary="Your report schedules (an admin sees everybody's), each with its next "
                  "run and newest deliveries, and where the e-mails go.")
def get_schedules():
    session = db_session()
    return {"schedules": [schedule_view(session, schedule)
                          for schedule in schedules.list_schedules(session, _user())],
            "mail": mail_destination(services.settings())}


@endpoint("POST", "/schedules", role=ROLE, body=payloads.ScheduleRequest,
          response=payloads.ScheduleResponse, errors=ERRORS,
          summary="Create a report schedule (PDF, Excel, both, the weekly digest, or a "
                  "dashboard as a PDF with dashboard_id; "
                  "daily/weekly/monthly at HH:MM in a time zone), e-mailed to each recipient "
                  "under their own data scope; admins may add external addresses, sent "
                  "under the external_scope they pick.")
def post_schedule(body: payloads.ScheduleRequest):
    session = db_session()
    user = _user()
    data = _fields(body)
    data.setdefault("filters", "")
    owner = None
    if body.owner:
        if not user.has_role("admin"):
            raise schedules.ScheduleAccessDenied("only admins create schedules for "
                                                 "other users")
        owner = users.find_user(session, body.owner.strip().lower())
        if owner is None:
            raise schedules.ScheduleError(f"owner {body.owner} is not a user of Shoplens")
    if data.get("external_recipients"):
        data.setdefault("recipients", [])
    data.setdefault("recipients", [user.email])
    check_recipient_scopes(session, services.warehouse(), data["filters"],
                           data["recipients"], _external_scope_of(data))
    schedule = schedules.create_schedule(session, user, data, owner=owner)
    session.commit()
    return schedule_view(session, schedule)


@endpoint("GET", "/schedules/{schedule_id}", role=ROLE, path_params=payloads.SchedulePath,
          response=payloads.ScheduleResponse, errors=(401, 403, 404),
          summary="A report schedule with its next run and newest deliveries (owner or "
                  "admin).")
def get_schedule(path: payloads.SchedulePath):
    session = db_session()
    return schedule_view(session, _owned(session, _user(), path.schedule_id))


@endpoint("PATCH", "/schedules/{schedule_id}", role=ROLE, path_params=payloads.SchedulePath,
          body=payloads.ScheduleChanges, response=payloads.ScheduleResponse, errors=ERRORS,
          summary="Change a report schedule (owner or admin); {\"is_active\": false} pauses "
                  "it. The next run is recomputed.")
def patch_schedule(path: payloads.SchedulePath, body: payloads.ScheduleChanges):
    session = db_session()
    user = _user()
    schedule = _owned(session, user, path.schedule_id)
    changes = _fields(body)
    externals = changes.get("external_recipients", schedule.external_recipients or [])
    scope = changes.get("external_scope", schedule.external_scope or "all")
    check_recipient_scopes(session, services.warehouse(),
                           changes.get("filters", schedule.filters),
                           changes.get("recipients", schedule.recipients or []),
                           scope if externals else False)
    schedule = schedules.update_schedule(session, user, schedule.id, changes)
    session.commit()
    return schedule_view(session, schedule)


@endpoint("DELETE", "/schedules/{schedule_id}", role=ROLE, path_params=payloads.SchedulePath,
          response=payloads.ScheduleDeleted, errors=(401, 403, 404),
          summary="Delete a report schedule (owner or admin); its past jobs stay.")
def delete_schedule(path: payloads.SchedulePath):
    session = db_session()
    user = _user()
    schedule = _owned(session, user, path.schedule_id)
    name = schedule.name
    schedules.delete_schedule(session, user, schedule.id)
    session.commit()
    return {"deleted": path.schedule_id, "name": name}


@endpoint("POST", "/schedules/{schedule_id}/send-now", role=ROLE,
          path_params=payloads.SchedulePath, response=payloads.SendNowResponse,
          success=202, errors=(401, 403, 404, 503),
          summary="Send a schedule's report now: one job per active recipient, each under "
                  "the recipient's own scope (the regular timing is unchanged).")
def send_schedule_now(path: payloads.SchedulePath):
    session = db_session()
    user = _user()
    schedule = _owned(session, user, path.schedule_id)
    made = schedules.send_now(session, user, schedule.id)
    session.commit()
    ids, problem = start_jobs(services.settings(), [job.id for job in made])
    session.expire_all()
    listed = [jobs.job_to_dict(session.get(Job, job_id), with_result=False) for job_id in ids]
    message = (f"{len(ids)} report(s) started, one per recipient."
               if problem is None else problem)
    return {"schedule": schedule_view(session, session.get(ReportSchedule, schedule.id)),
            "jobs": listed, "message": message}


@endpoint("POST", "/schedules/digest", role="viewer", body=payloads.DigestRequest,
          response=payloads.DigestResponse, errors=(400, 401, 403),
          summary="Switch your weekly digest on or off (every Monday at 07:00 in your time "
                  "zone, to you alone, under your data scope). Any signed-in user.")
def post_digest(body: payloads.DigestRequest):
    session = db_session()
    user = _user()
    schedule = schedules.set_digest(session, user, body.enabled, timezone=body.timezone)
    session.commit()
    if schedule is None:
        return {"enabled": False, "schedule": None, "message": "Your weekly digest is off."}
    message = (f"Your weekly digest is on: {schedules.describe(schedule)}."
               if schedule.is_active else "Your weekly digest is off.")
    return {"enabled": bool(schedule.is_active), "schedule": schedule_view(session, schedule),
            "message": message}
