"""The same jobs on Redis (production's broker): a worker on REDIS_URL runs a report job
to done under the user's scope. Required in CI (REQUIRE_SERVICES=1)."""
from __future__ import annotations

import openpyxl
import pytest
import redis

from analytics.filters import Filters, Scope
from analytics.kpis import kpi_summary
from analytics.warehouse import Warehouse
from core import db, jobs
from core.orm import User
from tests.conftest import REDIS_URL, need_service
from tests.workers.support import (TINY_PERIOD, WorkerProcess, add_user, publish_tiny_shop,
                                   settings_for, wait_finished, worker_environment)

# a database of its own: other tests flush the shared test database
MARCH = Filters.from_query(TINY_PERIOD)
WORKER_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/13"


@pytest.fixture
def redis_shop(tmp_path):
    need_service("Redis", "127.0.0.1", 6379)
    client = redis.Redis.from_url(WORKER_REDIS_URL)
    client.flushdb()
    env = worker_environment(tmp_path / "home", REDIS_URL=WORKER_REDIS_URL)
    settings = settings_for(env)
    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        yield settings, warehouse, worker
    finally:
        worker.stop()
        warehouse.dispose()
        client.flushdb()


def test_a_report_job_runs_on_redis(redis_shop):
    settings, warehouse, worker = redis_shop
    assert settings.redis_url == WORKER_REDIS_URL
    user_id = add_user(settings, "french@example.com", "analyst", ["FR"])
    with db.session_scope(settings.database_url) as session:
        job_id = jobs.request_report(session, session.get(User, user_id), format="xlsx",
                                     filters=TINY_PERIOD).id
    jobs.enqueue(settings, job_id)
    job = wait_finished(settings, job_id, timeout=90, what="the job on Redis")
    assert job.status == "done", (job.error, worker.log())
    book = openpyxl.load_workbook(jobs.result_path(job, settings))
    revenue = next(row[2] for row in book["Summary KPIs"].iter_rows(values_only=True)
                   if row[1] == "revenue")
    expected = kpi_summary(warehouse, MARCH, Scope.of(["FR"]))["revenue"].current
    assert revenue == pytest.approx(expected) == pytest.approx(13.0)
