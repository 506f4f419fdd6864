"""Errors are mapped once per boundary. The REST API answers a ``ShoplensError`` with its
status and message (``webapp.api.routing``), a pydantic error with 400, anything else with
a logged 500 that says nothing of it; the dashboard shows a ``ShoplensError``'s message in
the shell's alert and anything else as an internal error, logged
(``webapp.dashboard.errors``)."""
from __future__ import annotations

import logging

import pydantic
import pytest

from analytics import errors
from analytics.countries import UnknownCountryError
from analytics.models.base import ModelError
from analytics.warehouse import NoDataError, WarehouseError
from core import jobs, users
from core.mail import MailError
from core.schedules import ScheduleNotFound
from data.readers import MappingError
from tests.webapp.conftest import PERIOD, bearer, make_token
from webapp.api import routing, views
from webapp.dashboard import errors as dashboard_errors
from webapp.dashboard import uploads

SECRET = "postgresql://shoplens:hunter2@db/warehouse"
#: One error of each kind, and domain errors whose status the API has always given.
DOMAIN_ERRORS = [
    (errors.InvalidInput("start: not a date"), 400),
    (errors.AccessDenied("Your scope does not cover France."), 403),
    (errors.NotFound("There is no such product."), 404),
    (errors.Conflict("The job has already finished."), 409),
    (errors.Unavailable("The task queue is not reachable."), 503),
    (NoDataError(), 404),
    (WarehouseError("Data version 7 is missing."), 503),
    (ModelError("Too few customers to find clusters."), 400),
    (UnknownCountryError("Atlantis is not a country."), 400),
    (MappingError("The column 'qty' is mapped twice."), 400),
    (uploads.UploadError("orders.pdf: upload a CSV or an Excel file"), 400),
    (jobs.JobError("unknown job kind 'x'"), 400),
    (jobs.JobAccessDenied("running forecast jobs needs the analyst role"), 403),
    (jobs.JobNotFound("no job 42"), 404),
    (ScheduleNotFound("no schedule 3"), 404),
    (users.PermissionDenied("Only admins change roles."), 403),
    (users.LastAdminError("This would leave no active admin."), 409),
    (MailError("The mail server refused the message."), 503),
    (routing.ApiError(401, "Sign in first."), 401),
]


def test_domain_errors_keep_their_old_kinds():
    """Callers that catch ValueError or LookupError keep catching what they caught."""
    for kind in (ModelError, UnknownCountryError, MappingError, uploads.UploadError,
                 users.UserError, jobs.JobError):
        assert issubclass(kind, ValueError) and issubclass(kind, errors.InvalidInput), kind
    assert issubclass(users.PermissionDenied, users.UserError)
    assert issubclass(NoDataError, WarehouseError)
    assert issubclass(jobs.JobNotFound, LookupError)
    assert NoDataError().status == 404 and WarehouseError("x").status == 503
    assert users.LastAdminError("x").status == 409
    assert users.PermissionDenied("x").status == 403


@pytest.fixture(scope="module")
def analyst_token(app):
    return make_token(app, "analyst@example.com")


def _kpis_raising(monkeypatch, client, token, error):
    def fail(*_args, **_kwargs):
        raise error
    monkeypatch.setattr(views, "_analytics", fail)
    return client.get("/api/v1/kpis", query_string=PERIOD, headers=bearer(token))


@pytest.mark.parametrize("error, status", DOMAIN_ERRORS,
                         ids=[type(error).__name__ for error, _ in DOMAIN_ERRORS])
def test_api_answers_a_domain_error_with_its_status_and_message(
        app, analyst_token, monkeypatch, error, status):
    response = _kpis_raising(monkeypatch, app.test_client(), analyst_token, error)
    assert response.status_code == status, response.text
    assert response.json == {"error": {"status": status, "message": error.message}}
    assert error.message


def test_api_answers_anything_else_with_a_logged_500(app, analyst_token, monkeypatch,
                                                     caplog):
    with caplog.at_level(logging.ERROR, logger="webapp.api.routing"):
        response = _kpis_raising(monkeypatch, app.test_client(), analyst_token,
                                 RuntimeError(f"could not connect to {SECRET}"))
    assert response.status_code == 500
    assert SECRET not in response.text
    assert response.json["error"] == {
        "status": 500, "message": "Something went wrong on the server; the error is logged."}
    assert SECRET in caplog.text


def test_api_formats_pydantic_errors_with_the_one_formatter(app, analyst_token):
    response = app.test_client().get("/api/v1/kpis", headers=bearer(analyst_token),
                                     query_string={**PERIOD, "colour": "red"})
    assert response.status_code == 400
    assert response.json["error"]["message"] == "colour: is not a known parameter"


