"""Alert runs (core.alert_runs) through the delivery ledger: a firing's e-mail arrives at a
real SMTP server (aiosmtpd) as text + HTML + an inline chart and names the explaining
slice; a mail server that is down leaves the delivery failed with its next attempt, and the
sweep sends it later, once; webhooks to a real local HTTP receiver (retried on 500, given
up on 404 with a notification); a rule's test send.

The data: two weeks of revenue per day and country. Previous week (1–7 Mar): GB 300, FR 200,
DE 100 → 4,200. Current week (8–14 Mar): GB 300, FR 50, DE 80 → 3,010. Revenue fell
1,190 / 4,200 = 28 %; France 1,400 → 350 (−1,050) is 88 % of the drop."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from analytics.warehouse import Warehouse
from core import alert_runs, alerts, db, mail, notifications
from core.orm import AlertFiring, AlertRule, Delivery, Notification, User
from tests.analytics.conftest import publish_lines
from tests.core.test_webhooks import Receiver
from tests.workers.support import Inbox, add_user, free_port, settings_for, worker_environment

DAY = dt.date(2011, 3, 1)
DAILY = {"previous": {("United Kingdom", "GB"): 300, ("France", "FR"): 200,
                      ("Germany", "DE"): 100},
         "current": {("United Kingdom", "GB"): 300, ("France", "FR"): 50,
                     ("Germany", "DE"): 80}}
TODAY = dt.date(2011, 3, 20)
NOW = dt.datetime(2011, 3, 15, 7)
CHANGE = {"name": "Revenue down week on week", "kind": "change", "kpi": "revenue",
          "direction": "down", "value": 20, "days": 7}


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


def _settings(tmp_path, **env):
    settings = settings_for(worker_environment(tmp_path / "home", **env))
    warehouse = Warehouse(settings.warehouse_url)
    publish_lines(warehouse, _lines())
    warehouse.dispose()
    return settings.with_overrides(webhook_allowed_hosts=("127.0.0.1",), webhook_timeout=5.0)


@pytest.fixture
def settings(tmp_path):
    return _settings(tmp_path)


def _rule(settings, email="ann@example.com", *, send_email=True, webhook=None,
          data=CHANGE) -> int:
    user_id = add_user(settings, email, "analyst")
    with db.session_scope(settings.database_url) as session:
        rule = alerts.create_rule(session, session.get(User, user_id), dict(data))
        rule.email, rule.webhook_url = send_email, webhook
        return rule.id


def _deliveries(settings, firing_id) -> list[Delivery]:
    with db.session_scope(settings.database_url) as session:
        return list(session.scalars(sa.select(Delivery).where(
            Delivery.firing_id == firing_id).order_by(Delivery.id)))


def _smtp(settings, port):
    return settings.with_overrides(smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                                   smtp_timeout=3)


def test_a_firing_arrives_as_text_html_and_an_inline_chart(settings):
    rule_id = _rule(settings)
    inbox = Inbox().start()
    try:
        smtp = _smtp(settings, inbox.port)
        [firing_id] = alert_runs.evaluate_all(smtp, TODAY, NOW)
        assert alert_runs.evaluate_all(smtp, TODAY, NOW + dt.timedelta(hours=1)) == []
    finally:
        inbox.stop()
    [message] = inbox.messages
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Shoplens alert: Revenue down week on week"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    assert "France accounts for 88 % of the drop (−£1,050)" in text
    assert "France: £1,400 → £350.00 (88 % of the change)" in text
    assert "Now: £3,010, Before: £4,200, Change: −28 %" in text
    html = message.get_body(("html",)).get_content()
    assert "<td style=\"padding:3px 12px 3px 0;text-align:left\">France</td>" in html
    assert 'src="cid:kpi-chart"' in html
    assert "http" not in html.replace(smtp.public_url, "")  # no external resource
    [chart] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert chart["Content-ID"] == "<kpi-chart>"
    png = chart.get_content()
    assert png.startswith(b"\x89PNG") and len(png) <= 30 * 1024
    assert f"{smtp.public_url}/go/" in text  # the signed link to the view
    [delivery] = _deliveries(settings, firing_id)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", "sent", 1)
    assert delivery.idempotency_key == f"firing:{firing_id}:email:ann@example.com"
    with db.session_scope(settings.database_url) as session:
        [note] = session.scalars(sa.select(Notification)).all()
        owner = session.scalar(sa.select(AlertRule.owner_id).where(AlertRule.id == rule_id))
        assert (note.user_id, note.kind, note.ref) == (owner, "alert", f"firing:{firing_id}")
        assert note.link == f"/alerts?firing={firing_id}"
        assert "France accounts for 88 %" in note.body


def test_without_smtp_the_firing_goes_to_the_outbox(settings):
    _rule(settings)
    [firing_id] = alert_runs.evaluate_all(settings, TODAY, NOW)
    [delivery] = _deliveries(settings, firing_id)
    [eml] = list(settings.outbox.glob("*.eml"))
    assert delivery.status == "sent" and delivery.message_path == str(eml)
    # a day later the incident is still on: told once more after the 24-hour cool-down
    assert len(alert_runs.evaluate_all(settings, TODAY, NOW + dt.timedelta(hours=25))) == 1
    assert len(list(settings.outbox.glob("*.eml"))) == 2


def test_a_down_mail_server_fails_the_delivery_and_the_sweep_sends_it_once(settings):
    _rule(settings)
    port = free_port()
    smtp = _smtp(settings, port)
    [firing_id] = alert_runs.evaluate_all(smtp, TODAY, NOW)  # nobody listens on the port
    [delivery] = _deliveries(settings, firing_id)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error.startswith("ConnectionRefusedError")
    assert delivery.next_attempt_at == NOW + dt.timedelta(minutes=1)
    assert mail.deliveries_to_retry(smtp, NOW + dt.timedelta(seconds=30)) == []
    # the evaluation an hour later makes no new firing and no new delivery
    assert alert_runs.evaluate_all(smtp, TODAY, NOW + dt.timedelta(hours=1)) == []
    inbox = Inbox(port).start()
    try:
        later = NOW + dt.timedelta(minutes=2)
        due = mail.deliveries_to_retry(smtp, later)
        assert due == [delivery.id]
        for delivery_id in due:
            mail.deliver(smtp, delivery_id, now=later)
        for delivery_id in due:  # a second task for the same row (the Celery retry)
            mail.deliver(smtp, delivery_id, now=later)
        assert mail.deliveries_to_retry(smtp, later + dt.timedelta(hours=2)) == []
    finally:
        inbox.stop()
    assert len(inbox.messages) == 1
    [row] = _deliveries(settings, firing_id)
    assert (row.status, row.attempts, row.last_error, row.next_attempt_at) == \
        ("sent", 2, None, None)


def test_a_firing_is_posted_to_its_webhook(settings):
    with Receiver() as receiver:
        _rule(settings, send_email=False, webhook=receiver.url)
        [firing_id] = alert_runs.evaluate_all(settings, TODAY, NOW)
    [delivery] = _deliveries(settings, firing_id)
    assert (delivery.channel, delivery.recipient, delivery.status) == \
        ("webhook", receiver.url, "sent")
    [request] = receiver.requests
    assert request["headers"]["Idempotency-Key"] == f"firing:{firing_id}:webhook:{receiver.url}"
    payload = request["json"]
    assert payload["text"].startswith('Shoplens alert "Revenue down week on week": Revenue '
                                      "(net) fell 28 %")
    assert payload["blocks"][0]["type"] == "section"
    assert "France accounts for 88 % of the drop" in payload["blocks"][0]["text"]["text"]
    body = payload["shoplens"]
    assert (body["kpi"], body["current"], body["previous"]) == ("revenue", 3010, 4200)
    assert body["period"] == {"start": "2011-03-08", "end": "2011-03-14"}
    assert body["explanation"]["lead"] == "country"
    assert body["link"].startswith(f"{settings.public_url}/go/")
    assert list(settings.outbox.glob("*.eml")) == []  # e-mail is off for this rule


def test_a_webhook_answering_500_is_retried_then_sent_once(settings):
    with Receiver([500, 200]) as receiver:
        _rule(settings, send_email=False, webhook=receiver.url)
        [firing_id] = alert_runs.evaluate_all(settings, TODAY, NOW)
        [delivery] = _deliveries(settings, firing_id)
        assert delivery.status == "failed" and "HTTP 500" in delivery.last_error
        assert delivery.next_attempt_at == NOW + dt.timedelta(minutes=1)
        later = NOW + dt.timedelta(minutes=5)
        for delivery_id in mail.deliveries_to_retry(settings, later):
            mail.deliver(settings, delivery_id, now=later)
        assert mail.deliveries_to_retry(settings, later + dt.timedelta(hours=1)) == []
    assert [request["status"] for request in receiver.requests] == [500, 200]
    assert len(receiver.accepted) == 1
    key = {request["headers"]["Idempotency-Key"] for request in receiver.requests}
    assert key == {f"firing:{firing_id}:webhook:{receiver.url}"}  # the receiver can dedupe
    [row] = _deliveries(settings, firing_id)
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_webhook_answering_404_fails_for_good_and_tells_the_owner(settings):
    with Receiver([404]) as receiver:
        rule_id = _rule(settings, send_email=False, webhook=receiver.url)
        [firing_id] = alert_runs.evaluate_all(settings, TODAY, NOW)
        assert mail.deliveries_to_retry(settings, NOW + dt.timedelta(days=2)) == []
        [delivery] = _deliveries(settings, firing_id)
        assert mail.deliver(settings, delivery.id).status == "failed"  # a stray task: nothing
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert "HTTP 404" in delivery.last_error
    with db.session_scope(settings.database_url) as session:
        owner = session.get(AlertRule, rule_id).owner
        kinds = {note.kind: note for note in notifications.recent(session, owner)}
        assert set(kinds) == {"alert", "delivery"}
        assert "HTTP 404" in kinds["delivery"].body
        assert kinds["delivery"].ref == f"delivery:{delivery.id}"


def test_a_webhook_url_refused_at_send_time_fails_for_good(settings):
    _rule(settings, send_email=False, webhook="http://10.1.2.3/hook")  # saved before a change
    [firing_id] = alert_runs.evaluate_all(settings, TODAY, NOW)
    [delivery] = _deliveries(settings, firing_id)
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert "10.1.2.3, a private address" in delivery.last_error


def test_send_test_sends_the_rule_now_marked_test(settings):
    with Receiver() as receiver:
        rule_id = _rule(settings, webhook=receiver.url)
        with db.session_scope(settings.database_url) as session:
            owner = session.get(AlertRule, rule_id).owner
        sent = alert_runs.send_test(settings, owner, rule_id)
    assert [(item["channel"], item["status"], item["firing_id"], item["job_id"])
            for item in sent] == [("email", "sent", None, None), ("webhook", "sent", None, None)]
    [eml] = list(settings.outbox.glob("*.eml"))
    message = mail.read_eml(eml)
    assert message["Subject"] == "[test] Shoplens alert: Revenue down week on week"
    assert "This is a test of your Shoplens alert" in message.get_body(("plain",)).get_content()
    [request] = receiver.requests
    assert request["json"]["text"].startswith("[test] Shoplens alert")
    assert request["json"]["shoplens"]["test"] is True
    with db.session_scope(settings.database_url) as session:
        rule = session.get(AlertRule, rule_id)
        assert rule.armed is True and rule.last_fired_at is None  # its state is untouched
        assert session.query(AlertFiring).count() == 0
        keys = [row.idempotency_key for row in session.scalars(sa.select(Delivery))]
        assert all(key.startswith(f"test:{rule_id}:") for key in keys) and len(keys) == 2
    other = add_user(settings, "bob@example.com", "analyst")
    with pytest.raises((alerts.AlertNotFound, alerts.AlertAccessDenied)):
        alert_runs.send_test(settings, other, rule_id)


def test_send_test_as_of_a_past_day_sends_what_the_rule_saw_then(settings):
    """The message a backtest day would have sent: the period ends on that day. As of
    14 Mar (the data's last day) revenue fell 28 %, France 88 % of the drop; as of 10 Mar
    the 7 days 4–10 Mar (4 × 600 + 3 × 430 = 3,690) are above 25 Feb – 3 Mar (3 × 600 =
    1,800), so there is no drop to tell."""
    rule_id = _rule(settings)
    with db.session_scope(settings.database_url) as session:
        owner = session.get(AlertRule, rule_id).owner
    alert_runs.send_test(settings, owner, rule_id, as_of=dt.date(2011, 3, 14))
    alert_runs.send_test(settings, owner, rule_id, as_of=dt.date(2011, 3, 10))
    bodies = [mail.read_eml(path).get_body(("plain",)).get_content()
              for path in sorted(settings.outbox.glob("*.eml"))]
    assert len(bodies) == 2
    assert "France accounts for 88 % of the drop" in bodies[0] and "14 Mar 2011" in bodies[0]
    assert "France" not in bodies[1] and "10 Mar 2011" in bodies[1]


def test_the_operational_load_failed_alert_is_delivered(settings):
    from core.orm import DataLoad
    admin_id = add_user(settings, "root@example.com", "admin")
    with db.session_scope(settings.database_url) as session:
        rule_id = alerts.create_rule(session, session.get(User, admin_id),
                                     {"name": "Loads", "kind": "load_failed"}).id
        session.add(DataLoad(source="sales.csv", format="generic", status="failed",
                             error="too many rejected lines",
                             finished_at=dt.datetime(2011, 3, 20, 6, 30)))
    [firing_id] = alert_runs.evaluate_all(settings, TODAY, dt.datetime(2011, 3, 20, 7))
    [delivery] = _deliveries(settings, firing_id)
    assert delivery.status == "sent" and delivery.recipient == "root@example.com"
    message = mail.read_eml(settings.outbox / delivery.message_path.split("/")[-1])
    assert "too many rejected lines" in message.get_body(("plain",)).get_content()
    assert not [part for part in message.walk() if part.get_content_type() == "image/png"]
    with db.session_scope(settings.database_url) as session:
        assert session.get(AlertFiring, firing_id).rule_id == rule_id
