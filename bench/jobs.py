"""Benchmark: background jobs and reports.

* ``job start``: enqueue → the worker marks the job running (``Job.started_at`` minus the
  moment before ``core.jobs.enqueue``), over ``BENCH_JOB_RUNS`` jobs (default 10) sent one
  after the other to an idle, real Celery worker; on the embedded SQLite broker and on
  Redis when it is reachable (``BENCH_REDIS_URL``, default database 13 of 127.0.0.1:6379,
  flushed). Each job is cancelled as soon as it runs: only the start is measured.
* ``report``: PDF and Excel generation (``core.reports.render_report``: every analytics
  query, the forecast and the file) on the full Online Retail file, for the default view
  (last 30 days of data) and for the whole history.

Targets: start < 0.5 s embedded, < 50 ms on Redis; the full-history PDF < 10 s.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import service_environment

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_JOB_RUNS", "10"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TARGETS = {"embedded": 0.5, "redis": 0.05, "pdf full history": 10.0}


def run() -> list[dict]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="shoplens-bench-jobs-") as folder:
        home = Path(folder) / "home"
        env = service_environment(home)
        settings = _prepare(env)
        rows += _start_latency("embedded", env, settings, Path(folder))
        if _reachable(REDIS_URL):
            import redis
            client = redis.Redis.from_url(REDIS_URL)
            client.flushdb()
            try:
                redis_env = {**env, "REDIS_URL": REDIS_URL}
                from core.settings import load_settings
                rows += _start_latency("redis", redis_env, load_settings(redis_env),
                                       Path(folder))
            finally:
                client.flushdb()
        else:
            rows.append({"benchmark": "job start", "case": "redis",
                         "note": f"Redis not reachable at {REDIS_URL}"})
        rows += _reports(settings, Path(folder))
    return rows


def _prepare(env: dict[str, str]):
    """App database, one analyst, and the full Online Retail file in the warehouse."""
    from analytics.warehouse import Warehouse
    from core import db
    from core.orm import User
    from core.settings import load_settings
    from data import loader

    settings = load_settings(env)
    db.migrate(settings.database_url)
    with db.session_scope(settings.database_url) as session:
        session.add(User(email="bench@example.com", role="analyst", password_hash="-"))
    warehouse = Warehouse(settings.warehouse_url)
    loader.load_sample(warehouse, "online-retail")
    warehouse.dispose()
    return settings


def _start_latency(case: str, env: dict[str, str], settings, folder: Path) -> list[dict]:
    from core import db, jobs
    from core.orm import User

    worker = _start_worker(env, folder / f"worker-{case}.log")
    latencies = []
    try:
        for _ in range(RUNS + 1):  # the first job warms the pool process up: not counted
            with db.session_scope(settings.database_url) as session:
                user = session.query(User).filter_by(email="bench@example.com").one()
                job_id = jobs.request_report(session, user, format="xlsx").id
            sent = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            jobs.enqueue(settings, job_id)
            job = _poll(settings, job_id, lambda j: j.started_at is not None, 60)
            latencies.append((job.started_at - sent).total_seconds())
            try:
                with db.session_scope(settings.database_url) as session:
                    user = session.query(User).filter_by(email="bench@example.com").one()
                    jobs.cancel_job(session, user, job_id)
            except jobs.JobError:
                pass  # it finished first: nothing to cancel
            _poll(settings, job_id, lambda j: j.status in jobs.FINISHED, 60)
    finally:
        _stop_worker(worker)
    counted = latencies[1:]
    median = statistics.median(counted)
    return [{"benchmark": "job start", "case": case, "runs": len(counted),
             "median_s": round(median, 4), "max_s": round(max(counted), 4),
             "target_s": TARGETS[case], "meets_target": median < TARGETS[case]}]


def _reports(settings, folder: Path) -> list[dict]:
    from analytics.filters import ALL_DATA, Filters
    from analytics.period import data_range
    from analytics.warehouse import Warehouse
    from core.reports import render_report

    warehouse = Warehouse(settings.warehouse_url)
    first, last = data_range(warehouse)
    views = {"last 30 days": Filters(), "full history": Filters(start=first, end=last)}
    render_report(warehouse, Filters(), ALL_DATA, "xlsx", folder / "warm-up", forecast=False)
    rows = []
    for view, filters in views.items():
        for report_format in ("pdf", "xlsx"):
            started = time.perf_counter()
            rendered = render_report(warehouse, filters, ALL_DATA, report_format,
                                     folder / f"{report_format}-{view.replace(' ', '-')}")
            seconds = time.perf_counter() - started
            target = TARGETS.get(f"{report_format} {view}")
            rows.append({"benchmark": "report", "case": f"{report_format} {view}",
                         "runs": 1, "median_s": round(seconds, 2), "max_s": round(seconds, 2),
                         "target_s": target,
                         "meets_target": None if target is None else seconds < target,
                         "note": f"{rendered.path.stat().st_size / 1024:,.0f} kB; forecast: "
                                 f"{rendered.content.forecast.reason or 'made'}"})
    warehouse.dispose()
    return rows


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    handle = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker",
         "-Q", "interactive,reports,loads", "-c", "1", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while b" ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the benchmark worker did not start:\n"
                               + log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.1)
    return process


def _stop_worker(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _poll(settings, job_id: str, condition, timeout: float):
    from core import db
    from core.orm import Job

    deadline = time.monotonic() + timeout
    while True:
        with db.session_scope(settings.database_url) as session:
            job = session.get(Job, job_id)
        if condition(job):
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} stuck in {job.status}")
        time.sleep(0.005)


def _reachable(url: str) -> bool:
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False
