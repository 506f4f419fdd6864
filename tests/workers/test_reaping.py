"""Stuck jobs are recovered without beat, and after the broker forgot them.

* The reaper runs in every worker's own thread (celery_app), not only in the embedded beat:
  a worker whose beat child was killed still reaps a running job that went silent.
* A job queued in a Redis that restarts empty is not waited for forever: the reaper sees the
  broker no longer holds its message and sends it again (once: the task id is the job id),
  and a worker runs it to done; a job lost more than MAX_RESENDS times is failed, saying so.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest

from analytics.warehouse import Warehouse
from core import db, jobs, queue
from core.orm import Job, User, utcnow
from tests.workers.support import (TINY_PERIOD, RedisServer, WorkerProcess, add_user,
                                   publish_tiny_shop, settings_for, wait_finished, wait_for,
                                   worker_environment)


def _job(settings, job_id) -> Job:
    with db.session_scope(settings.database_url) as session:
        return session.get(Job, job_id)


def _report_job(settings) -> str:
    user_id = add_user(settings, "ana@example.com", "analyst")
    with db.session_scope(settings.database_url) as session:
        return jobs.request_report(session, session.get(User, user_id), format="xlsx",
                                   filters=TINY_PERIOD).id


def _children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    return [int(child) for child in open(path).read().split()]


def _state(pid: int) -> str:
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]


def _beat_child(worker: WorkerProcess) -> int:
    """The embedded beat of ``worker -B``: of the worker's children, the one that is not a
    pool process (those hold the pool's pipes; beat holds no more than its log)."""
    main = worker.process.pid
    children = wait_for(lambda: len(_children(main)) >= 2 and _children(main),
                        timeout=30, what="the pool and beat processes")
    return min(children, key=lambda child: len(os.listdir(f"/proc/{child}/fd")))


def test_a_silent_job_is_reaped_after_the_beat_child_died(tmp_path):
    env = worker_environment(tmp_path / "home", SHOPLENS_REAP_INTERVAL="0.5")
    settings = settings_for(env)
    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    worker = WorkerProcess(env, tmp_path / "worker.log", concurrency=1, beat=True).start()
    try:
        beat = _beat_child(worker)
        os.kill(beat, signal.SIGKILL)
        time.sleep(1)
        # the worker neither restarts its beat nor notices it is gone (a pool process it
        # would replace, and log the exit of)
        assert _state(beat) == "Z"
        assert f"pid:{beat} exited" not in worker.log()

        # a job whose worker died 10 minutes ago without a word
        job_id = _report_job(settings)
        long_ago = utcnow() - dt.timedelta(minutes=10)
        with db.session_scope(settings.database_url) as session:
            job = session.get(Job, job_id)
            job.status, job.worker, job.attempts = "running", "dead@host:1", 1
            job.started_at = job.heartbeat_at = long_ago
        done = wait_finished(settings, job_id, timeout=60, what="the silent job reaped")
    finally:
        worker.stop()
        warehouse.dispose()
    assert done.status == "done", (done.error, worker.log())
    assert done.attempts == 2  # queued again by the reaper, run by this worker


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def test_a_job_queued_in_a_redis_that_restarted_empty_is_sent_again(tmp_path, redis_server):
    env = worker_environment(tmp_path / "home", REDIS_URL=redis_server.url,
                             SHOPLENS_REAP_INTERVAL="0.5", SHOPLENS_QUEUED_GRACE="1")
    settings = settings_for(env)
    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    job_id = _report_job(settings)
    jobs.enqueue(settings, job_id)  # no worker yet: the message waits in Redis

    time.sleep(0.2)
    assert job_id in queue.pending_task_ids(settings)
    assert jobs.reconcile_queued(settings, grace=0) == {"resent": [], "lost": []}

    redis_server.restart_empty()
    assert queue.pending_task_ids(settings) == set()

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        done = wait_finished(settings, job_id, timeout=60, what="the lost job")
    finally:
        worker.stop()
        warehouse.dispose()
    assert done.status == "done", (done.error, worker.log())
    assert (done.resends, done.attempts) == (1, 1)


def test_a_job_the_broker_keeps_losing_is_failed_with_the_reason(tmp_path, redis_server):
    import redis

    env = worker_environment(tmp_path / "home", REDIS_URL=redis_server.url)
    settings = settings_for(env)
    job_id = _report_job(settings)
    jobs.enqueue(settings, job_id)
    client = redis.Redis.from_url(redis_server.url)
    for resend in range(1, jobs.MAX_RESENDS + 1):
        client.flushdb()  # our own throwaway server
        assert jobs.reconcile_queued(settings, grace=0) == {"resent": [job_id], "lost": []}
        job = _job(settings, job_id)
        assert (job.status, job.resends) == ("queued", resend)
        assert job.message.startswith("Stale: the task queue had lost this job")
        # sent again: held by the broker, so the next round leaves it alone
        assert jobs.reconcile_queued(settings, grace=0) == {"resent": [], "lost": []}
    client.flushdb()
    assert jobs.reconcile_queued(settings, grace=0) == {"resent": [], "lost": [job_id]}
    job = _job(settings, job_id)
    assert job.status == "failed" and job.message == "Lost by the task queue"
    assert f"sent again {jobs.MAX_RESENDS} times" in job.error
    client.close()


def test_the_embedded_broker_tells_which_jobs_it_holds(tmp_path):
    env = worker_environment(tmp_path / "home")
    settings = settings_for(env)
    job_id = _report_job(settings)
    assert queue.pending_task_ids(settings) == set()
    jobs.enqueue(settings, job_id)
    assert queue.pending_task_ids(settings) == {job_id}
    assert jobs.reconcile_queued(settings, grace=0) == {"resent": [], "lost": []}