def test_format_validation_error():
    class Model(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        horizon: int = pydantic.Field(le=365)

        @pydantic.field_validator("horizon")
        @classmethod
        def even(cls, value):
            if value % 2:
                raise ValueError("must be even")
            return value

    with pytest.raises(pydantic.ValidationError) as too_far:
        Model(horizon=400, colour="red")
    assert errors.format_validation_error(too_far.value) == (
        "horizon: Input should be less than or equal to 365; colour: is not a known parameter")
    assert errors.format_validation_error(too_far.value, limit=1) == (
        "horizon: Input should be less than or equal to 365")
    with pytest.raises(pydantic.ValidationError) as odd:
        Model(horizon=3)
    assert errors.format_validation_error(odd.value) == "horizon: must be even"
    with pytest.raises(pydantic.ValidationError) as not_a_dict:
        Model.model_validate([1])
    assert errors.format_validation_error(not_a_dict.value, subject="params").startswith(
        "params: ")


# ------------------------------------------------------------------ dashboard
#: What the probe callback raises, by its input's value.
RAISED = {"invalid": errors.InvalidInput("Check the filters: start is not a date."),
          "no-data": NoDataError(),
          "model": ModelError("Too few customers to find clusters."),
          "crash": RuntimeError(f"could not connect to {SECRET}")}


@pytest.fixture(scope="module")
def failing_callback(app):
    from dash import Input, Output
    dash_app = app.extensions["shoplens.dash"]

    def fail(value):
        raise RAISED[value]
    dash_app.callback(Output("overview-failing", "children"),
                      Input("overview-failing-in", "value"))(fail)
    return dash_app


def _fire(client, value: str):
    return client.post("/_dash-update-component", json={
        "output": "overview-failing.children",
        "outputs": {"id": "overview-failing", "property": "children"},
        "inputs": [{"id": "overview-failing-in", "property": "value", "value": value}],
        "changedPropIds": ["overview-failing-in.value"], "state": []})


def _alert(response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json
    assert "overview-failing" not in body.get("response", {}), "the output must stay as it was"
    return body["sideUpdate"][dashboard_errors.ERROR_ALERT_ID]


@pytest.mark.parametrize("value", ["invalid", "no-data", "model"])
def test_dashboard_shows_a_domain_errors_message(signed_in, failing_callback, caplog, value):
    viewer = signed_in("viewer@example.com")
    with caplog.at_level(logging.INFO, logger="webapp.dashboard.errors"):
        alert = _alert(_fire(viewer, value))
    assert alert == {"children": RAISED[value].message, "is_open": True}
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_dashboard_shows_anything_else_as_an_internal_error_and_logs_it(
        signed_in, failing_callback, caplog):
    viewer = signed_in("viewer@example.com")
    with caplog.at_level(logging.ERROR, logger="webapp.dashboard.errors"):
        response = _fire(viewer, "crash")
    assert _alert(response) == {"children": dashboard_errors.INTERNAL_ERROR, "is_open": True}
    assert SECRET not in response.text
    assert SECRET in caplog.text


def test_the_error_alert_is_in_the_shell(app):
    from flask import g

    from tests.webapp.test_page_registry import _ids, _principal
    from webapp import security
    from webapp.dashboard import shell
    with app.test_request_context("/"):
        g._login_user = _principal(app, "viewer@example.com")
        assert dashboard_errors.ERROR_ALERT_ID in _ids(shell.layout())
    assert security.id_owner(dashboard_errors.ERROR_ALERT_ID) == security.SHELL_ID_PREFIX


def test_a_refused_job_says_why_on_the_page(signed_in):
    """jobs_ui maps the job services' errors into the panel's status line: a viewer's
    forecast is refused with the role it needs."""
    viewer = signed_in("viewer@example.com")
    response = viewer.post("/_dash-update-component", json={
        "output": "..sales-forecast-job.data...sales-forecast-poll.disabled"
                  "...sales-forecast-status.children..",
        "outputs": [{"id": "sales-forecast-job", "property": "data"},
                    {"id": "sales-forecast-poll", "property": "disabled"},
                    {"id": "sales-forecast-status", "property": "children"}],
        "inputs": [{"id": "sales-forecast-run", "property": "n_clicks", "value": 1}],
        "state": [{"id": "shell-url", "property": "search",
                   "value": "?start=2011-03-01&end=2011-03-03"},
                  {"id": "sales-forecast-horizon", "property": "value", "value": "90"},
                  {"id": "sales-metric", "property": "value", "value": "revenue"}],
        "changedPropIds": ["sales-forecast-run.n_clicks"]})
    assert response.status_code == 200, response.text
    status = response.json["response"]["sales-forecast-status"]["children"]
    assert "analyst" in status


def test_job_errors_that_are_not_bad_input_have_their_own_status():
    from core import jobs
    assert jobs.JobFinished("the job has already finished (done)").status == 409
    assert jobs.QueueUnavailable("the task queue is not reachable").status == 503
    assert isinstance(jobs.JobFinished("x"), jobs.JobError)  # its callers still catch it
    assert jobs.JobError("bad option").status == 400
