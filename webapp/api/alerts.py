"""The API of alerts (``core.alerts``): rules on a KPI and some filters, their test run and
their firings. Analyst role; each analyst sees and changes their own rules (an admin,
everybody's); another's rule is answered 404, as if it did not exist."""
from __future__ import annotations

from core import alerts
from webapp import services
from webapp.api import payloads
from webapp.api.routing import ApiError, endpoint
from webapp.security import current_db_user, db_session

ROLE = "analyst"


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


@endpoint("GET", "/alerts", role=ROLE, response=payloads.AlertListResponse, errors=(401, 403),
          summary="Your alert rules (an admin sees everybody's).")
def get_alerts():
    return {"alerts": [alerts.rule_to_dict(rule)
                       for rule in alerts.list_rules(db_session(), _user())]}


@endpoint("POST", "/alerts", role=ROLE, body=payloads.AlertRequest,
          response=payloads.AlertResponse, errors=(400, 401, 403),
          summary="Create an alert: a threshold on a KPI over the last N days, or its change "
                  "against the previous N days, under filters within your data scope.")
def post_alert(body: payloads.AlertRequest):
    rule = alerts.create_rule(db_session(), _user(), body.model_dump(exclude_none=True),
                              warehouse=services.warehouse())
    return _saved(rule)


@endpoint("GET", "/alerts/{alert_id}", role=ROLE, path_params=payloads.AlertPath,
          response=payloads.AlertResponse, errors=(401, 403, 404),
          summary="One alert rule (owner or admin).")
def get_alert(path: payloads.AlertPath):
    return alerts.rule_to_dict(_owned(path.alert_id))


@endpoint("PATCH", "/alerts/{alert_id}", role=ROLE, path_params=payloads.AlertPath,
          body=payloads.AlertPatch, response=payloads.AlertResponse,
          errors=(400, 401, 403, 404),
          summary="Change an alert (snooze it with snoozed_until; a changed condition "
                  "re-arms it).")
def patch_alert(path: payloads.AlertPath, body: payloads.AlertPatch):
    _owned(path.alert_id)
    rule = alerts.update_rule(db_session(), _user(), path.alert_id,
                              body.model_dump(exclude_unset=True),
                              warehouse=services.warehouse())
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
          response=payloads.AlertTestResponse, errors=(401, 403, 404),
          summary="Evaluate the alert now, without sending anything or changing its state: "
                  "whether it would fire, and why or why not.")
def try_alert(path: payloads.AlertPath):
    _owned(path.alert_id)
    return alerts.try_rule(db_session(), _user(), path.alert_id, services.warehouse(),
                           currency=services.settings().currency)


@endpoint("GET", "/alerts/{alert_id}/firings", role=ROLE, path_params=payloads.AlertPath,
          response=payloads.AlertFiringListResponse, errors=(401, 403, 404),
          summary="The alert's firings, newest first: numbers, sentence, explanation and "
                  "how the e-mail went.")
def get_alert_firings(path: payloads.AlertPath):
    _owned(path.alert_id)
    return {"firings": [alerts.firing_to_dict(firing)
                        for firing in alerts.firings(db_session(), _user(), path.alert_id)]}
