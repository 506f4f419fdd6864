"""Alert runs: evaluate every active rule under its owner's scope (after each data load and
by the beat's hourly task), record each firing, and send it; and an alert's test send.

Evaluation is ``core.alerts`` (``evaluate``, ``step``). Sending goes through the delivery
ledger (``core.mail``), the same as reports: each firing gets one ``Delivery`` per message,
an e-mail to the owner when ``rule.email``, a webhook post when ``rule.webhook_url``
(``core.webhooks``), each with its idempotency key, sent by ``mail.deliver``; a failed one
is retried by the minute sweep with backoff. The owner also gets a notification (the
navbar bell) for every firing.

The e-mail: the sentence, the numbers with their change, the slices that explain it per
dimension (a table), a small chart of the KPI's daily values over the period and the
previous one (``core.email_charts``) and a signed link to the view of the rule's filters
and period (``core.links``). The webhook: a Slack-compatible JSON payload (``text``,
``blocks``) with the structured alert under ``shoplens``.
"""
from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from html import escape

import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics import catalog, period
from analytics.errors import ShoplensError
from analytics.filters import Filters
from core import alerts, db, email_charts, installation, links, mail, notifications
from core.alerts import OPERATIONAL, evaluate, owner_scope, step
from core.formatting import format_date, format_value
from core.orm import AlertFiring, AlertRule, Delivery, User, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

CHART_CID = "kpi-chart"


# ----------------------------------------------------------------- runs
def evaluate_all(settings: Settings, today: dt.date | None = None,
                 now: dt.datetime | None = None) -> list[int]:
    """Evaluate every active rule under its owner's scope; record each firing and send
    its deliveries. Returns the ids of the firings. A rule that fails is logged and
    skipped; a delivery that fails stays in the ledger for the sweep."""
    from analytics.warehouse import Warehouse

    now = now or utcnow()
    today = today or now.date()
    fired: list[int] = []
    warehouse = Warehouse(settings.warehouse_url)
    try:
        with db.session_scope(settings.database_url) as session:
            rule_ids = list(session.scalars(sa.select(AlertRule.id).where(
                AlertRule.is_active.is_(True)).order_by(AlertRule.id)))
        for rule_id in rule_ids:
            try:
                made = _run_rule(settings, warehouse, rule_id, today, now)
            except ShoplensError as exc:
                log.warning("alert %s could not be evaluated: %s", rule_id, exc)
                continue
            except Exception:
                log.exception("alert %s failed", rule_id)
                continue
            if made is not None:
                firing_id, delivery_ids = made
                fired.append(firing_id)
                for delivery_id in delivery_ids:
                    send(settings, delivery_id, now)
    finally:
        warehouse.dispose()
    return fired


def send(settings: Settings, delivery_id: int, now: dt.datetime | None = None) -> str | None:
    """Send one delivery now (``mail.deliver``); a failure is recorded in the ledger and
    logged, not raised (the sweep retries it). Returns its status."""
    try:
        delivery = mail.deliver(settings, delivery_id, now=now)
    except mail.TRANSIENT_ERRORS as exc:
        log.warning("alert delivery %s failed; retried later: %s", delivery_id, exc)
        return "failed"
    except Exception:
        log.exception("alert delivery %s crashed", delivery_id)
        return "failed"
    return delivery.status if delivery else None


def _told_through(session, rule: AlertRule) -> dt.date | None:
    """For an anomaly rule, the last day its newest firing covered (each unusual day is
    told once, although it stays in the rule's window for ``days`` days)."""
    if rule.kind != "anomaly":
        return None
    return session.scalar(sa.select(AlertFiring.period_end).where(
        AlertFiring.rule_id == rule.id).order_by(AlertFiring.id.desc()).limit(1))


