"""Alerts (core.alerts) on two weeks of hand-made data: a planted drop in France makes a
change rule fire and its explanation names France with the numbers worked out by hand; a
threshold rule; cool-down and re-arm; the owner's scope (sending: test_alert_runs.py)."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics.warehouse import Warehouse
from core import alert_runs, alerts, db
from core.orm import AlertFiring, AlertRule, DataLoad, Delivery, User
from tests.analytics.conftest import publish_lines
from tests.workers.support import add_user, settings_for, worker_environment

DAY = dt.date(2011, 3, 1)
# Revenue per day and country. Previous week (1–7 Mar): GB 300, FR 200, DE 100 → week
# 4,200. Current week (8–14 Mar): GB 300, FR 50, DE 80 → week 3,010.
# Change: −1,190 / 4,200 = −28.33 % ("fell 28 %"). France: 1,400 → 350, −1,050, i.e.
# 1,050 / 1,190 = 88.2 % of the drop (enough alone: above 80 %). Germany: 700 → 560 (−140).
DAILY = {"previous": {("United Kingdom", "GB"): 300, ("France", "FR"): 200,
                      ("Germany", "DE"): 100},
         "current": {("United Kingdom", "GB"): 300, ("France", "FR"): 50,
                     ("Germany", "DE"): 80}}
TODAY = dt.date(2011, 3, 20)  # after the data: the period ends on the data's last day


def _lines() -> list[dict]:
    rows = []
    for offset in range(14):
        day = DAY + dt.timedelta(days=offset)
        week = "previous" if offset < 7 else "current"
        for (country, code), amount in DAILY[week].items():
            rows.append({"invoice_id": f"{code}{offset:02d}", "invoice_ts": f"{day} 10:00",
                         "country": country, "country_code": code, "unit_price": amount,
                         "quantity": 1.0})
    return rows


@pytest.fixture
def settings(tmp_path):
    settings = settings_for(worker_environment(tmp_path / "home"))
    warehouse = Warehouse(settings.warehouse_url)
    publish_lines(warehouse, _lines())
    warehouse.dispose()
    return settings


@pytest.fixture
def warehouse(settings):
    warehouse = Warehouse(settings.warehouse_url)
    yield warehouse
    warehouse.dispose()


CHANGE = {"name": "Revenue down week on week", "kind": "change", "kpi": "revenue",
          "direction": "down", "value": 20, "days": 7}


def _rule(settings, email, data, countries=None, role="analyst") -> int:
    user_id = add_user(settings, email, role, countries=countries)
    with db.session_scope(settings.database_url) as session:
        return alerts.create_rule(session, session.get(User, user_id), data).id


def _get(settings, rule_id) -> AlertRule:
    with db.session_scope(settings.database_url) as session:
        return session.get(AlertRule, rule_id)


def test_a_planted_drop_in_france_fires_and_france_explains_it(settings, warehouse):
    rule = AlertRule(**CHANGE)
    result = alerts.evaluate(rule, warehouse, alerts.Scope(), TODAY)
    assert result.met is True
    assert (result.start, result.end) == (dt.date(2011, 3, 8), dt.date(2011, 3, 14))
    assert result.current == pytest.approx(3010) and result.previous == pytest.approx(4200)
    assert result.sentence == ("Revenue (net) fell 28 % (£4,200 → £3,010) week on week; "
                               "France accounts for 88 % of the drop (−£1,050).")
    country = result.explanation["dimensions"]["country"]
    assert result.explanation["lead"] == "country"
    assert country["total_change"] == pytest.approx(-1190)
    [france] = country["contributors"]
    assert (france["label"], france["previous"], france["current"]) == ("France", 1400, 350)
    assert france["share"] == pytest.approx(1050 / 1190)
    # one product, no categories or channels: those dimensions explain nothing
    assert set(result.explanation["dimensions"]) == {"country"}


def test_a_smaller_drop_than_the_rule_allows_does_not_fire(settings, warehouse):
    result = alerts.evaluate(AlertRule(**{**CHANGE, "value": 30}), warehouse,
                             alerts.Scope(), TODAY)
    assert result.met is False and result.explanation is None
    assert result.sentence.endswith("within the 30 % the rule allows.")
    rising = alerts.evaluate(AlertRule(**{**CHANGE, "direction": "up", "value": 5}),
                             warehouse, alerts.Scope(), TODAY)
    assert rising.met is False


def test_threshold_on_the_last_day(settings, warehouse):
    # 14 Mar: 300 + 50 + 80 = 430
    rule = AlertRule(name="Daily revenue", kind="threshold", kpi="revenue",
                     direction="below", value=500, days=1)
    result = alerts.evaluate(rule, warehouse, alerts.Scope(), TODAY)
    assert result.met is True and result.current == pytest.approx(430)
    assert result.sentence.startswith(
        "Revenue (net) was £430.00 on 14 Mar 2011, below the £500.00 threshold")
    rule.value = 400
    assert alerts.evaluate(rule, warehouse, alerts.Scope(), TODAY).met is False
    orders = AlertRule(name="Orders", kind="threshold", kpi="orders", direction="above",
                       value=20, days=7)
    assert alerts.evaluate(orders, warehouse, alerts.Scope(), TODAY).current == 21


def test_the_owners_scope_france_only(settings, warehouse):
    rule = AlertRule(**CHANGE)
    result = alerts.evaluate(rule, warehouse, alerts.Scope.of(["FR"]), TODAY)
    # France alone: 1,400 → 350, −75 %; one country, one product: nothing to split it by
    # (all data would have named France against Germany and the UK)
    assert (result.previous, result.current) == (pytest.approx(1400), pytest.approx(350))
    assert result.met is True and result.explanation is None
    assert result.sentence == "Revenue (net) fell 75 % (£1,400 → £350.00) week on week."
    # GB only: no change at all, the rule stays quiet
    gb = alerts.evaluate(rule, warehouse, alerts.Scope.of(["GB"]), TODAY)
    assert (gb.met, gb.current, gb.previous) == (False, 2100, 2100)


def test_a_filter_outside_the_owners_scope_is_refused(settings, warehouse):
    user_id = add_user(settings, "fr@example.com", "analyst", countries=["FR"])
    with db.session_scope(settings.database_url) as session:
        owner = session.get(User, user_id)
        with pytest.raises(alerts.AlertAccessDenied, match="outside"):
            alerts.create_rule(session, owner, {**CHANGE, "filters": "country=DE"})
        with pytest.raises(alerts.AlertError, match="Germany"):
            alerts.create_rule(session, owner, {**CHANGE, "filters": "country=Germany"},
                               warehouse=warehouse)
        rule = alerts.create_rule(session, owner, {**CHANGE, "filters": "country=FR"},
                                  warehouse=warehouse)
        assert rule.filters == "country=FR"


@pytest.mark.parametrize("change, message", [
    ({"kpi": "revenu"}, "unknown KPI 'revenu'"),
    ({"value": float("nan")}, "finite"),
    ({"value": -5}, "percentage above 0"),
    ({"direction": "below"}, "down or up"),
    ({"kind": "threshold", "kpi": "margin", "direction": "below", "value": 12},
     "fraction between 0 and 1"),
    ({"filters": "start=2011-01-01"}, "set days"),
    ({"days": 0}, "days"),
    ({"kind": "anomaly", "kpi": "margin"}, "anomaly monitor watches"),
    ({"kind": "anomaly", "value": 0.5}, "between 1 and 20"),
])
def test_bad_rules_are_refused_with_a_message(settings, change, message):
    user_id = add_user(settings, "ann@example.com", "analyst")
    with db.session_scope(settings.database_url) as session:
        with pytest.raises(alerts.AlertError, match=message):
            alerts.create_rule(session, session.get(User, user_id), {**CHANGE, **change})


def test_viewers_cannot_make_rules(settings):
    user_id = add_user(settings, "vic@example.com", "viewer")
    with db.session_scope(settings.database_url) as session:
        with pytest.raises(alerts.AlertAccessDenied):
            alerts.create_rule(session, session.get(User, user_id), CHANGE)


def _evaluation(met):
    return alerts.Evaluation(met, "x")


def test_cooldown_and_rearm():
    rule = AlertRule(**CHANGE, cooldown_hours=24, armed=True)
    t0 = dt.datetime(2011, 3, 15, 6)
    assert alerts.step(rule, _evaluation(True), t0) == "fire"
    # the same incident an hour later: quiet
    assert alerts.step(rule, _evaluation(True), t0 + dt.timedelta(hours=1)) == "cooling"
    # the condition clears once: re-armed, and the next breach is a new incident
    assert alerts.step(rule, _evaluation(False), t0 + dt.timedelta(hours=2)) == "quiet"
    assert rule.armed is True
    assert alerts.step(rule, _evaluation(True), t0 + dt.timedelta(hours=3)) == "fire"
    # still breached a day after that firing: the cool-down has passed, told again
    assert alerts.step(rule, _evaluation(True), t0 + dt.timedelta(hours=26)) == "cooling"
    assert alerts.step(rule, _evaluation(True), t0 + dt.timedelta(hours=27)) == "fire"
    # unknown (no data) changes nothing
    assert alerts.step(rule, _evaluation(None), t0 + dt.timedelta(hours=28)) == "unknown"
    assert rule.armed is False


def test_snoozed_rules_stay_quiet_until_the_snooze_ends():
    t0 = dt.datetime(2011, 3, 15, 6)
    rule = AlertRule(**CHANGE, cooldown_hours=24, armed=True,
                     snoozed_until=t0 + dt.timedelta(hours=5))
    assert alerts.step(rule, _evaluation(True), t0) == "snoozed"
    assert rule.armed is True
    assert alerts.step(rule, _evaluation(True), t0 + dt.timedelta(hours=6)) == "fire"


# Sending (the ledger, e-mail and webhook, retries, test sends): tests/core/test_alert_runs.py


def test_alerts_run_after_a_load_and_their_failure_never_fails_it(settings, monkeypatch,
                                                                  caplog):
    from core import loads, queue
    _rule(settings, "ann@example.com", CHANGE)
    loads._evaluate_alerts(settings)  # today: long after the data, whose last day counts
    with db.session_scope(settings.database_url) as session:
        assert session.query(AlertFiring).count() == 1

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(alert_runs, "evaluate_all", broken)
    loads._evaluate_alerts(settings)  # logged, not raised
    assert "alerts could not be evaluated" in caplog.text
    beat = queue.make_celery(settings).conf.beat_schedule
    assert beat["evaluate-alerts"]["task"] == queue.EVALUATE_ALERTS
    assert queue.TASK_ROUTES[queue.EVALUATE_ALERTS] == {"queue": "reports"}


def test_the_explanation_is_computed_under_the_owners_scope(settings, warehouse):
    # Daily: GB sells P3 500 → 200; France sells Mug (P1) 100 → 100 and Lamp (P2) 100 → 20.
    # All data: 4,900 → 2,240 a week (−2,660); the UK is 2,100 / 2,660 = 79 % of the drop.
    # France only: 1,400 → 840 (−40 %); the Lamp is all of it (−560).
    plan = {"previous": [("United Kingdom", "GB", "P3", "Chair", 500),
                         ("France", "FR", "P1", "Mug", 100), ("France", "FR", "P2", "Lamp", 100)],
            "current": [("United Kingdom", "GB", "P3", "Chair", 200),
                        ("France", "FR", "P1", "Mug", 100), ("France", "FR", "P2", "Lamp", 20)]}
    rows = []
    for offset in range(14):
        day = DAY + dt.timedelta(days=offset)
        for country, code, product, description, amount in plan[
                "previous" if offset < 7 else "current"]:
            rows.append({"invoice_id": f"{code}{product}{offset:02d}",
                         "invoice_ts": f"{day} 10:00", "country": country,
                         "country_code": code, "product_id": product,
                         "description": description, "unit_price": amount})
    publish_lines(warehouse, rows)
    rule = AlertRule(**CHANGE)
    everything = alerts.evaluate(rule, warehouse, alerts.Scope(), TODAY)
    assert everything.sentence == ("Revenue (net) fell 54 % (£4,900 → £2,240) week on week; "
                                   "United Kingdom accounts for 79 % of the drop (−£2,100).")
    france = alerts.evaluate(rule, warehouse, alerts.Scope.of(["FR"]), TODAY)
    assert france.sentence == ("Revenue (net) fell 40 % (£1,400 → £840.00) week on week; "
                               "Lamp accounts for 100 % of the drop (−£560).")
    assert set(france.explanation["dimensions"]) == {"product"}
    [lamp] = france.explanation["dimensions"]["product"]["contributors"]
    assert (lamp["key"], lamp["previous"], lamp["current"]) == ("P2", 700, 140)
    assert "United Kingdom" not in str(france.explanation) and "Chair" not in str(france.explanation)


def test_operational_rules_for_admins(settings, warehouse):
    admin_id = add_user(settings, "root@example.com", "admin")
    analyst_id = add_user(settings, "ann@example.com", "analyst")
    with db.session_scope(settings.database_url) as session:
        with pytest.raises(alerts.AlertAccessDenied, match="for admins"):
            alerts.create_rule(session, session.get(User, analyst_id),
                               {"name": "Stale", "kind": "stale_data", "value": 3})
        with pytest.raises(alerts.AlertError, match="whole number of days"):
            alerts.create_rule(session, session.get(User, admin_id),
                               {"name": "Stale", "kind": "stale_data", "value": 0.5})
        admin = session.get(User, admin_id)
        stale = alerts.create_rule(session, admin, {"name": "Stale", "kind": "stale_data",
                                                    "value": 3})
        failed = alerts.create_rule(session, admin, {"name": "Loads",
                                                     "kind": "load_failed"})
        assert (stale.kpi, failed.value) == ("", 0)
    # the data ends on 14 Mar: on the 20th it is 6 days old
    result = alerts.evaluate(stale, warehouse, alerts.Scope(), TODAY)
    assert result.met is True
    assert result.sentence == "The newest data is from 14 Mar 2011, 6 days old; the rule allows 3."
    assert alerts.evaluate(stale, warehouse, alerts.Scope(), dt.date(2011, 3, 17)).met is False

    def load(status, error=None):
        with db.session_scope(settings.database_url) as session:
            session.add(DataLoad(source="sales.csv", format="generic", status=status,
                                 error=error, finished_at=dt.datetime(2011, 3, 20, 6, 30)))
    load("done")
    now = dt.datetime(2011, 3, 20, 7)
    assert alert_runs.evaluate_all(settings, TODAY, now) != []  # the stale rule
    load("failed", "too many rejected lines")
    [firing_id] = alert_runs.evaluate_all(settings, TODAY, now + dt.timedelta(minutes=5))
    with db.session_scope(settings.database_url) as session:
        firing = session.get(AlertFiring, firing_id)
        [delivery] = session.query(Delivery).filter_by(firing_id=firing_id).all()
        assert firing.rule_id == failed.id and delivery.status == "sent"
        assert firing.sentence == ("The data load #2 (sales.csv) failed at 20 Mar 2011 06:30 "
                                   "UTC: too many rejected lines.")
    load("done")  # the next load works: re-armed, and the next failure is a new message
    assert alert_runs.evaluate_all(settings, TODAY, now + dt.timedelta(minutes=10)) == []
    assert _get(settings, failed.id).armed is True
    # an admin demoted to analyst: their operational rules rest
    load("failed", "again")
    with db.session_scope(settings.database_url) as session:
        session.get(User, admin_id).role = "analyst"
    assert alert_runs.evaluate_all(settings, TODAY, now + dt.timedelta(minutes=15)) == []


def test_an_anomaly_found_by_the_monitor_fires_and_is_explained(settings, warehouse):
    # 42 days from 1 Mar: GB 300–312 and France 200–206 a day (small deterministic noise);
    # on the last day (11 Apr) France sells 20. GB that day 306 (309 a week before), France
    # 204 a week before: −187 in all, France −184 = 98 % of it.
    rows = []
    for offset in range(42):
        day = DAY + dt.timedelta(days=offset)
        gb = 300 + ((offset * 7) % 5) * 3
        fr = 20 if offset == 41 else 200 + ((offset * 3) % 4) * 2
        for country, code, amount in (("United Kingdom", "GB", gb), ("France", "FR", fr)):
            rows.append({"invoice_id": f"{code}{offset:02d}", "invoice_ts": f"{day} 10:00",
                         "country": country, "country_code": code, "unit_price": amount})
    publish_lines(warehouse, rows)
    rule = AlertRule(name="Unusual revenue", kind="anomaly", kpi="revenue", direction="down",
                     value=3.5, days=7)
    result = alerts.evaluate(rule, warehouse, alerts.Scope(), dt.date(2011, 4, 30))
    assert result.met is True and result.current == pytest.approx(326)
    assert result.details["z"] < -3.5
    assert result.sentence.startswith("Revenue (net) on 11 Apr 2011 was £326.00, unusually "
                                      "low against the 28 days before (expected about £5")
    assert result.sentence.endswith("; against the same day a week before, France accounts "
                                    "for 98 % of the drop (−£184).")
    up = alerts.evaluate(AlertRule(name="Up", kind="anomaly", kpi="revenue", direction="up",
                                   value=3.5, days=7),
                         warehouse, alerts.Scope(), dt.date(2011, 4, 30))
    assert up.met is False and up.sentence.startswith(
        "No unusual day of revenue (net) over the 7 days to 11 Apr 2011 (the most unusual: ")
    # GB alone saw nothing unusual
    gb = alerts.evaluate(rule, warehouse, alerts.Scope.of(["GB"]), dt.date(2011, 4, 30))
    assert gb.met is False


def test_a_slice_bigger_than_the_whole_change_is_said_so(settings, warehouse):
    # 1 Mar: GB 100, France 100; 2 Mar: GB 150, France 80. Revenue +30; the UK +50 (167 %)
    rows = [{"invoice_id": f"{code}{day}", "invoice_ts": f"2011-03-0{day} 10:00",
             "country": country, "country_code": code, "unit_price": amount}
            for day, country, code, amount in ((1, "United Kingdom", "GB", 100),
                                               (1, "France", "FR", 100),
                                               (2, "United Kingdom", "GB", 150),
                                               (2, "France", "FR", 80))]
    publish_lines(warehouse, rows)
    rule = AlertRule(name="Up", kind="change", kpi="revenue", direction="up", value=10, days=1)
    result = alerts.evaluate(rule, warehouse, alerts.Scope(), TODAY)
    assert result.sentence == (
        "Revenue (net) rose 15 % (£200.00 → £230.00) day on day; United Kingdom alone "
        "accounts for more than the whole rise (+£50; other countries moved the other way).")


def test_the_same_firing_and_explanation_on_postgresql(postgres_warehouse):
    publish_lines(postgres_warehouse, _lines())
    result = alerts.evaluate(AlertRule(**CHANGE), postgres_warehouse, alerts.Scope(), TODAY)
    assert result.sentence == ("Revenue (net) fell 28 % (£4,200 → £3,010) week on week; "
                               "France accounts for 88 % of the drop (−£1,050).")
    anomaly = AlertRule(name="a", kind="anomaly", kpi="revenue", direction="any", value=3.5,
                        days=7)
    # 14 days: shorter than the monitor's 28-day window
    assert alerts.evaluate(anomaly, postgres_warehouse, alerts.Scope(), TODAY).met is None
