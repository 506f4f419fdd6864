"""Job services on a real app database and the embedded broker (no worker here: the
worker tests are in tests/workers)."""
from __future__ import annotations

import datetime as dt
import re
import sqlite3

import pytest
import sqlalchemy as sa

from analytics.filters import Filters
from core import db, jobs
from core.orm import Job, utcnow
from tests.workers.support import add_user, settings_for, worker_environment


@pytest.fixture
def settings(tmp_path):
    return settings_for(worker_environment(tmp_path / "home"))


@pytest.fixture
def people(settings):
    return {
        "viewer": add_user(settings, "viewer@example.com", "viewer"),
        "analyst": add_user(settings, "analyst@example.com", "analyst", ["FR", "DE"]),
        "other": add_user(settings, "other@example.com", "analyst"),
        "admin": add_user(settings, "admin@example.com", "admin"),
    }


@pytest.fixture
def session(settings):
    with db.session_scope(settings.database_url) as session:
        yield session


def user(session, people, name):
    from core.orm import User
    return session.get(User, people[name])


def test_submit_validates_role_kind_and_params(session, people, settings):
    analyst = user(session, people, "analyst")
    with pytest.raises(jobs.JobAccessDenied, match="analyst"):
        jobs.submit_job(session, user(session, people, "viewer"), "forecast", {})
    with pytest.raises(jobs.JobAccessDenied, match="admin"):
        jobs.submit_job(session, analyst, "data_load", {"path": "x.csv"})
    with pytest.raises(jobs.JobError, match="unknown job kind"):
        jobs.submit_job(session, analyst, "mining", {})
    with pytest.raises(jobs.JobError, match="start must be a date"):
        jobs.submit_job(session, analyst, "forecast", {"start": "yesterday"})
    with pytest.raises(jobs.JobError, match="horizon"):
        jobs.submit_job(session, analyst, "forecast", {"horizon": 0})
    # one wording for every kind: a model's options are checked like a report's
    with pytest.raises(jobs.JobError, match="colour: is not a known parameter"):
        jobs.submit_job(session, analyst, "clustering", {"colour": "red"})
    with pytest.raises(jobs.JobError, match="colour: is not a known parameter"):
        jobs.submit_job(session, analyst, "report_pdf", {"colour": "red"})
    with pytest.raises(jobs.JobError, match="started by their schedule"):
        jobs.submit_job(session, analyst, "scheduled_report", {})


def test_submit_stores_filters_options_and_the_users_scope(session, people):
    analyst = user(session, people, "analyst")
    job = jobs.submit_job(session, analyst, "forecast", {
        "start": "2011-01-01", "end": "2011-03-31", "country": ["fr", "France"],
        "horizon": 30, "interval": 0.9})
    assert job.status == "queued" and job.user_id == analyst.id
    assert job.scope == ["DE", "FR"]
    assert job.params == {"filters": {"start": "2011-01-01", "end": "2011-03-31",
                                      "country": ["FR", "France"]},
                          "options": {"horizon": 30, "interval": 0.9}}
    assert Filters.from_query(job.params["filters"]) == Filters(
        start=dt.date(2011, 1, 1), end=dt.date(2011, 3, 31), countries=("FR", "France"))
    assert job.celery_task_id == job.id
    admin_job = jobs.submit_job(session, user(session, people, "admin"), "basket", {})
    assert admin_job.scope is None