def _run_rule(settings: Settings, warehouse, rule_id: int, today: dt.date,
              now: dt.datetime) -> tuple[int, list[int]] | None:
    with db.session_scope(settings.database_url) as session:
        rule = session.get(AlertRule, rule_id)
        owner = rule.owner
        if not owner.is_active or not owner.has_role(
                "admin" if rule.kind in OPERATIONAL else "analyst"):
            return None  # deactivated or demoted since: the rule rests
        alerts.refresh_from_view(session, rule, warehouse)
        locale = installation.current_locale(session, settings, warehouse)
        evaluation = evaluate(rule, warehouse, owner_scope(owner), today, locale, session,
                              told_through=_told_through(session, rule))
        if step(rule, evaluation, now) != "fire":
            return None
        firing = AlertFiring(rule_id=rule.id, fired_at=now, period_start=evaluation.start,
                             period_end=evaluation.end, current=evaluation.current,
                             previous=evaluation.previous, sentence=evaluation.sentence,
                             explanation=evaluation.explanation,
                             data_version=evaluation.data_version)
        session.add(firing)
        session.flush()
        deliveries = [mail.create_delivery(session, firing, recipient, channel=channel)
                      for channel, recipient in destinations(rule)]
        notifications.notify(session, owner, "alert", f"Alert: {rule.name}",
                             body=firing.sentence, link=f"/alerts?firing={firing.id}",
                             ref=f"firing:{firing.id}")
        session.flush()
        return firing.id, [delivery.id for delivery in deliveries]


def destinations(rule: AlertRule) -> list[tuple[str, str]]:
    """(channel, recipient) of each message of the rule: the owner's e-mail when
    ``rule.email``, the webhook when ``rule.webhook_url``."""
    found = []
    if rule.email and rule.owner is not None and rule.owner.email:
        found.append(("email", rule.owner.email))
    if rule.webhook_url:
        found.append(("webhook", rule.webhook_url))
    return found


# ----------------------------------------------------------------- rendering
def render_firing(settings: Settings, session: Session, firing: AlertFiring, channel: str,
                  recipient: str, *, test: bool = False) -> EmailMessage | dict:
    """The message of ``firing`` for ``channel``: an e-mail to ``recipient`` (with the
    chart) or the webhook's payload. Used by ``mail.deliver`` the first time it sends."""
    rule = firing.rule if firing.rule is not None else session.get(AlertRule, firing.rule_id)
    return render(settings, rule, firing, channel, recipient, test=test)


def render(settings: Settings, rule: AlertRule, firing: AlertFiring, channel: str,
           recipient: str, *, test: bool = False) -> EmailMessage | dict:
    """The e-mail (with its chart and link) or the webhook payload of ``firing``."""
    link = view_link(settings, rule, firing)
    if channel == "webhook":
        return webhook_payload(settings, rule, firing, link, test=test)
    return message_for(settings, rule, firing, recipient,
                       chart=chart_for(settings, rule, firing), link=link, test=test)


def view_link(settings: Settings, rule: AlertRule, firing: AlertFiring) -> str:
    """The signed link to the view of the rule's filters and the firing's period (the
    Data page for operational rules)."""
    if rule.kind in OPERATIONAL:
        return links.view_link(settings, "/data", "", rule.owner_id)
    filters = Filters.from_query(rule.filters or "")
    if firing.period_start and firing.period_end:
        filters = filters.with_period(firing.period_start, firing.period_end)
    return links.view_link(settings, "/", filters.to_query(), rule.owner_id)


def chart_for(settings: Settings, rule: AlertRule, firing: AlertFiring) -> bytes | None:
    """The KPI's daily chart over the firing's period and the previous one, under the
    owner's scope; None for operational rules, without data, or when drawing fails (the
    e-mail goes without it)."""
    if rule.kind in OPERATIONAL or not rule.kpi or not firing.period_start \
            or not firing.period_end:
        return None
    from analytics.warehouse import Warehouse

    warehouse = Warehouse(settings.warehouse_url)
    try:
        filters = Filters.from_query(rule.filters or "").with_period(firing.period_start,
                                                                     firing.period_end)
        previous = None
        if getattr(rule, "compare", "previous") == "last_year":
            previous = filters.with_period(period.minus_years(firing.period_start, 1),
                                           period.minus_years(firing.period_end, 1))
        return email_charts.kpi_period_chart(
            warehouse, filters, owner_scope(rule.owner), rule.kpi,
            label=catalog.measure(rule.kpi).label,
            currency=installation.locale_for(settings, warehouse), previous=previous)
    except Exception:
        log.warning("the chart of alert firing %s could not be drawn", firing.id,
                    exc_info=True)
        return None
    finally:
        warehouse.dispose()


