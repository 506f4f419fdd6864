"""The worker started exactly as README's "Running in production" and docker-compose say:
the venv's ``celery`` console script, ``-A celery_app worker -B -Q
interactive,reports,loads``, with no PYTHONPATH. Celery puts the working directory on
``sys.path`` only while it imports the app; the packages a job imports later (``data`` for a
load) must be importable whatever the launcher, i.e. the project is installed in the venv
(``make install``: ``pip install -e . --no-deps``)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from core import db, jobs
from core.orm import User
from tests.workers.support import (ROOT, WorkerProcess, add_user, publish_tiny_shop,
                                   settings_for, slice_of_online_retail, wait_finished,
                                   worker_environment)

CELERY = Path(sys.executable).parent / "celery"
#: README's production command, after the console script
PRODUCTION_ARGS = ["-A", "celery_app", "worker", "-B", "-Q", "interactive,reports,loads"]


def test_readme_production_command_is_the_one_tested():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"celery {' '.join(PRODUCTION_ARGS)}" in readme


@pytest.mark.parametrize("cwd", ["repo", "elsewhere"])
def test_the_production_worker_runs_a_data_load(tmp_path, online_retail_path, cwd):
    assert CELERY.is_file(), f"no celery console script next to {sys.executable}"
    env = worker_environment(tmp_path / "home")
    env.pop("PYTHONPATH")  # the production command sets none
    settings = settings_for(env)
    warehouse = Warehouse(settings.warehouse_url)
    first_version = publish_tiny_shop(warehouse)
    admin_id = add_user(settings, "admin@example.com", "admin")
    settings.uploads.mkdir(parents=True)
    slice_of_online_retail(online_retail_path, settings.uploads / "slice.csv", 2_000)
    with db.session_scope(settings.database_url) as session:
        job_id = jobs.submit_job(session, session.get(User, admin_id), "data_load",
                                 {"path": "slice.csv"}, settings=settings).id

    workdir = ROOT if cwd == "repo" else tmp_path / "elsewhere"
    workdir.mkdir(exist_ok=True)
    worker = WorkerProcess(env, tmp_path / "worker.log", concurrency=1,
                           command=[str(CELERY), *PRODUCTION_ARGS], cwd=workdir)
    worker.start()
    try:
        jobs.enqueue(settings, job_id)
        job = wait_finished(settings, job_id, timeout=120, what="the data load")
    finally:
        worker.stop()
    assert job.status == "done", (job.error, worker.log())
    assert job.result["lines_loaded"] > 1_000
    assert warehouse.current_version() == job.data_version > first_version
    warehouse.dispose()
