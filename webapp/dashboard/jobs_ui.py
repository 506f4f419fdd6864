"""Background jobs from the pages: submit one for the current filters, follow its progress,
read its result on the server.

The browser only holds ``{"id", "status"}`` of a job (a dcc.Store) and polls with a
dcc.Interval while it runs; a poll reads the job's status, progress and message, never its
result. Results (forecasts, customer lists) stay on the server and are read once, by the
page's own callback, when the status becomes ``done``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import dash
from dash import Input, Output, State, callback

from analytics.errors import ShoplensError, Unavailable
from core import job_kinds, jobs
from webapp import security, services
from webapp.dashboard import components, context

log = logging.getLogger(__name__)


class JobUnavailable(Unavailable):
    """The job cannot be submitted or read; the message says why."""


def submit(kind: str, search: str | None, options: dict | None = None) -> dict:
    """Queue a ``kind`` job for the signed-in user over the URL's filters; returns the
    job's dict (``core.jobs.job_to_dict``)."""
    filters = context.checked_filters(search)  # france → France; an unknown value refused
    session = security.db_session()
    user = security.current_db_user()
    if user is None:
        raise JobUnavailable("Sign in again to run this.")
    try:
        job = jobs.submit_job(session, user, kind,
                              {"filters": filters, "options": options or {}},
                              settings=services.settings())
        session.commit()
        jobs.enqueue(services.settings(), job.id)
    except ShoplensError as exc:  # a bad option, a role too low, the queue away
        session.rollback()
        raise JobUnavailable(exc.message) from None
    session.refresh(job)
    return jobs.job_to_dict(job, with_result=False)


def read(job_id: str, *, with_result: bool = True) -> dict:
    """The job's dict for the signed-in user (owner or admin); ``with_result=False``
    neither reads nor returns the result (for polling)."""
    session = security.db_session()
    user = security.current_db_user()
    if user is None:
        raise JobUnavailable("Sign in again to see this job.")
    try:
        job = jobs.get_job(session, user, job_id, with_result=with_result)
        return jobs.job_to_dict(job, with_result=with_result)
    except ShoplensError as exc:
        raise JobUnavailable(exc.message) from None


def follow(prefix: str, kind: str, option_states: list[State] | None = None,
           options: Callable[..., dict] | None = None) -> None:
    """The callbacks of ``components.job_panel(prefix, …)``: the button submits a ``kind``
    job (``options(*state values)`` gives its options), the Interval polls it while it
    runs, and ``{prefix}-job`` holds ``{"id", "status"}`` for the page's result callback."""
    option_states = option_states or []
    components.JOB_ROLES[prefix] = job_kinds.get(kind).role  # the panel explains it

    @callback(Output(f"{prefix}-job", "data"), Output(f"{prefix}-poll", "disabled"),
              Output(f"{prefix}-status", "children"),
              Input(f"{prefix}-run", "n_clicks"), State("shell-url", "search"),
              *option_states, prevent_initial_call=True)
    def start(_clicks, search, *values):
        try:
            job = submit(kind, search, options(*values) if options else {})
        except (JobUnavailable, context.Unavailable) as exc:
            return dash.no_update, True, str(exc)
        return ({"id": job["id"], "status": job["status"]}, False,
                components.job_status_text(job))

    @callback(Output(f"{prefix}-progress", "value"), Output(f"{prefix}-progress", "label"),
              Output(f"{prefix}-progress", "style"),
              Output(f"{prefix}-status", "children", allow_duplicate=True),
              Output(f"{prefix}-poll", "disabled", allow_duplicate=True),
              Output(f"{prefix}-job", "data", allow_duplicate=True),
              Input(f"{prefix}-poll", "n_intervals"), State(f"{prefix}-job", "data"),
              prevent_initial_call=True)
    def poll(_ticks, stored):
        if not stored:
            return 0, "", {"display": "none"}, "", True, dash.no_update
        try:
            job = read(stored["id"], with_result=False)
        except JobUnavailable as exc:
            return 0, "", {"display": "none"}, str(exc), True, None
        finished = job["status"] in jobs.FINISHED
        progress = 100 if job["status"] == "done" else int(job["progress"] or 0)
        style = {"height": "0.9rem", "display": "none" if finished else "flex"}
        changed = job["status"] != stored.get("status")
        return (progress, f"{progress}%", style, components.job_status_text(job), finished,
                {"id": job["id"], "status": job["status"]} if changed else dash.no_update)


def result(stored: dict | None) -> dict | None:
    """The result of a finished job from its Store value, or None while there is none."""
    if not stored or stored.get("status") != "done":
        return None
    job = read(stored["id"])
    return job["result"] if job["status"] == "done" else None
