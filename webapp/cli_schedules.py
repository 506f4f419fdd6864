"""``flask --app wsgi schedules …``: list, create, pause, resume, delete and send now the
report schedules (``core.schedules``), and switch a user's weekly digest (``digest``), with
the same rules as the API and the Reports page.

The commands act as a user of the app (the audit log names them): ``--as EMAIL``, by
default the oldest active admin. As an admin they manage anybody's schedules; ``--as`` an
analyst, only that analyst's own, sent to themselves."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from analytics.errors import ShoplensError
from core import db, schedules, users
from core.orm import User
from webapp import services
from webapp.api.schedules import (check_recipient_scopes, mail_destination, runs_of,
                                  start_jobs)

schedules_cli = AppGroup("schedules", help="Manage report schedules (e-mailed PDF/Excel "
                                           "reports).")

AS_OPTION = click.option("--as", "acting", default=None, metavar="EMAIL",
                         help="Act as this user (default: the oldest active admin).")


def _settings():
    return current_app.extensions["shoplens.settings"]


def _actor(session, acting: str | None) -> User:
    if acting:
        user = users.find_user(session, acting.strip().lower())
        if user is None or not user.is_active:
            raise click.ClickException(f"--as {acting}: no active user with this e-mail.")
        return user
    admin = session.scalars(sa.select(User).where(User.role == "admin",
                                                  User.is_active.is_(True))
                            .order_by(User.id)).first()
    if admin is None:
        raise click.ClickException("No active admin to act as: create one first "
                                   "('flask --app wsgi users create EMAIL --role admin') "
                                   "or name a user with --as.")
    return admin


def _weekday(text: str) -> int:
    text = text.strip().lower()
    if text.isdigit() and int(text) <= 6:
        return int(text)
    for number, name in enumerate(schedules.WEEKDAYS):
        if len(text) >= 3 and name.lower().startswith(text):
            return number
    raise click.ClickException(f"--on {text}: a weekly schedule runs on a weekday "
                               "(Monday … Sunday, or 0 = Monday … 6).")


def _line(schedule) -> str:
    state = "active" if schedule.is_active else "paused"
    local = schedules.local_time(schedule.next_run_at, schedule.timezone)
    next_run = (f"{local:%Y-%m-%d %H:%M} {schedule.timezone or 'UTC'}" if local else "—")
    label = schedules.external_scope_label(schedule)
    return (f"{schedule.id:>4}  {schedule.name}  [{schedule.format.upper()}, {state}]  "
            f"{schedules.describe(schedule)}  next: {next_run}  owner: {schedule.owner.email}"
            f"  to: {', '.join(schedule.recipients or []) or '—'}"
            + (f"  external: {', '.join(schedule.external_recipients)} ({label})"
               if label else "")
            + (f"  filters: {schedule.filters}" if schedule.filters else "")
            + (f"  dashboard: {schedule.dashboard_id}" if schedule.dashboard_id else "")
            + (f"  PROBLEM: {problem}" if (problem := schedules.dashboard_problem(schedule))
               else ""))


def _run(action):
    """Run ``action(session)`` in a committed session; the engine's refusals become a
    clear error (exit 1)."""
    try:
        with db.session_scope(_settings().database_url) as session:
            return action(session)
    except ShoplensError as error:  # the engine's refusals, bad filters, unknown users
        raise click.ClickException(str(error)) from None


@schedules_cli.command("list")
@click.option("--runs", is_flag=True, help="Also show each schedule's newest deliveries.")
@AS_OPTION
def list_schedules(runs: bool, acting: str | None) -> None:
    """List report schedules (all of them for an admin), next runs and where mail goes."""
    def action(session):
        listed = schedules.list_schedules(session, _actor(session, acting))
        lines = []
        for schedule in listed:
            lines.append(_line(schedule))
            if runs:
                for run in runs_of(session, schedule.id):
                    lines.append(f"        {run['created_at']}  {run['recipient']}  "
                                 f"{run['state']}" + (f": {run['reason']}" if run["reason"]
                                                      else ""))
        return lines
    lines = _run(action)
    click.echo("\n".join(lines) if lines else "No report schedules yet.")
    click.echo(f"Mail: {mail_destination(_settings())}.")


@schedules_cli.command("create")
@click.argument("name")
@click.option("--to", "recipients", multiple=True, metavar="EMAIL",
              help="A recipient (an active user; repeatable). Default: the acting user.")
@click.option("--format", "format_", type=click.Choice(list(schedules.FORMATS)),
              default="pdf", show_default=True,
              help="pdf, xlsx, both (one e-mail, two files) or digest (the weekly digest).")
@click.option("--every", "frequency", default="weekly", show_default=True,
              help="daily, weekly or monthly.")
@click.option("--on", "on", default=None,
              help="Weekly: the weekday (Monday, mon or 0–6; default Monday). Monthly: the "
                   "day of the month, 1–28 (default 1).")
@click.option("--at", "time_of_day", default="07:00", show_default=True,
              help="Time of day, HH:MM, in --timezone.")
@click.option("--timezone", default="UTC", show_default=True,
              help="An IANA time zone (Europe/London, America/New_York); runs follow its "
                   "daylight saving time.")
@click.option("--external", "externals", multiple=True, metavar="ADDRESS",
              help="Admins only: an address outside Shoplens (repeatable); needs "
                   "--external-scope.")
@click.option("--external-scope", default=None, metavar="FR,DE|all",
              help="What external recipients see: countries (codes or names, comma "
                   "separated) or 'all'.")
@click.option("--filters", default="",
              help="The dashboard's filters as its URL query string, e.g. "
                   "'country=GB&category=Lighting'. Without start/end each run covers "
                   "the data's latest day, 7 or 30 days (--every day, week or month); "
                   "with them, always those days.")
@click.option("--view", "view_id", type=int, default=None, metavar="ID",
              help="Follow the saved view ID (GET /api/v1/views lists them): "
                   "its filters and relative period are read at each run; no --filters.")
@click.option("--dashboard", "dashboard_id", type=int, default=None, metavar="ID",
              help="Send the dashboard ID (GET /api/v1/dashboards lists them) as a PDF "
                   "instead of the standard report: each recipient gets its tiles under "
                   "their own data scope; the owner and every recipient must be able to "
                   "open it; no --filters, --view or --external.")
@click.option("--owner", default=None, metavar="EMAIL",
              help="The schedule's owner (admins only; default: the acting user).")
@click.option("--paused", is_flag=True, help="Create it paused.")
@AS_OPTION
def create(name, recipients, format_, frequency, on, time_of_day, timezone, externals,
           external_scope, filters, view_id, dashboard_id, owner, paused, acting) -> None:
    """Create a report schedule named NAME."""
    data = {"name": name, "format": format_, "frequency": frequency.strip().lower(),
            "time_of_day": time_of_day, "timezone": timezone, "filters": filters,
            "is_active": not paused, "external_recipients": list(externals),
            "saved_view_id": view_id, "dashboard_id": dashboard_id}
    if external_scope is not None:
        data["external_scope"] = ("all" if external_scope.strip().lower() == "all"
                                  else external_scope)
    if on is not None:
        if data["frequency"] == "weekly":
            data["weekday"] = _weekday(on)
        elif data["frequency"] == "monthly":
            if not on.strip().isdigit():
                raise click.ClickException(f"--on {on}: a monthly schedule runs on a day of "
                                           "the month, 1–28.")
            data["day_of_month"] = int(on)

    def action(session):
        actor = _actor(session, acting)
        data["recipients"] = list(recipients) or ([] if externals else [actor.email])
        owner_user = None
        if owner:
            if not actor.has_role("admin"):
                raise schedules.ScheduleAccessDenied("only admins create schedules for "
                                                     "other users")
            owner_user = users.get_user(session, owner)
        check_recipient_scopes(session, services.warehouse(), str(filters or ""),
                               data["recipients"],
                               data.get("external_scope") if externals else False)
        schedule = schedules.create_schedule(session, actor, data, owner=owner_user)
        return _line(schedule)
    click.echo(f"Created: {_run(action)}")


def _set_active(schedule_id: int, active: bool, acting: str | None) -> str:
    def action(session):
        schedule = schedules.update_schedule(session, _actor(session, acting), schedule_id,
                                             {"is_active": active})
        return _line(schedule)
    return _run(action)


@schedules_cli.command("pause")
@click.argument("schedule_id", type=int)
@AS_OPTION
def pause(schedule_id: int, acting: str | None) -> None:
    """Pause schedule SCHEDULE_ID (it keeps its settings; resume restarts it)."""
    click.echo(f"Paused: {_set_active(schedule_id, False, acting)}")


@schedules_cli.command("resume")
@click.argument("schedule_id", type=int)
@AS_OPTION
def resume(schedule_id: int, acting: str | None) -> None:
    """Resume schedule SCHEDULE_ID from its next regular time."""
    click.echo(f"Resumed: {_set_active(schedule_id, True, acting)}")


@schedules_cli.command("delete")
@click.argument("schedule_id", type=int)
@AS_OPTION
def delete(schedule_id: int, acting: str | None) -> None:
    """Delete schedule SCHEDULE_ID (its past report jobs stay)."""
    def action(session):
        actor = _actor(session, acting)
        name = schedules.get_schedule(session, actor, schedule_id).name
        schedules.delete_schedule(session, actor, schedule_id)
        return name
    click.echo(f"Deleted schedule {schedule_id} ({_run(action)}).")


@schedules_cli.command("send-now")
@click.argument("schedule_id", type=int)
@AS_OPTION
def send_now(schedule_id: int, acting: str | None) -> None:
    """Send schedule SCHEDULE_ID's report now: one job per recipient, each under the
    recipient's own data scope (the regular timing is unchanged)."""
    def action(session):
        return [job.id for job in schedules.send_now(session, _actor(session, acting),
                                                      schedule_id)]
    ids, problem = start_jobs(_settings(), _run(action))  # queued after the commit
    if problem:
        raise click.ClickException(problem)
    click.echo(f"Started {len(ids)} report job(s), one per recipient: {', '.join(ids)}.")
    click.echo(f"Mail: {mail_destination(_settings())}.")


@schedules_cli.command("digest")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--timezone", default=None,
              help="An IANA time zone for its Monday 07:00 (default: the digest's own, "
                   "Europe/London for a new one).")
@AS_OPTION
def digest(state: str, timezone: str | None, acting: str | None) -> None:
    """Switch the acting user's weekly digest on or off (any user, viewers too: --as)."""
    def action(session):
        schedule = schedules.set_digest(session, _actor(session, acting), state == "on",
                                        timezone=timezone)
        return _line(schedule) if schedule is not None else None
    line = _run(action)
    click.echo(f"Weekly digest {state}: {line}" if line else "Weekly digest off.")
