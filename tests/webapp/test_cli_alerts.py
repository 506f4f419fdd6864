"""``flask alerts …`` through Flask's CLI runner on the tiny warehouse of conftest
(revenue 1 Mar 10, 2 Mar 30, 3 Mar 7): create, list, test, backtest, pause, resume and
delete, acting as the oldest admin or ``--as`` a user; refusals exit 1 with the service's
message."""
from __future__ import annotations

import re

import pytest

from core import db
from core.orm import AlertRule


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, ok: bool = True):
        result = runner.invoke(args=["alerts", *args])
        assert (result.exit_code == 0) == ok, result.output
        return result.output
    return run


def _created_id(output: str) -> int:
    return int(re.search(r"Created:\s+(\d+)", output).group(1))


def _rule(app, rule_id: int) -> AlertRule | None:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        rule = session.get(AlertRule, rule_id)
        if rule is not None:
            session.expunge(rule)
        return rule


def test_create_list_test_backtest_pause_resume_delete(app, cli):
    out = cli("create", "Low day", "--kind", "threshold", "--kpi", "revenue", "--direction",
              "below", "--value", "10", "--days", "1", "--as", "analyst@example.com")
    assert "Tell me when revenue (net) on the latest day is below £10" in out
    assert "owner: analyst@example.com" in out and "[threshold, armed]" in out
    rule_id = _created_id(out)
    assert "Low day" in cli("list", "--as", "analyst@example.com")
    assert "Low day" in cli("list")  # the admin sees everybody's
    assert "Low day" not in cli("list", "--as", "gb@example.com")

    tested = cli("test", str(rule_id), "--as", "analyst@example.com")
    assert tested.startswith("Would: fire\nRevenue (net) was £7.00 on 3 Mar 2011")
    backtested = cli("backtest", str(rule_id), "--as", "analyst@example.com")
    assert backtested.startswith("“Low day” would have fired on 1 day of the 3 from "
                                 "1–3 Mar 2011.\n  2011-03-03  Revenue (net) was £7.00")
    ranged = cli("backtest", str(rule_id), "--start", "2011-03-01", "--end", "2011-03-02")
    assert "would have fired on 0 days of the 2" in ranged

    assert "[threshold, paused]" in cli("pause", str(rule_id))
    assert _rule(app, rule_id).is_active is False
    assert "[threshold, armed]" in cli("resume", str(rule_id))
    assert "Deleted alert" in cli("delete", str(rule_id), "--as", "analyst@example.com")
    assert _rule(app, rule_id) is None


def test_create_with_compare_filters_and_webhook(app, cli):
    out = cli("create", "GB vs last year", "--kpi", "orders", "--direction", "down",
              "--value", "20", "--compare", "last_year", "--filters", "country=GB",
              "--as", "gb@example.com")
    rule = _rule(app, _created_id(out))
    assert (rule.compare, rule.filters, rule.email) == ("last_year", "country=GB", True)
    refused = cli("create", "Hook", "--kpi", "orders", "--direction", "down", "--value",
                  "20", "--webhook", "http://127.0.0.1:9/x", "--no-email", ok=False)
    assert "loopback" in refused
    nowhere = cli("create", "Nowhere", "--kpi", "orders", "--direction", "down", "--value",
                  "20", "--no-email", ok=False)
    assert "the alert must go somewhere" in nowhere


@pytest.mark.parametrize("args, message", [
    (("create", "x", "--kpi", "revnue", "--direction", "down", "--value", "5"),
     "unknown KPI 'revnue'"),
    (("create", "x", "--kpi", "orders", "--direction", "down", "--value", "5", "--filters",
      "country=FR", "--as", "gb@example.com"), "outside the owner's data scope"),
    (("create", "x", "--kind", "stale_data", "--value", "2", "--as", "analyst@example.com"),
     "for admins"),
    (("list", "--as", "nobody@example.com"), "no active user"),
    (("backtest", "999999"), "no alert 999999"),
    (("backtest", "1", "--start", "yesterday"), "YYYY-MM-DD"),
])
def test_refusals_exit_1_with_a_message(cli, args, message):
    assert message in cli(*args, ok=False)


def test_another_analysts_rule_is_refused(cli):
    rule_id = _created_id(cli("create", "Mine", "--kpi", "orders", "--direction", "down",
                              "--value", "20", "--as", "analyst@example.com"))
    for command in ("pause", "delete", "test", "backtest"):
        assert "another user" in cli(command, str(rule_id), "--as", "gb@example.com",
                                     ok=False)