def test_data_load_reads_from_the_uploads_folder_only(session, people, settings, tmp_path):
    admin = user(session, people, "admin")
    outside = tmp_path / "secret.csv"
    outside.write_text("a,b\n")
    with pytest.raises(jobs.JobError, match="uploads folder only"):
        jobs.submit_job(session, admin, "data_load", {"path": str(outside)},
                        settings=settings)
    with pytest.raises(jobs.JobError, match="uploads folder only"):
        jobs.submit_job(session, admin, "data_load", {"path": "../secret.csv"},
                        settings=settings)
    with pytest.raises(jobs.JobError, match="does not exist"):
        jobs.submit_job(session, admin, "data_load", {"path": "missing.csv"},
                        settings=settings)
    settings.uploads.mkdir(parents=True)
    (settings.uploads / "sales.csv").write_text("a,b\n")
    columns = {"invoice_id": "a", "product_id": "b", "quantity": "c", "unit_price": "d",
               "invoice_ts": "e"}
    job = jobs.submit_job(session, admin, "data_load",
                          {"path": "sales.csv", "format": "generic", "mapping": columns},
                          settings=settings)
    # only the columns given: stored as a whole mapping (docs/mapping.md)
    assert job.params["options"] == {"path": str((settings.uploads / "sales.csv").resolve()),
                                     "format": "generic", "mapping": {"columns": columns},
                                     "append": False}
    whole = {"columns": {**columns, "status": "f"}, "refund_values": ["refunded"]}
    job = jobs.submit_job(session, admin, "data_load",
                          {"path": "sales.csv", "format": "generic", "mapping": whole},
                          settings=settings)
    assert job.params["options"]["mapping"] == whole
    # a bad mapping is refused when the job is asked for, naming the problem
    with pytest.raises(jobs.JobError, match="mapping: Unknown field 'a'"):
        jobs.submit_job(session, admin, "data_load",
                        {"path": "sales.csv", "format": "generic",
                         "mapping": {"a": "invoice_id"}}, settings=settings)
    with pytest.raises(jobs.JobError, match="refund_values needs the status column"):
        jobs.submit_job(session, admin, "data_load",
                        {"path": "sales.csv", "format": "generic",
                         "mapping": {"columns": columns, "refund_values": ["r"]}},
                        settings=settings)
    job = jobs.submit_job(session, admin, "data_load",
                          {"path": "sales.csv", "format": "shopify"}, settings=settings)
    assert job.params["options"]["format"] == "shopify"


def test_request_report_records_the_request(session, people):
    analyst = user(session, people, "analyst")
    job = jobs.request_report(session, analyst, format="XLSX", email=True,
                              filters=Filters(countries=("FR",)))
    assert job.kind == "report_xlsx"
    assert job.params == {"filters": {"country": ["FR"]}, "options": {"email": True}}
    with pytest.raises(jobs.JobError, match="pdf or xlsx"):
        jobs.request_report(session, analyst, format="docx")
    with pytest.raises(jobs.JobAccessDenied):
        jobs.request_report(session, user(session, people, "viewer"), format="pdf")


def test_only_the_owner_and_admins_see_and_cancel_a_job(session, people):
    analyst = user(session, people, "analyst")
    job = jobs.submit_job(session, analyst, "churn", {})
    assert jobs.get_job(session, user(session, people, "admin"), job.id) is job
    with pytest.raises(jobs.JobAccessDenied):
        jobs.get_job(session, user(session, people, "other"), job.id)
    with pytest.raises(jobs.JobAccessDenied):
        jobs.cancel_job(session, user(session, people, "other"), job.id)
    with pytest.raises(jobs.JobNotFound):
        jobs.get_job(session, analyst, "nope")
    jobs.cancel_job(session, analyst, job.id)
    assert job.status == "cancelled" and job.finished_at is not None
    with pytest.raises(jobs.JobError, match="already finished"):
        jobs.cancel_job(session, analyst, job.id)
    assert [j.id for j in jobs.list_jobs(session, analyst)] == [job.id]
    assert jobs.list_jobs(session, user(session, people, "other")) == []


def _submitted(settings, people, kind="anomalies") -> str:
    with db.session_scope(settings.database_url) as session:
        return jobs.submit_job(session, user(session, people, "analyst"), kind, {}).id


def test_worker_side_life_cycle_and_cancel_at_a_progress_point(settings, people):
    job_id = _submitted(settings, people)
    spec = jobs.start_job(settings, job_id, worker="w1")
    assert spec.kind == "anomalies" and spec.attempts == 1
    assert sorted(spec.scope.countries) == ["DE", "FR"]
    jobs.update_progress(settings, job_id, 40, "Half way")
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        assert (job.status, job.progress, job.message, job.worker) == (
            "running", 40, "Half way", "w1")
        jobs.cancel_job(session, user(session, people, "analyst"), job_id)
        assert job.status == "running" and job.cancel_requested
    with pytest.raises(jobs.JobCancelled):
        jobs.update_progress(settings, job_id, 60)
    jobs.mark_cancelled(settings, job_id)
    assert jobs.start_job(settings, job_id) is None  # a redelivered task does nothing

    done_id = _submitted(settings, people)
    jobs.start_job(settings, done_id)
    folder = jobs.job_folder(settings, done_id)
    (folder / "report.pdf").write_bytes(b"%PDF-1.4 tiny")
    jobs.finish_job(settings, done_id, {"rows": 3}, path=folder / "report.pdf",
                    data_version=7)
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, done_id)
        as_dict = jobs.job_to_dict(job)
        assert jobs.result_path(job, settings) == folder / "report.pdf"
    assert as_dict["status"] == "done" and as_dict["progress"] == 100
    assert as_dict["result"] == {"rows": 3} and as_dict["data_version"] == 7
    assert as_dict["download"] == f"/api/v1/jobs/{done_id}/result"
    assert as_dict["timings"]["seconds"] >= 0
    jobs.fail_job(settings, done_id, "too late")  # a finished job keeps its outcome
    with db.session_scope(settings.database_url) as session:
        assert session.get(Job, done_id).status == "done"


