"""Alert kinds beyond threshold/change against the previous days (core.alerts), each on
hand-made data whose answers are worked out here: the same days a year before, the
forecast's prediction interval, failed deliveries (once per incident), where an alert goes,
and the backtest that replays a rule day by day and names the planted day and slice."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics.warehouse import Warehouse
from core import alerts, db, mail
from core.orm import AlertFiring, AlertRule, Delivery, User
from tests.analytics.conftest import publish_lines
from tests.workers.support import add_user, settings_for, worker_environment

TODAY = dt.date(2030, 1, 1)  # after every data set: periods end on the data's last day


def _publish(settings, rows: list[dict]) -> Warehouse:
    warehouse = Warehouse(settings.warehouse_url)
    publish_lines(warehouse, rows)
    return warehouse


def _line(invoice: str, day: dt.date, amount: float, country=("United Kingdom", "GB"),
          category: str | None = None) -> dict:
    row = {"invoice_id": invoice, "invoice_ts": f"{day} 10:00", "country": country[0],
           "country_code": country[1], "unit_price": float(amount), "quantity": 1.0}
    if category:
        row["category"] = category
    return row


@pytest.fixture
def settings(tmp_path):
    return settings_for(worker_environment(tmp_path / "home"))


@pytest.fixture
def make_warehouse(settings):
    made = []

    def make(rows):
        made.append(_publish(settings, rows))
        return made[-1]
    yield make
    for warehouse in made:
        warehouse.dispose()


# ----------------------------------------------------------------- last year
# 1–7 Mar 2010: GB 100 and FR 100 a day → 1,400. 1–7 Mar 2011: GB 100, FR 40 → 980.
# Change: −420 / 1,400 = −30 %; France: 700 → 280 (−420) is all of the drop. The previous
# 7 days (22–28 Feb 2011) have no sales: against them nothing can be said.
def _last_year_rows() -> list[dict]:
    rows = []
    for year, france in ((2010, 100), (2011, 40)):
        for offset in range(7):
            day = dt.date(year, 3, 1) + dt.timedelta(days=offset)
            rows.append(_line(f"G{year}{offset}", day, 100))
            rows.append(_line(f"F{year}{offset}", day, france, ("France", "FR")))
    return rows


LAST_YEAR = {"name": "Revenue against last year", "kind": "change", "kpi": "revenue",
             "direction": "down", "value": 20, "days": 7, "compare": "last_year"}


def test_change_against_the_same_days_last_year(make_warehouse):
    warehouse = make_warehouse(_last_year_rows())
    result = alerts.evaluate(alerts.AlertInput(**LAST_YEAR), warehouse, alerts.Scope(), TODAY)
    assert result.met is True
    assert (result.current, result.previous) == (pytest.approx(980), pytest.approx(1400))
    assert result.sentence == (
        "Revenue (net) fell 30 % (£1,400 → £980.00) against the same days a year before "
        "(1–7 Mar 2010); France accounts for 100 % of the drop (−£420).")
    [france] = result.explanation["dimensions"]["country"]["contributors"]
    assert (france["previous"], france["current"]) == (700, 280)
    # 30 % is within a 35 % rule; against the previous 7 days (no sales) nothing is known
    assert alerts.evaluate(alerts.AlertInput(**{**LAST_YEAR, "value": 35}), warehouse,
                           alerts.Scope(), TODAY).met is False
    previous = alerts.evaluate(alerts.AlertInput(**{**LAST_YEAR, "compare": "previous"}),
                               warehouse, alerts.Scope(), TODAY)
    assert previous.met is None


def test_a_threshold_is_explained_against_last_year(make_warehouse):
    warehouse = make_warehouse(_last_year_rows())
    rule = {**LAST_YEAR, "kind": "threshold", "direction": "below", "value": 1000}
    result = alerts.evaluate(alerts.AlertInput(**rule), warehouse, alerts.Scope(), TODAY)
    assert result.met is True and result.current == pytest.approx(980)
    assert result.sentence == (
        "Revenue (net) was £980.00 over the 7 days to 7 Mar 2011, below the £1,000 "
        "threshold; against the same days a year before, France accounts for 100 % of the "
        "drop (−£420).")


# ----------------------------------------------------------------- forecast
# 16 weeks of a weekly pattern (100 on weekdays, 160 on Saturday and Sunday): every model
# backtest of seasonal naive is exact, so the forecast of a normal week is its total with
# no room either side: 5 × 100 + 2 × 160 = 820. The planted week is halved: 410.
START = dt.date(2024, 1, 1)  # a Monday


def _pattern_rows(weeks: int, last_week_factor: float = 1.0) -> list[dict]:
    rows = []
    for offset in range(weeks * 7):
        day = START + dt.timedelta(days=offset)
        amount = 160 if day.weekday() >= 5 else 100
        if offset >= (weeks - 1) * 7:
            amount *= last_week_factor
        rows.append(_line(f"D{offset:03d}", day, amount))
    return rows


FORECAST = {"name": "Revenue off forecast", "kind": "forecast", "kpi": "revenue",
            "direction": "outside", "value": 80, "days": 7}


def test_forecast_rule_fires_on_a_planted_drop(make_warehouse):
    warehouse = make_warehouse(_pattern_rows(16, last_week_factor=0.5))
    result = alerts.evaluate(alerts.AlertInput(**FORECAST), warehouse, alerts.Scope(), TODAY)
    assert result.met is True
    assert result.current == pytest.approx(410) and result.previous == pytest.approx(820)
    assert result.details["lower"] == pytest.approx(820)
    assert result.details["model"] == "seasonal naive"
    assert result.sentence.startswith(
        "Revenue (net) over the 7 days to 21 Apr 2024 was £410.00, below the forecast's "
        "80 % range (£820.00–£820.00)")
    above = alerts.evaluate(alerts.AlertInput(**{**FORECAST, "direction": "above"}),
                            warehouse, alerts.Scope(), TODAY)
    assert above.met is False


def test_forecast_rule_is_quiet_on_normal_data(make_warehouse):
    warehouse = make_warehouse(_pattern_rows(16))
    result = alerts.evaluate(alerts.AlertInput(**FORECAST), warehouse, alerts.Scope(), TODAY)
    assert result.met is False and result.current == pytest.approx(820)
    assert ", within the forecast's 80 % range" in result.sentence


def test_forecast_rule_says_when_the_history_is_short(make_warehouse):
    warehouse = make_warehouse(_pattern_rows(11))  # 28 + 7 + 7 × 7 days are needed before
    result = alerts.evaluate(alerts.AlertInput(**FORECAST), warehouse, alerts.Scope(), TODAY)
    assert result.met is None and "needs 84 days" in result.sentence


def test_forecast_range_widens_with_the_backtest_errors():
    # errors of seasonal naive on the 6 folds' totals come from the noise; the interval
    # holds the forecast plus their 10th…90th percentiles
    history = [100.0 + (3 if (day // 7) % 2 else -3) for day in range(100)]
    predicted = alerts.forecast_range(history, 7, 80)
    assert predicted["lower"] < predicted["forecast"] < predicted["upper"]


# ----------------------------------------------------------------- delivery_failed
def _admin_rule(settings, data: dict) -> tuple[int, int]:
    admin_id = add_user(settings, "ops@example.com", "admin")
    with db.session_scope(settings.database_url) as session:
        rule = alerts.create_rule(session, session.get(User, admin_id), data)
        return admin_id, rule.id


def _failed(session, recipient: str, when: dt.datetime, attempts=mail.MAX_ATTEMPTS,
            retry_at: dt.datetime | None = None, error="SMTPServerDisconnected: gone",
            firing_id=None) -> None:
    session.add(Delivery(recipient=recipient, status="failed", attempts=attempts,
                         last_error=error, next_attempt_at=retry_at, created_at=when,
                         updated_at=when, firing_id=firing_id))
    session.flush()


def test_delivery_failed_fires_once_per_incident(settings, make_warehouse):
    warehouse = make_warehouse(_last_year_rows())
    _admin, rule_id = _admin_rule(settings, {"name": "Deliveries", "kind": "delivery_failed"})
    t0 = dt.datetime(2025, 3, 9, 8, 0)
    with db.session_scope(settings.database_url) as session:
        rule = session.get(AlertRule, rule_id)

        def run(now):
            evaluation = alerts.evaluate(rule, warehouse, alerts.Scope(), now.date(),
                                         session=session)
            return alerts.step(rule, evaluation, now), evaluation

        assert run(t0)[0] == "quiet"
        # one still being retried: not failed for good
        _failed(session, "a@example.com", t0, attempts=1, retry_at=t0 + dt.timedelta(hours=1))
        assert run(t0 + dt.timedelta(minutes=5))[0] == "quiet"
        _failed(session, "a@example.com", t0 + dt.timedelta(minutes=6))
        _failed(session, "b@example.com", t0 + dt.timedelta(minutes=7), error="Timeout")
        what, evaluation = run(t0 + dt.timedelta(minutes=10))
        assert what == "fire"
        assert evaluation.sentence == (
            "2 deliveries failed after the last attempt (2 alert messages); the newest, an "
            "alert e-mail to b@example.com: Timeout.")
        # the same incident: nothing new since it fired, so it re-arms quietly
        assert run(t0 + dt.timedelta(minutes=20))[0] == "quiet"
        assert run(t0 + dt.timedelta(minutes=30))[0] == "quiet"
        # a new failure is a new incident; the rule's own messages never count
        firing = AlertFiring(rule_id=rule.id, sentence="x")
        session.add(firing)
        session.flush()
        _failed(session, "https://hooks.example.com/x", t0 + dt.timedelta(minutes=31),
                firing_id=firing.id)
        assert run(t0 + dt.timedelta(minutes=40))[0] == "quiet"
        _failed(session, "c@example.com", t0 + dt.timedelta(minutes=41))
        what, evaluation = run(t0 + dt.timedelta(minutes=50))
        assert what == "fire" and evaluation.sentence.startswith("1 delivery failed")


def test_delivery_failed_is_for_admins(settings):
    analyst_id = add_user(settings, "an@example.com", "analyst")
    with db.session_scope(settings.database_url) as session:
        with pytest.raises(alerts.AlertAccessDenied, match="for admins"):
            alerts.create_rule(session, session.get(User, analyst_id),
                               {"name": "x", "kind": "delivery_failed"})


# ----------------------------------------------------------------- where it goes
@pytest.mark.parametrize("changes, message", [
    ({"email": False}, "the alert must go somewhere"),
    ({"compare": "yesterday"}, "compare"),
    ({"kind": "anomaly", "compare": "last_year", "direction": "down"},
     "compare applies to threshold and change rules"),
    ({"kind": "forecast", "kpi": "aov", "compare": "previous"}, "the forecast rule watches"),
    ({"kind": "forecast", "value": 100, "compare": "previous"}, "between 50 and 99"),
    ({"webhook_url": "http://127.0.0.1:9/hook"}, "loopback"),
    ({"webhook_url": "ftp://example.com/x"}, "https://"),
])
def test_bad_rules_are_refused(settings, changes, message):
    analyst_id = add_user(settings, "an@example.com", "analyst")
    with db.session_scope(settings.database_url) as session:
        with pytest.raises(alerts.AlertError, match=message):
            alerts.create_rule(session, session.get(User, analyst_id),
                               {**LAST_YEAR, **changes}, settings=settings)


def test_a_webhook_alone_is_somewhere(settings):
    allowed = settings_for(worker_environment(settings.home,
                                              WEBHOOK_ALLOWED_HOSTS="127.0.0.1:8765"))
    analyst_id = add_user(allowed, "an@example.com", "analyst")
    with db.session_scope(allowed.database_url) as session:
        rule = alerts.create_rule(session, session.get(User, analyst_id),
                                  {**LAST_YEAR, "email": False,
                                   "webhook_url": " http://127.0.0.1:8765/hook "},
                                  settings=allowed)
        shape = alerts.rule_to_dict(rule)
    assert (shape["email"], shape["webhook_url"], shape["compare"]) == (
        False, "http://127.0.0.1:8765/hook", "last_year")
    assert shape["state"] == "armed"


# ----------------------------------------------------------------- backtest
# 70 days from 1 Jan 2024; GB, France and Germany each sell every day with a little noise;
# on 1 Mar 2024 (day 60) France sells nothing: revenue that day is about 600 instead of
# about 1,050. Category: GB and Germany sell Books, France Toys.
PLANTED = dt.date(2024, 3, 1)


def _backtest_rows() -> list[dict]:
    rows = []
    for offset in range(70):
        day = START + dt.timedelta(days=offset)
        noise = (offset * 37) % 11 - 5
        for country, base, category in ((("United Kingdom", "GB"), 400, "Books"),
                                        (("France", "FR"), 450, "Toys"),
                                        (("Germany", "DE"), 200, "Books")):
            if country[1] == "FR" and day == PLANTED:
                continue
            rows.append(_line(f"{country[1]}{offset:03d}", day, base + noise, country,
                              category))
    return rows


ANOMALY = {"name": "Revenue anomaly", "kind": "anomaly", "kpi": "revenue",
           "direction": "down", "value": 3.5, "days": 1}


def test_backtest_names_the_planted_day_and_slice(settings, make_warehouse):
    warehouse = make_warehouse(_backtest_rows())
    analyst_id = add_user(settings, "an@example.com", "analyst")
    with db.session_scope(settings.database_url) as session:
        analyst = session.get(User, analyst_id)
        answer = alerts.backtest(session, analyst, ANOMALY, warehouse, days=30, today=TODAY)
        # nothing was saved
        assert session.query(AlertRule).count() == 0
    assert (answer["start"], answer["end"], answer["days"]) == ("2024-02-10", "2024-03-10", 30)
    [fired] = answer["fired"]
    assert fired["day"] == "2024-03-01" and fired["met"] is True
    assert fired["sentence"].startswith("Revenue (net) on 1 Mar 2024 was £")
    assert "France alone accounts for more than the whole drop" in fired["sentence"]
    assert fired["explanation"]["dimensions"]["country"]["contributors"][0]["label"] == "France"
    assert fired["explanation"]["dimensions"]["category"]["contributors"][0]["label"] == "Toys"
    assert answer["summary"].startswith("“Revenue anomaly” would have fired on 1 day of the 30")


def test_an_unusual_day_is_told_once_while_it_stays_in_a_7_day_window(settings,
                                                                        make_warehouse):
    """With days = 7 the planted 1 Mar stays in the rule's window until 7 Mar, and the cool-
    down (24 h) passes daily: still one message, in the backtest and in real runs (each run
    judges only the days after those the last message covered)."""
    from core import alert_runs

    warehouse = make_warehouse(_backtest_rows())
    analyst_id = add_user(settings, "an@example.com", "analyst")
    weekly = {**ANOMALY, "days": 7}
    with db.session_scope(settings.database_url) as session:
        analyst = session.get(User, analyst_id)
        answer = alerts.backtest(session, analyst, weekly, warehouse, days=30, today=TODAY)
        assert [item["day"] for item in answer["fired"]] == ["2024-03-01"]
        alerts.create_rule(session, analyst, weekly, warehouse=warehouse)
    told = []
    for offset in range(7):  # the runs after the loads of 1 … 7 Mar
        day = dt.date(2024, 3, 1) + dt.timedelta(days=offset)
        now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6))
        told += alert_runs.evaluate_all(settings, day, now)
    assert len(told) == 1
    with db.session_scope(settings.database_url) as session:
        firing = session.get(AlertFiring, told[0])
        assert firing.sentence.startswith("Revenue (net) on 1 Mar 2024 was £")


def test_backtest_applies_the_cool_down(settings, make_warehouse):
    # revenue below 1,100 a day holds on most days: one firing, then it cools until the
    # condition clears (re-armed) or 48 h pass
    warehouse = make_warehouse(_backtest_rows())
    analyst_id = add_user(settings, "an@example.com", "analyst")
    rule = {"name": "Low days", "kind": "threshold", "kpi": "revenue", "direction": "below",
            "value": 1100, "days": 1}
    with db.session_scope(settings.database_url) as session:
        analyst = session.get(User, analyst_id)
        every_day = alerts.backtest(session, analyst, {**rule, "cooldown_hours": 24},
                                    warehouse, days=10, today=TODAY)
        cooling = alerts.backtest(session, analyst, {**rule, "cooldown_hours": 0},
                                  warehouse, days=10, today=TODAY)
    # revenue on each of 1–10 Mar: 1,050 + noise (−5…+5) except 1 Mar (600 + noise):
    # every day is below 1,100; a 24 h cool-down fires daily, no cool-down fires once
    assert every_day["count"] == 10 and cooling["count"] == 1
    assert cooling["fired"][0]["day"] == "2024-03-01"


def test_backtest_of_a_change_rule_against_last_year(settings, make_warehouse):
    warehouse = make_warehouse(_last_year_rows())
    analyst_id = add_user(settings, "an@example.com", "analyst")
    with db.session_scope(settings.database_url) as session:
        analyst = session.get(User, analyst_id)
        saved = alerts.create_rule(session, analyst, {**LAST_YEAR, "cooldown_hours": 0})
        once = alerts.backtest(session, analyst, saved.id, warehouse,
                               start=dt.date(2011, 3, 1), end=dt.date(2011, 3, 7),
                               today=TODAY)
        daily = alerts.backtest(session, analyst, {**LAST_YEAR, "cooldown_hours": 24},
                                warehouse, start=dt.date(2011, 3, 1),
                                end=dt.date(2011, 3, 7), today=TODAY)
    # as of 1 Mar 2011 the 7 days 23 Feb…1 Mar 2011 hold 140 (GB 100 + FR 40), the same
    # days of 2010 hold 200 (1 Mar 2010 only): −30 %. Every day after is −30 % as well:
    # without a cool-down that is one incident; with 24 h it is told every day
    assert [item["day"] for item in once["fired"]] == ["2011-03-01"]
    assert (once["fired"][0]["current"], once["fired"][0]["previous"]) == (
        pytest.approx(140), pytest.approx(200))
    assert daily["count"] == 7 and daily["fired"][-1]["current"] == pytest.approx(980)


def test_backtest_refuses_operational_rules_and_empty_ranges(settings, make_warehouse):
    warehouse = make_warehouse(_last_year_rows())
    admin_id = add_user(settings, "ops@example.com", "admin")
    with db.session_scope(settings.database_url) as session:
        admin = session.get(User, admin_id)
        with pytest.raises(alerts.AlertError, match="operational"):
            alerts.backtest(session, admin, {"name": "x", "kind": "load_failed"}, warehouse)
        with pytest.raises(alerts.AlertError, match="is empty"):
            alerts.backtest(session, admin, LAST_YEAR, warehouse, start=dt.date(2012, 1, 1),
                            end=dt.date(2012, 1, 2), today=TODAY)


def test_the_same_backtest_last_year_and_forecast_on_postgresql(postgres_warehouse):
    publish_lines(postgres_warehouse, _backtest_rows())
    analyst = User(email="pg@example.com", role="analyst", is_active=True)
    answer = alerts.backtest(None, analyst, ANOMALY, postgres_warehouse, days=30, today=TODAY)
    assert [item["day"] for item in answer["fired"]] == ["2024-03-01"]
    assert "France alone accounts for more than the whole drop" in \
        answer["fired"][0]["sentence"]


def test_last_year_and_forecast_on_postgresql(postgres_warehouse):
    publish_lines(postgres_warehouse, _last_year_rows() + _pattern_rows(16, 0.5))
    # as of 7 Mar 2011 (the data goes on to 2024: "today" ends the period)
    result = alerts.evaluate(alerts.AlertInput(**LAST_YEAR), postgres_warehouse,
                             alerts.Scope.of(["FR"]), dt.date(2011, 3, 7))
    # France alone: 700 → 280, −60 %; one country, one product: nothing to split it by
    assert (result.current, result.previous) == (pytest.approx(280), pytest.approx(700))
    forecast = alerts.evaluate(alerts.AlertInput(**FORECAST), postgres_warehouse,
                               alerts.Scope.of(["GB"]), TODAY)
    assert forecast.met is True and forecast.current == pytest.approx(410)


def test_a_saved_webhook_is_not_checked_again_to_pause(settings):
    allowed = settings_for(worker_environment(settings.home,
                                              WEBHOOK_ALLOWED_HOSTS="127.0.0.1:8765"))
    analyst_id = add_user(allowed, "an@example.com", "analyst")
    with db.session_scope(allowed.database_url) as session:
        analyst = session.get(User, analyst_id)
        rule = alerts.create_rule(session, analyst, {**LAST_YEAR,
                                                     "webhook_url": "http://127.0.0.1:8765/h"},
                                  settings=allowed)
        # without the allowance the URL would be refused: pausing does not ask again …
        alerts.update_rule(session, analyst, rule.id, {"is_active": False}, settings=settings)
        assert rule.is_active is False
        # … changing the URL does
        with pytest.raises(alerts.AlertError, match="loopback"):
            alerts.update_rule(session, analyst, rule.id,
                               {"webhook_url": "http://127.0.0.1:9/other"}, settings=settings)


# ----------------------------------------------------------------- saved views
def test_a_rule_following_a_saved_view_watches_its_filters_as_they_are_at_each_run(
        settings, make_warehouse):
    """The rule copies the view's filters (not its dates: the rule keeps its 1-day window)
    when saved and again before each run; a changed view re-arms it. Revenue on 7 Mar:
    GB 100, FR 40; "below 50" holds for FR only, so the rule fires once the view is
    switched from GB to FR. Unshared from the owner, the rule keeps its last filters and
    the owner is told."""
    from core import alert_runs, views
    from core.orm import Notification

    rows = [_line(f"{code}{day}", dt.date(2011, 3, day), amount, country)
            for day in range(1, 8)
            for country, code, amount in ((("United Kingdom", "GB"), "G", 100),
                                          (("France", "FR"), "F", 40))]
    warehouse = make_warehouse(rows)
    admin_id = add_user(settings, "admin@example.com", "admin")
    ann_id = add_user(settings, "ann@example.com", "analyst")
    with db.session_scope(settings.database_url) as session:
        admin = session.get(User, admin_id)
        view = views.create_view(session, admin, {
            "name": "UK", "page": "/", "filters": "country=GB", "period": "last_30",
            "sharing": "everyone"})
        session.flush()
        ann = session.get(User, ann_id)
        rule = alerts.create_rule(session, ann, {
            "name": "Small day", "kind": "threshold", "kpi": "revenue", "direction": "below",
            "value": 50, "days": 1, "saved_view_id": view.id}, warehouse=warehouse)
        assert (rule.filters, rule.saved_view_id) == ("country=GB", view.id)
        with pytest.raises(alerts.AlertError, match="not both"):
            alerts.create_rule(session, ann, {
                "name": "Both", "kind": "threshold", "kpi": "revenue", "direction": "below",
                "value": 50, "days": 1, "saved_view_id": view.id, "filters": "country=FR"},
                warehouse=warehouse)
        view_id, rule_id = view.id, rule.id
    now = dt.datetime(2030, 1, 1, 7)
    assert alert_runs.evaluate_all(settings, TODAY, now) == []  # GB: £100 ≥ £50
    with db.session_scope(settings.database_url) as session:
        views.update_view(session, session.get(User, admin_id), view_id,
                          {"filters": "country=FR"})
    [firing_id] = alert_runs.evaluate_all(settings, TODAY, now + dt.timedelta(hours=1))
    with db.session_scope(settings.database_url) as session:
        assert session.get(AlertRule, rule_id).filters == "country=FR"
        assert session.get(AlertFiring, firing_id).current == 40
        views.update_view(session, session.get(User, admin_id), view_id,
                          {"sharing": "private"})
    alert_runs.evaluate_all(settings, TODAY, now + dt.timedelta(hours=2))
    with db.session_scope(settings.database_url) as session:
        rule = session.get(AlertRule, rule_id)
        assert (rule.saved_view_id, rule.filters) == (None, "country=FR")
        titles = [n.title for n in session.query(Notification).filter_by(user_id=ann_id)]
        assert "Alert “Small day” no longer follows its saved view" in titles
