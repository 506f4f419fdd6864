"""Adding a job kind is one declaration: a throwaway kind registered here (and removed again
by its fixture) is role-checked and validated by ``core.jobs.submit_job``, sent to its own
queue with its own time limits, and run by its runner through the Celery task (applied
in-process, so Celery's own retry of transient errors runs too)."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pydantic
import pytest
import sqlalchemy as sa

from analytics.filters import Filters
from core import db, job_kinds, jobs
from core.orm import Job, User
from tests.workers.support import ROOT, add_user, settings_for, worker_environment

CALLS: list[dict] = []


class EchoOptions(job_kinds.Options):
    words: list[str] = pydantic.Field(min_length=1)
    shout: bool = False
    fail_times: int = 0   # the first calls fail on a temporary database error


def run_echo(settings, spec) -> dict:
    """The throwaway kind's runner: echoes what it was given."""
    CALLS.append({"id": spec.id, "kind": spec.kind})
    if sum(call["id"] == spec.id for call in CALLS) <= spec.options["fail_times"]:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("database is locked"))
    words = [word.upper() if spec.options["shout"] else word for word in spec.options["words"]]
    return {"result": {"words": words, "filters": spec.filters.to_dict()},
            "message": "Echoed"}


ECHO = job_kinds.JobKind(
    "echo", "echo", EchoOptions, runner=f"{__name__}:run_echo", role="admin",
    queue="reports", soft_time_limit=120, time_limit=180)


@pytest.fixture
def echo_kind(monkeypatch):
    """The table with the throwaway kind declared; the table is restored afterwards."""
    monkeypatch.setattr(job_kinds, "_KINDS", dict(job_kinds._KINDS))
    job_kinds.register(ECHO)
    CALLS.clear()
    return ECHO


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """Settings of a fresh home, also in the environment (the task reads its settings from
    there, as a worker does), and an analyst and an admin."""
    env = worker_environment(tmp_path / "home")
    for name in ("DATABASE_URL", "WAREHOUSE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOPLENS_HOME", env["SHOPLENS_HOME"])
    settings = settings_for(env)
    return settings, {"analyst": add_user(settings, "analyst@example.com", "analyst"),
                      "admin": add_user(settings, "admin@example.com", "admin")}


def _submit(settings, user_id, params) -> str:
    with db.session_scope(settings.database_url) as session:
        return jobs.submit_job(session, session.get(User, user_id), "echo", params).id


def _job(settings, job_id) -> Job:
    with db.session_scope(settings.database_url) as session:
        return session.get(Job, job_id)


def test_a_registered_kind_is_checked_queued_and_run(echo_kind, shop):
    settings, people = shop
    with pytest.raises(jobs.JobAccessDenied, match="running echo jobs needs the admin role"):
        _submit(settings, people["analyst"], {"options": {"words": ["hi"]}})
    with pytest.raises(jobs.JobError, match="colour: is not a known parameter"):
        _submit(settings, people["admin"], {"options": {"words": ["hi"], "colour": "red"}})
    with pytest.raises(jobs.JobError, match="words"):
        _submit(settings, people["admin"], {"options": {"words": []}})

    job_id = _submit(settings, people["admin"], {
        "filters": Filters(countries=("FR",)), "options": {"words": ["hi", "there"]}})
    assert _job(settings, job_id).params == {
        "filters": {"country": ["FR"]},
        "options": {"words": ["hi", "there"], "shout": False, "fail_times": 0}}

    jobs.enqueue(settings, job_id)
    with sqlite3.connect(settings.home / "broker.db") as broker:
        [(queue, payload)] = broker.execute(
            "SELECT q.name, m.payload FROM kombu_message m "
            "JOIN kombu_queue q ON q.id = m.queue_id").fetchall()
    message = json.loads(payload)
    assert queue == "reports"
    assert message["headers"]["id"] == job_id
    assert message["headers"]["timelimit"] == [180, 120]  # [hard, soft]

    from workers import tasks
    tasks.run_job.apply(args=[job_id])
    job = _job(settings, job_id)
    assert (job.status, job.message, job.attempts) == ("done", "Echoed", 1), job.error
    assert job.result == {"words": ["hi", "there"], "filters": {"country": ["FR"]}}
    assert CALLS == [{"id": job_id, "kind": "echo"}]


def test_celery_retries_a_temporary_error_then_gives_up(echo_kind, shop):
    settings, people = shop
    from workers import tasks

    recovers = _submit(settings, people["admin"],
                       {"words": ["again"], "shout": True, "fail_times": 2})
    tasks.run_job.apply(args=[recovers])
    job = _job(settings, recovers)
    assert (job.status, job.attempts) == ("done", 3), job.error
    assert job.result["words"] == ["AGAIN"]

    never = _submit(settings, people["admin"], {"words": ["no"], "fail_times": 99})
    tasks.run_job.apply(args=[never])
    job = _job(settings, never)
    assert job.status == "failed"
    assert job.attempts == tasks.run_job.max_retries + 1
    assert job.error.startswith("The job kept failing on a temporary error and was given up")
    assert "database is locked" in job.error


def test_the_table_is_restored_after_a_test():
    assert job_kinds.get("echo") is None
    assert "echo" not in job_kinds.names()


def test_a_name_is_declared_once_and_a_declaration_is_checked(echo_kind):
    with pytest.raises(ValueError, match="declared already"):
        job_kinds.register(ECHO)
    with pytest.raises(ValueError, match="queue"):
        job_kinds.JobKind("x", "x", EchoOptions, "m:f", queue="fast")
    with pytest.raises(ValueError, match="soft time limit"):
        job_kinds.JobKind("x", "x", EchoOptions, "m:f", soft_time_limit=60, time_limit=60)
    with pytest.raises(ValueError, match="module:function"):
        job_kinds.JobKind("x", "x", EchoOptions, "workers.handlers.run_model_job")


def test_the_api_lists_the_kinds_declared_in_api():
    from webapp.api import payloads
    kinds = payloads.JobRequest.model_json_schema()["properties"]["kind"]["enum"]
    assert kinds == list(job_kinds.api_names())
    assert {"forecast", "data_load"} <= set(kinds)
    assert not {"report_pdf", "scheduled_report"} & set(kinds)


def test_reading_the_table_imports_no_runner_and_no_heavy_model_library():
    """The web process builds its API and pages from the table: that must not import the
    workers' modules, Prophet or XGBoost (the runners are resolved on the worker)."""
    code = ("import sys, core.jobs, webapp.api.payloads, webapp.dashboard.jobs_ui; "
            "print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('workers', 'prophet', 'xgboost', 'mlxtend')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_model_kinds_are_the_analytics_models_with_their_parameters():
    """A model job kind names the analytics model it runs and that model's parameters."""
    from analytics.models import runner
    models = {kind.name: kind for kind in job_kinds.all_kinds()
              if kind.runner == job_kinds.MODEL_RUNNER}
    assert set(models) == set(runner.RUNNERS)
    for name, kind in models.items():
        assert kind.options is runner.params_model(name), name
