"""``flask --app wsgi alerts …``: list, create, pause, resume, delete, test and backtest
alert rules (``core.alerts``), with the same rules as the API and the Alerts page.

The commands act as a user of the app (the audit log names them): ``--as EMAIL``, by
default the oldest active admin. An admin sees and changes everybody's rules and may
create operational ones; ``--as`` an analyst, only that analyst's own. Rules are evaluated
under their owner's data scope."""
from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup

from analytics.errors import ShoplensError
from core import alerts, db
from webapp import services
from webapp.cli_schedules import AS_OPTION, _actor

alerts_cli = AppGroup("alerts", help="Manage alert rules (KPI alerts e-mailed or posted to a "
                                     "webhook, with the slices that explain them).")


def _settings():
    return current_app.extensions["shoplens.settings"]


def _run(action):
    """Run ``action(session)`` in a committed session; the services' refusals become a
    clear error (exit 1)."""
    try:
        with db.session_scope(_settings().database_url) as session:
            return action(session)
    except ShoplensError as error:
        raise click.ClickException(str(error)) from None


def _line(rule) -> str:
    where = ", ".join(part for part in ("e-mail" if rule.email else "",
                                        f"webhook {rule.webhook_url}" if rule.webhook_url
                                        else "") if part)
    fired = f"{rule.last_fired_at:%Y-%m-%d %H:%M} UTC" if rule.last_fired_at else "never"
    return (f"{rule.id:>4}  {rule.name}  [{rule.kind}, {alerts.rule_state(rule)}]  "
            f"{alerts.describe(rule, services.locale())}  last fired: {fired}  "
            f"to: {where}  owner: {rule.owner.email}")


@alerts_cli.command("list")
@AS_OPTION
def list_alerts(acting: str | None) -> None:
    """List alert rules (all of them for an admin) with their state."""
    lines = _run(lambda session: [_line(rule) for rule in
                                  alerts.list_rules(session, _actor(session, acting))])
    click.echo("\n".join(lines) if lines else "No alert rules yet.")


@alerts_cli.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(alerts.KINDS), default="change", show_default=True,
              help="threshold, change, anomaly, forecast; admins: stale_data, load_failed, "
                   "delivery_failed.")
@click.option("--kpi", default="", help="The KPI (METRICS.md name: revenue, orders, …).")
@click.option("--direction", default="", help="threshold: below|above; change: down|up; "
                                              "anomaly: down|up|any; forecast: "
                                              "below|above|outside.")
@click.option("--value", type=float, default=None,
              help="threshold: the value; change: the percentage; anomaly: the |z|; "
                   "forecast: the interval in %; stale_data: days.")
@click.option("--days", type=int, default=7, show_default=True,
              help="The rule watches the data's last DAYS days.")
@click.option("--compare", type=click.Choice(alerts.COMPARES), default="previous",
              show_default=True, help="threshold and change: the previous days or the same "
                                      "days last year.")
@click.option("--filters", default="", help="The dashboard's filters as its URL query "
                                            "string, without dates: 'country=GB'.")
@click.option("--cooldown", "cooldown_hours", type=int, default=24, show_default=True,
              help="Hours before a condition that stays true is told again.")
@click.option("--webhook", default=None, metavar="URL",
              help="Also POST a JSON message here (https, public addresses only).")
@click.option("--no-email", is_flag=True, help="Do not e-mail the owner (needs --webhook).")
@AS_OPTION
def create(name, kind, kpi, direction, value, days, compare, filters, cooldown_hours,
           webhook, no_email, acting) -> None:
    """Create an alert rule named NAME, owned by the acting user."""
    data = {"name": name, "kind": kind, "kpi": kpi, "direction": direction, "value": value,
            "days": days, "compare": compare, "filters": filters,
            "cooldown_hours": cooldown_hours, "email": not no_email, "webhook_url": webhook}

    def action(session):
        rule = alerts.create_rule(session, _actor(session, acting), data,
                                  warehouse=services.warehouse(), settings=_settings())
        session.flush()
        return _line(rule)
    click.echo(f"Created: {_run(action)}")


def _update(rule_id: int, changes: dict, acting: str | None) -> str:
    def action(session):
        rule = alerts.update_rule(session, _actor(session, acting), rule_id, changes,
                                  warehouse=services.warehouse(), settings=_settings())
        return _line(rule)
    return _run(action)


@alerts_cli.command("pause")
@click.argument("rule_id", type=int)
@AS_OPTION
def pause(rule_id: int, acting: str | None) -> None:
    """Pause rule RULE_ID (it is not evaluated until resumed)."""
    click.echo(f"Paused: {_update(rule_id, {'is_active': False}, acting)}")


@alerts_cli.command("resume")
@click.argument("rule_id", type=int)
@AS_OPTION
def resume(rule_id: int, acting: str | None) -> None:
    """Resume rule RULE_ID."""
    click.echo(f"Resumed: {_update(rule_id, {'is_active': True}, acting)}")


@alerts_cli.command("delete")
@click.argument("rule_id", type=int)
@AS_OPTION
def delete(rule_id: int, acting: str | None) -> None:
    """Delete rule RULE_ID and its firings."""
    def action(session):
        actor = _actor(session, acting)
        name = alerts.get_rule(session, actor, rule_id).name
        alerts.delete_rule(session, actor, rule_id)
        return name
    click.echo(f"Deleted alert {rule_id} ({_run(action)}).")


@alerts_cli.command("test")
@click.argument("rule_id", type=int)
@AS_OPTION
def test(rule_id: int, acting: str | None) -> None:
    """Evaluate rule RULE_ID now, sending nothing: whether it would fire, and why."""
    def action(session):
        return alerts.try_rule(session, _actor(session, acting), rule_id,
                               services.warehouse(), currency=services.locale())
    tried = _run(action)
    click.echo(f"Would: {tried['would']}")
    click.echo(tried["sentence"])


def _day(text: str | None, name: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"--{name} {text}: a day is written YYYY-MM-DD.") from None


@alerts_cli.command("backtest")
@click.argument("rule_id", type=int)
@click.option("--days", type=int, default=90, show_default=True,
              help="Replay the data's last DAYS days.")
@click.option("--start", default=None, metavar="YYYY-MM-DD", help="Or replay from this day …")
@click.option("--end", default=None, metavar="YYYY-MM-DD", help="… to this one.")
@AS_OPTION
def backtest(rule_id: int, days: int, start: str | None, end: str | None,
             acting: str | None) -> None:
    """Replay rule RULE_ID day by day (nothing changes, nothing is sent): the days it
    would have fired on, each with its sentence."""
    def action(session):
        return alerts.backtest(session, _actor(session, acting), rule_id,
                               services.warehouse(), days=days, start=_day(start, "start"),
                               end=_day(end, "end"), currency=services.locale())
    answer = _run(action)
    click.echo(answer["summary"])
    for item in answer["fired"]:
        click.echo(f"  {item['day']}  {item['sentence']}")
