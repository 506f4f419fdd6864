"""The API of alerts (``core.alerts``): rules on a KPI and some filters, their test run,
their backtest, a test message and their firings. Analyst role; each analyst sees and
changes their own rules (an admin, everybody's); another's rule is answered 404, as if it
did not exist. The request and answer models live here, beside the endpoints that use
them (the OpenAPI document is built from the endpoint declarations)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from analytics import catalog
from core import alert_runs, alerts
from webapp import services
from webapp.api import payloads
from webapp.api.payloads import Day, Strict
from webapp.api.routing import ApiError, endpoint
from webapp.security import current_db_user, db_session

ROLE = "analyst"

# ---------------------------------------------------------------------- models
Kind = Literal["threshold", "change", "anomaly", "forecast", "stale_data", "load_failed",
               "delivery_failed"]
Direction = Literal["below", "above", "down", "up", "any", "outside"]
_KIND = Field(description="threshold, change (against the previous days or the same days "
                          "last year), anomaly (the monitor's unusual day), forecast "
                          "(outside the forecast's prediction interval); operational, "
                          "admins only: stale_data (the newest data is older than `value` "
                          "days), load_failed (the newest data load failed), "
                          "delivery_failed (a report or alert message failed for good).")
_KPI = Field("", description="A KPI of METRICS.md: " + ", ".join(catalog.KPI_NAMES)
                             + ". Empty for operational rules.")
_DIRECTION = Field(None, description="threshold: below | above; change: down | up; "
                                     "anomaly: down | up | any; forecast: below | above | "
                                     "outside.")
_VALUE = Field(None, description="threshold: the KPI's value (a rate as a fraction, 0.05 for "
                                 "5 %); change: the percentage (20 for 20 %); anomaly: the "
                                 "|z| (3.5); forecast: the interval in % (80); stale_data: "
                                 "days.")
_FILTERS = Field("", description="Filters as a query string (country=FR&category=Toys), "
                                 "without start or end: the rule watches the last `days` "
                                 "days. They may only narrow your data scope.")
_COMPARE = Field("previous", description="threshold and change: compare with the previous "
                                         "`days` days, or the same days a year before.")
_EMAIL = Field(True, description="E-mail the rule's owner when it fires.")
_WEBHOOK = Field(None, description="POST a JSON (Slack-compatible) message here when it "
                                   "fires: https, public addresses only.")


class AlertRequest(Strict):
    """A new alert rule. It must go somewhere: email, a webhook_url, or both."""
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Kind = _KIND
    kpi: Annotated[str, Field(max_length=40)] = _KPI
    direction: Direction | None = _DIRECTION
    value: float | None = _VALUE
    days: Annotated[int, Field(ge=1, le=366)] = 7
    filters: Annotated[str, Field(max_length=4000)] = _FILTERS
    compare: Literal["previous", "last_year"] = _COMPARE
    cooldown_hours: Annotated[int, Field(ge=0, le=2160)] = 24
    email: bool = _EMAIL
    webhook_url: Annotated[str, Field(max_length=1000)] | None = _WEBHOOK
    saved_view_id: int | None = Field(
        None, description="Follow a saved view (`/views`) you may open: the rule watches "
                          "its filters (not its dates) as they are at each run; `filters` "
                          "must then be empty.")
    is_active: bool = True
    snoozed_until: dt.datetime | None = Field(
        None, description="Nothing is sent until then (UTC); null: not snoozed.")


class AlertPatch(Strict):
    """The fields to change; a changed condition re-arms the rule."""
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    kind: Kind | None = None
    kpi: Annotated[str, Field(max_length=40)] | None = None
    direction: Direction | None = None
    value: float | None = None
    days: Annotated[int, Field(ge=1, le=366)] | None = None
    filters: Annotated[str, Field(max_length=4000)] | None = None
    compare: Literal["previous", "last_year"] | None = None
    cooldown_hours: Annotated[int, Field(ge=0, le=2160)] | None = None
    email: bool | None = None
    webhook_url: Annotated[str, Field(max_length=1000)] | None = None
    saved_view_id: int | None = None
    is_active: bool | None = None
    snoozed_until: dt.datetime | None = None


class AlertResponse(BaseModel):
    id: int
    name: str
    owner: str
    kind: str
    kpi: str
    direction: str
    value: float
    days: int
    filters: str
    compare: str
    email: bool
    webhook_url: str | None
    saved_view_id: int | None = Field(None, description="The saved view it follows.")
    cooldown_hours: int
    is_active: bool
    armed: bool = Field(description="False once it fired, until its condition was false "
                                    "once or the cool-down passed.")
    state: str = Field(description="paused, snoozed until …, cooling or armed.")
    snoozed_until: str | None
    last_evaluated_at: str | None
    last_fired_at: str | None


class AlertListResponse(BaseModel):
    alerts: list[AlertResponse]


class AlertPeriod(BaseModel):
    start: dt.date | None
    end: dt.date | None


class AlertDeliveryResponse(BaseModel):
    id: int
    channel: str = Field(description="email or webhook")
    recipient: str
    status: str = Field(description="queued, rendered, sent or failed (retried with "
                                    "backoff; failed for good after the last attempt).")
    attempts: int
    last_error: str | None
    sent_at: str | None


class AlertFiringResponse(BaseModel):
    id: int
    rule_id: int
    fired_at: str
    period: AlertPeriod
    current: float | None
    previous: float | None
    sentence: str = Field(description="What happened and which slice accounts for it.")
    explanation: dict[str, Any] | None = Field(
        description="metric, lead dimension, sentence, and per dimension the values that "
                    "account for most of the change (previous, current, change, share).")
    data_version: int | None
    deliveries: list[AlertDeliveryResponse] = Field(
        description="Each message of the firing (e-mail, webhook) from the delivery ledger.")


class AlertFiringListResponse(BaseModel):
    firings: list[AlertFiringResponse]


class AlertEvaluation(BaseModel):
    met: bool | None
    sentence: str
    period: AlertPeriod
    current: float | None
    previous: float | None
    explanation: dict[str, Any] | None
    data_version: int | None
    reason: str | None


class AlertTestResponse(AlertEvaluation):
    would: Literal["fire", "cooling", "snoozed", "quiet", "unknown"] = Field(
        description="What an evaluation now would do.")


class BacktestRequest(Strict):
    """The days to replay: the last `days` days of the data, or start…end."""
    days: Annotated[int, Field(ge=1, le=alerts.BACKTEST_MAX_DAYS)] | None = None
    start: Day | None = None
    end: Day | None = None

    @model_validator(mode="after")
    def _one_range(self) -> "BacktestRequest":
        if self.days is not None and (self.start or self.end):
            raise ValueError("give days, or start and end, not both")
        if self.start and self.end and self.start > self.end:
            raise ValueError("start must not be after end")
        return self


class BacktestDay(AlertEvaluation):
    day: dt.date = Field(description="The day the rule would have fired, as of the data "
                                     "up to that day.")


class BacktestResponse(BaseModel):
    start: dt.date
    end: dt.date
    days: int
    count: int = Field(description="How many days it would have fired on.")
    unknown: int = Field(description="Days on which the rule could not be judged.")
    summary: str
    fired: list[BacktestDay]


class SendTestQuery(Strict):
    as_of: Day | None = Field(None, description="Send the message the rule would have sent "
                              "after this day's data (a day its backtest found); default: "
                              "the current data.")


class SendTestResponse(BaseModel):
    message: str
    deliveries: list[AlertDeliveryResponse]


# ---------------------------------------------------------------------- endpoints
def _user():
    user = current_db_user()
    if user is None:
        raise ApiError(401, "Sign in first.")
    return user


def _owned(alert_id: int):
    try:
        return alerts.get_rule(db_session(), _user(), alert_id)
    except (alerts.AlertNotFound, alerts.AlertAccessDenied):
        raise ApiError(404, f"There is no alert {alert_id}.") from None


def _saved(rule) -> dict:
    db = db_session()
    db.commit()
    db.refresh(rule)
    return alerts.rule_to_dict(rule)


@endpoint("GET", "/alerts", role=ROLE, response=AlertListResponse, errors=(401, 403),
          summary="Your alert rules (an admin sees everybody's).")
def get_alerts():
    return {"alerts": [alerts.rule_to_dict(rule)
                       for rule in alerts.list_rules(db_session(), _user())]}


@endpoint("POST", "/alerts", role=ROLE, body=AlertRequest, response=AlertResponse,
          success=201, errors=(400, 401, 403),
          summary="Create an alert on a KPI over the last N days, under filters within your "
                  "data scope, e-mailed to you and/or posted to a webhook.")
def post_alert(body: AlertRequest):
    rule = alerts.create_rule(db_session(), _user(), body.model_dump(exclude_none=True),
                              warehouse=services.warehouse(), settings=services.settings())
    return _saved(rule)


@endpoint("GET", "/alerts/{alert_id}", role=ROLE, path_params=payloads.AlertPath,
          response=AlertResponse, errors=(401, 403, 404),
          summary="One alert rule (owner or admin).")
def get_alert(path: payloads.AlertPath):
    return alerts.rule_to_dict(_owned(path.alert_id))


@endpoint("PATCH", "/alerts/{alert_id}", role=ROLE, path_params=payloads.AlertPath,
          body=AlertPatch, response=AlertResponse, errors=(400, 401, 403, 404),
          summary="Change an alert (snooze it with snoozed_until; a changed condition "
                  "re-arms it).")
def patch_alert(path: payloads.AlertPath, body: AlertPatch):
    _owned(path.alert_id)
    rule = alerts.update_rule(db_session(), _user(), path.alert_id,
                              body.model_dump(exclude_unset=True),
                              warehouse=services.warehouse(), settings=services.settings())
    return _saved(rule)


@endpoint("DELETE", "/alerts/{alert_id}", role=ROLE, path_params=payloads.AlertPath,
          response=payloads.Deleted, errors=(401, 403, 404),
          summary="Delete an alert and its firings.")
def delete_alert(path: payloads.AlertPath):
    _owned(path.alert_id)
    db = db_session()
    alerts.delete_rule(db, _user(), path.alert_id)
    db.commit()
    return {"deleted": path.alert_id}


@endpoint("POST", "/alerts/{alert_id}/test", role=ROLE, path_params=payloads.AlertPath,
          response=AlertTestResponse, errors=(401, 403, 404),
          summary="Evaluate the alert now, without sending anything or changing its state: "
                  "whether it would fire, and why or why not.")
def try_alert(path: payloads.AlertPath):
    _owned(path.alert_id)
    return alerts.try_rule(db_session(), _user(), path.alert_id, services.warehouse(),
                           currency=services.locale())


@endpoint("POST", "/alerts/{alert_id}/backtest", role=ROLE, path_params=payloads.AlertPath,
          body=BacktestRequest, response=BacktestResponse, errors=(400, 401, 403, 404),
          summary="Replay the alert as of each day of a range (the last `days` days of the "
                  "data, 90 by default, or start…end) without changing or sending anything: "
                  "the days it would have fired, with each sentence and explanation.")
def backtest_alert(path: payloads.AlertPath, body: BacktestRequest):
    _owned(path.alert_id)
    return alerts.backtest(db_session(), _user(), path.alert_id, services.warehouse(),
                           days=body.days or 90, start=body.start, end=body.end,
                           currency=services.locale())


@endpoint("POST", "/alerts/{alert_id}/send-test", role=ROLE, path_params=payloads.AlertPath,
          query=SendTestQuery, response=SendTestResponse, errors=(400, 401, 403, 404),
          summary="Send the alert's message now (\"[test]\" in the subject) from the "
                  "current data (or as of a past day: as_of) to its e-mail and webhook; "
                  "its state does not change.")
def send_test_alert(path: payloads.AlertPath, query: SendTestQuery):
    _owned(path.alert_id)
    sent = alert_runs.send_test(services.settings(), _user().id, path.alert_id,
                                as_of=query.as_of)
    done = sum(1 for item in sent if item["status"] == "sent")
    return {"message": f"{done} of {len(sent)} test message(s) sent.", "deliveries": sent}


@endpoint("GET", "/alerts/{alert_id}/firings", role=ROLE, path_params=payloads.AlertPath,
          response=AlertFiringListResponse, errors=(401, 403, 404),
          summary="The alert's firings, newest first: numbers, sentence, explanation and "
                  "each message's delivery (e-mail, webhook).")
def get_alert_firings(path: payloads.AlertPath):
    _owned(path.alert_id)
    db = db_session()
    listed = alerts.firings(db, _user(), path.alert_id)
    sent = alerts.firing_deliveries(db, [firing.id for firing in listed])
    return {"firings": [alerts.firing_to_dict(firing, sent[firing.id])
                        for firing in listed]}
