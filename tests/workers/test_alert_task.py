"""The alerts' beat task in a real Celery worker, e-mailing through a real SMTP server
(aiosmtpd): sent by name as beat sends it, the rule fires under its owner's scope and the
firing's delivery is recorded as sent in the ledger."""
from __future__ import annotations

from analytics.warehouse import Warehouse
from core import alerts, db, queue
from core.orm import AlertFiring, Delivery, User
from tests.workers.support import (Inbox, WorkerProcess, add_user, publish_tiny_shop,
                                   settings_for, wait_for, worker_environment)


def test_the_beat_task_evaluates_the_rules_and_mails_the_firings(tmp_path):
    home = tmp_path / "home"
    inbox = Inbox().start()
    env = worker_environment(home, SMTP_HOST="127.0.0.1", SMTP_PORT=inbox.port,
                             SMTP_TLS="none", SMTP_TIMEOUT="3",
                             MAIL_FROM="alerts@shop.example.com")
    settings = settings_for(env)
    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)  # its last day, 15 Mar 2011: a French return of £10
    warehouse.dispose()
    french = add_user(settings, "french@example.com", "analyst", ["FR"])
    with db.session_scope(settings.database_url) as session:
        rule_id = alerts.create_rule(session, session.get(User, french), {
            "name": "Negative day", "kind": "threshold", "kpi": "revenue",
            "direction": "below", "value": 0, "days": 1}).id
    worker = WorkerProcess(env, home / "worker.log").start()
    try:
        queue.for_settings(settings).send_task(queue.EVALUATE_ALERTS)
        [message] = wait_for(lambda: inbox.messages, timeout=90, what="the alert e-mail")
    finally:
        worker.stop()
        inbox.stop()
    assert message["To"] == "french@example.com"
    assert message["From"] == "alerts@shop.example.com"
    assert message["Subject"] == "Shoplens alert: Negative day"
    body = message.get_body(("plain",)).get_content()
    assert "Revenue (net) was −£10.00 on 15 Mar 2011, below the £0.00 threshold." in body
    assert "Your data: FR" in body
    assert message.get_body(("html",)) is not None
    with db.session_scope(settings.database_url) as session:
        [firing] = session.query(AlertFiring).all()
        assert (firing.rule_id, firing.current) == (rule_id, -10)
        [delivery] = session.query(Delivery).filter_by(firing_id=firing.id).all()
        assert (delivery.channel, delivery.recipient, delivery.status, delivery.attempts) == \
            ("email", "french@example.com", "sent", 1)