def _broker_messages(settings) -> int:
    with sqlite3.connect(settings.home / "broker.db") as conn:
        return conn.execute("SELECT count(*) FROM kombu_message WHERE visible").fetchone()[0]


def test_enqueue_sends_the_task_to_the_embedded_broker(settings, people):
    job_id = _submitted(settings, people, "forecast")
    jobs.enqueue(settings, job_id)
    assert _broker_messages(settings) == 1


def test_reaper_requeues_once_then_fails_jobs_whose_worker_went_silent(settings, people):
    silent_id, twice_id, alive_id = (_submitted(settings, people) for _ in range(3))
    for job_id in (silent_id, twice_id, alive_id):
        jobs.start_job(settings, job_id, worker="dead-worker")
    old = utcnow() - dt.timedelta(minutes=10)
    with db.session_scope(settings.database_url) as session:
        session.execute(sa.update(Job).where(Job.id.in_([silent_id, twice_id]))
                        .values(heartbeat_at=old))
        session.execute(sa.update(Job).where(Job.id == twice_id).values(attempts=2))

    outcome = jobs.reap_stale_jobs(settings, dt.timedelta(minutes=3))

    assert outcome == {"requeued": [silent_id], "failed": [twice_id]}
    with db.session_scope(settings.database_url) as session:
        silent, twice, alive = (session.get(Job, i) for i in (silent_id, twice_id, alive_id))
        assert silent.status == "queued" and "stopped responding" in silent.message
        assert twice.status == "failed" and "dead-worker" in twice.error
        assert "no heartbeat for more than 180 seconds" in twice.error
        assert alive.status == "running"
    assert _broker_messages(settings) == 1  # the requeued job was sent again


def test_a_narrowed_scope_hides_older_results_everywhere(session, people):
    """A job computed on FR+DE stays the analyst's only while their scope still covers
    FR+DE: get_job and list_jobs (used by the API and the pages) both hide it after an admin
    narrows the scope to FR, without telling that it exists."""
    from core.orm import DataScope
    analyst = user(session, people, "analyst")
    job = jobs.submit_job(session, analyst, "forecast", {})
    session.commit()
    assert job.scope == ["DE", "FR"]
    assert jobs.get_job(session, analyst, job.id) is job
    assert job in jobs.list_jobs(session, analyst)

    analyst.scope = DataScope(countries=["FR"])
    session.commit()
    with pytest.raises(jobs.JobNotFound):
        jobs.get_job(session, analyst, job.id)
    assert job not in jobs.list_jobs(session, analyst)
    admin = user(session, people, "admin")  # an all-data admin still sees it
    assert jobs.get_job(session, admin, job.id) is job


RESULT_COLUMN = re.compile(r"\bjobs\.result\b")  # not jobs.result_path


def test_polling_a_job_reads_its_status_not_its_result(settings, people):
    """The pages poll a running job every second: the (possibly megabytes of) result JSON
    is not read until the job is done and the page asks for it."""
    job_id = _submitted(settings, people, "forecast")
    jobs.start_job(settings, job_id)
    jobs.update_progress(settings, job_id, 40, "Fitting")
    big = {"history": list(range(50_000))}
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)
    engine = db.get_engine(settings.database_url)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with db.session_scope(settings.database_url) as session:
            analyst = user(session, people, "analyst")
            statements.clear()
            polled = jobs.job_to_dict(jobs.get_job(session, analyst, job_id,
                                                   with_result=False), with_result=False)
            assert (polled["status"], polled["progress"], polled["message"]) == (
                "running", 40, "Fitting")
            assert "result" not in polled
            listed = jobs.list_jobs(session, analyst, with_result=False)
            assert [job.id for job in listed] == [job_id]
            assert len(statements) >= 2
            assert not any(RESULT_COLUMN.search(statement) for statement in statements)

        jobs.finish_job(settings, job_id, big)
        with db.session_scope(settings.database_url) as session:
            analyst = user(session, people, "analyst")
            statements.clear()
            done = jobs.job_to_dict(jobs.get_job(session, analyst, job_id))
            assert done["status"] == "done" and done["result"] == big
            assert any(RESULT_COLUMN.search(statement) for statement in statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