def _numbers(settings: Settings, rule: AlertRule, firing: AlertFiring) -> list[tuple]:
    """(label, text) of the firing's numbers: now, before, change."""
    if rule.kind in OPERATIONAL or not rule.kpi or firing.current is None:
        return []
    kind, locale = catalog.measure(rule.kpi).kind, installation.locale_for(settings)
    rows = [("Now", format_value(firing.current, kind, locale))]
    if firing.previous is not None:
        rows.append(("Before", format_value(firing.previous, kind, locale)))
        if firing.previous:
            change = (firing.current - firing.previous) / abs(firing.previous) * 100
            rows.append(("Change", f"{change:+.0f} %".replace("-", "−")))
    return rows


def _slices(settings: Settings, firing: AlertFiring) -> list[tuple[str, list[tuple]]]:
    """Per explaining dimension: its label and (value, before, after, share) rows."""
    explanation = firing.explanation or {}
    if not explanation.get("dimensions"):
        return []
    kind = catalog.measure(explanation.get("metric") or "revenue").kind
    locale = installation.locale_for(settings)
    return [(part["label"], [(entry["label"],
                              format_value(entry["previous"], kind, locale),
                              format_value(entry["current"], kind, locale),
                              f"{entry['share'] * 100:.0f} %")
                             for entry in part["contributors"]])
            for part in explanation["dimensions"].values()]


def message_for(settings: Settings, rule: AlertRule, firing: AlertFiring, recipient: str, *,
                chart: bytes | None = None, link: str | None = None,
                test: bool = False) -> EmailMessage:
    """The alert e-mail: the sentence, the numbers, the explaining slices per dimension,
    the chart and the signed link; "[test]" in the subject of a test send."""
    locale = installation.locale_for(settings)
    span = (f"{format_date(firing.period_start, locale)} – "
            f"{format_date(firing.period_end, locale)}"
            if firing.period_start and firing.period_end else None)
    facts = [("Period", span)] if span else []
    if rule.filters:  # in words, as reports say them ("channel Mobile App")
        from core.reports.content import filters_label
        facts.append(("Filters", filters_label(Filters.from_query(rule.filters))))
    facts.append(("Your data", str(owner_scope(rule.owner))))
    numbers, slices = _numbers(settings, rule, firing), _slices(settings, firing)
    intro = (f"This is a test of your Shoplens alert \"{rule.name}\"." if test
             else f"Your Shoplens alert \"{rule.name}\" fired.")

    lines = ["Hello,", "", intro, "", firing.sentence]
    if numbers:
        lines += ["", ", ".join(f"{label}: {text}" for label, text in numbers)]
    lines += [""] + [f"{name}: {value}" for name, value in facts]
    for label, rows in slices:
        lines += ["", f"By {label.lower()}:"]
        lines += [f"  {value}: {before} → {after} ({share} of the change)"
                  for value, before, after, share in rows]
    lines += ["", f"Manage your alerts: {settings.public_url}/alerts", "", "-- ", "Shoplens"]

    cell = 'style="padding:3px 12px 3px 0;text-align:left"'
    html = [f'<h2 style="font-size:18px;margin:0 0 8px">{escape(rule.name)}</h2>',
            f'<p style="color:#475569">{escape(intro)}</p>',
            f'<p style="font-size:15px"><strong>{escape(firing.sentence)}</strong></p>']
    if numbers:
        html.append('<table style="border-collapse:collapse;margin:8px 0"><tr>' + "".join(
            f'<td {cell}><span style="color:#64748b">{escape(label)}</span><br>'
            f'<strong>{escape(text)}</strong></td>' for label, text in numbers)
            + "</tr></table>")
    if chart:
        html.append(f'<p><img src="cid:{CHART_CID}" alt="{escape(rule.name, quote=True)}: '
                    f'daily values of the period and the previous one" width="480" '
                    f'style="max-width:100%;height:auto"></p>')
    for label, rows in slices:
        html.append(f'<p style="margin:12px 0 4px"><strong>By {escape(label.lower())}'
                    f'</strong></p><table style="border-collapse:collapse">'
                    f'<tr><th {cell}></th><th {cell}>Before</th><th {cell}>Now</th>'
                    f'<th {cell}>Share of the change</th></tr>' + "".join(
                        f"<tr><td {cell}>{escape(value)}</td><td {cell}>{escape(before)}"
                        f"</td><td {cell}>{escape(after)}</td><td {cell}>{escape(share)}"
                        f"</td></tr>" for value, before, after, share in rows)
                    + "</table>")
    html.append('<p style="color:#475569">' + "<br>".join(
        f"{escape(name)}: {escape(value)}" for name, value in facts) + "</p>")
    subject = f"{'[test] ' if test else ''}Shoplens alert: {rule.name}"
    return mail.build_html_message(settings, recipient=recipient, subject=subject,
                                   text="\n".join(lines), html="".join(html),
                                   images={CHART_CID: chart} if chart else None, link=link)


