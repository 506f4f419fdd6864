"""A worker killed with SIGKILL in the middle of a job: the reaper finds the silent job,
queues it again once, and a new worker finishes it."""
from __future__ import annotations

import time

from analytics.warehouse import Warehouse
from core import db, jobs
from core.orm import Job, User
from tests.workers.support import (WorkerProcess, add_user, publish_tiny_shop, settings_for,
                                   slice_of_online_retail, wait_for, worker_environment)


def _job(settings, job_id) -> Job:
    with db.session_scope(settings.database_url) as session:
        return session.get(Job, job_id)


def test_a_killed_workers_job_is_reaped_and_run_again(tmp_path, online_retail_path):
    home = tmp_path / "home"
    env = worker_environment(home)
    settings = settings_for(env)
    warehouse = Warehouse(settings.warehouse_url)
    first_version = publish_tiny_shop(warehouse)
    admin_id = add_user(settings, "admin@example.com", "admin")
    settings.uploads.mkdir(parents=True)
    slice_of_online_retail(online_retail_path, settings.uploads / "slice.csv", 30_000)
    with db.session_scope(settings.database_url) as session:
        job_id = jobs.submit_job(session, session.get(User, admin_id), "data_load",
                                 {"path": "slice.csv"}, settings=settings).id

    doomed = WorkerProcess(env, tmp_path / "doomed.log").start()
    try:
        jobs.enqueue(settings, job_id)
        wait_for(lambda: _job(settings, job_id).progress > 0, timeout=60, every=0.02,
                 what="the load to start")
    finally:
        doomed.kill()
    silent = _job(settings, job_id)
    assert (silent.status, silent.attempts) == ("running", 1)

    assert jobs.reap_stale_jobs(settings, max_silence=60) == {"requeued": [], "failed": []}
    time.sleep(0.5)
    outcome = jobs.reap_stale_jobs(settings, max_silence=0.3)
    assert outcome == {"requeued": [job_id], "failed": []}
    requeued = _job(settings, job_id)
    assert requeued.status == "queued" and "stopped responding" in requeued.message

    rescuer = WorkerProcess(env, tmp_path / "rescuer.log").start()
    try:
        done = wait_for(lambda: (job := _job(settings, job_id)).status in jobs.FINISHED
                        and job, timeout=120, what="the requeued job")
    finally:
        rescuer.stop()
    assert done.status == "done", (done.error, rescuer.log())
    assert done.attempts == 2
    assert done.result["lines_loaded"] > 25_000
    assert warehouse.current_version() == done.data_version > first_version
    warehouse.dispose()