def _mrkdwn(text: str) -> str:
    """Text safe inside Slack mrkdwn (its three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(settings: Settings, rule: AlertRule, firing: AlertFiring, link: str, *,
                    test: bool = False) -> dict:
    """A Slack-compatible payload (``text``, ``blocks``) with the structured alert under
    ``shoplens``: rule, kpi, current, previous, period, explanation, link."""
    tag = "[test] " if test else ""
    summary = f"{tag}Shoplens alert \"{rule.name}\": {firing.sentence}"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text":
               f"*{_mrkdwn(tag + 'Shoplens alert: ' + rule.name)}*\n"
               f"{_mrkdwn(firing.sentence)}"}}]
    numbers = _numbers(settings, rule, firing)
    if numbers:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{label}*\n{_mrkdwn(text)}"} for label, text in numbers]})
    blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                               "text": f"<{link}|Open the view in Shoplens>"}})
    return {"text": summary, "blocks": blocks, "shoplens": {
        "test": test, "firing_id": firing.id,
        "rule": {"id": rule.id, "name": rule.name, "kind": rule.kind},
        "kpi": rule.kpi or None, "current": firing.current, "previous": firing.previous,
        "period": {"start": firing.period_start.isoformat() if firing.period_start else None,
                   "end": firing.period_end.isoformat() if firing.period_end else None},
        "sentence": firing.sentence, "explanation": firing.explanation, "link": link}}


# ----------------------------------------------------------------- test send
def send_test(settings: Settings, actor: User | int, rule_id: int, *,
              as_of: dt.date | None = None) -> list[dict]:
    """Send the rule's message now, "[test]" in its subject, from an evaluation of the
    current data (``alerts.try_rule``; the rule's state does not change), or of the data
    as it was on ``as_of`` (a day a backtest found: the message the rule would have sent
    after that day's load), to each of its
    destinations, through the ledger (deliveries of no job and no firing, keyed
    ``test:<rule>:<time>:<channel>``, not retried). For the rule's owner or an admin
    (the ``core.alerts`` errors otherwise). Returns the deliveries as dicts."""
    from analytics.warehouse import Warehouse

    now = utcnow()
    warehouse = Warehouse(settings.warehouse_url)
    try:
        with db.session_scope(settings.database_url) as session:
            user = session.get(User, actor if isinstance(actor, int) else actor.id)
            if user is None:
                raise alerts.AlertAccessDenied("sign in first")
            tried = alerts.try_rule(
                session, user, rule_id, warehouse, today=as_of or now.date(),
                currency=installation.current_locale(session, settings, warehouse))
            rule = alerts.get_rule(session, user, rule_id)
            targets = destinations(rule)
            if not targets:
                raise alerts.AlertError("this alert sends nothing: turn on its e-mail or "
                                        "give it a webhook URL")
            when = tried.get("period") or {}
            firing = AlertFiring(
                id=None, rule_id=rule.id, fired_at=now,
                period_start=_date(when.get("start")), period_end=_date(when.get("end")),
                current=tried.get("current"), previous=tried.get("previous"),
                sentence=tried.get("sentence") or "", explanation=tried.get("explanation"))
            stamp = now.strftime("%Y%m%dT%H%M%S%f")
            made = []
            for channel, recipient in targets:
                content = render(settings, rule, firing, channel, recipient, test=True)
                delivery = mail.create_delivery(session, None, recipient, channel=channel,
                                                key=f"test:{rule.id}:{stamp}:{channel}")
                session.flush()
                delivery.message_path = str(mail.store_rendered(settings, delivery, content))
                made.append(delivery.id)
    finally:
        warehouse.dispose()
    for delivery_id in made:
        send(settings, delivery_id)
    with db.session_scope(settings.database_url) as session:
        return [mail.delivery_to_dict(session.get(Delivery, delivery_id))
                for delivery_id in made]


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
