"""The workers map errors in one place (``workers.handlers.run_job``): a job whose work raises
a ``ShoplensError`` fails with that error's message, for every kind of it; anything else
fails with ``handlers.INTERNAL_ERROR`` and is logged, its text never shown to the user.
A throwaway job kind whose runner raises what its options name is run in-process."""
from __future__ import annotations

import logging
from typing import Literal

import pytest

from analytics.models.base import ModelError
from analytics.warehouse import NoDataError, WarehouseError
from core import db, job_kinds, jobs
from core.mail import MailError
from core.orm import Job, User
from data.loader import LoadError
from tests.workers.support import add_user, settings_for, worker_environment
from workers import handlers

#: What the runner raises, by the option's value.
RAISED = {
    "model": ModelError("There are too few customers in this selection to find clusters."),
    "load": LoadError("orders.csv: no invoice_id column (line 1)."),
    "no_data": NoDataError(),
    "warehouse": WarehouseError("Data version 7 is missing."),
    "mail": MailError("The mail server refused the message."),
    "denied": jobs.JobAccessDenied("this job belongs to another user"),
    "crash": KeyError("customer_id in /srv/shoplens/secret.parquet"),
}


class RaiseOptions(job_kinds.Options):
    error: Literal[tuple(RAISED)]


def run_raising(settings, spec) -> dict:
    raise RAISED[spec.options["error"]]


RAISING = job_kinds.JobKind("raising", "raising", RaiseOptions,
                            runner=f"{__name__}:run_raising", role="analyst",
                            soft_time_limit=60, time_limit=90)


@pytest.fixture
def raising_kind(monkeypatch):
    monkeypatch.setattr(job_kinds, "_KINDS", dict(job_kinds._KINDS))
    return job_kinds.register(RAISING)


@pytest.fixture
def shop(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "WAREHOUSE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_for(worker_environment(tmp_path / "home"))
    return settings, add_user(settings, "analyst@example.com", "analyst")


def _run(settings, user_id: int, error: str) -> Job:
    with db.session_scope(settings.database_url) as session:
        job_id = jobs.submit_job(session, session.get(User, user_id), "raising",
                                 {"options": {"error": error}}).id
    assert handlers.run_job(settings, job_id, "test-worker") == "failed"
    with db.session_scope(settings.database_url) as session:
        return session.get(Job, job_id)


@pytest.mark.parametrize("error", [name for name in RAISED if name != "crash"])
def test_a_shoplens_error_fails_the_job_with_its_message(raising_kind, shop, caplog, error):
    settings, analyst = shop
    with caplog.at_level(logging.INFO, logger="workers.handlers"):
        job = _run(settings, analyst, error)
    assert job.status == "failed"
    assert job.error == RAISED[error].message
    assert job.error  # every kind of ShoplensError has a message to show
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_anything_else_is_an_internal_error_logged_not_shown(raising_kind, shop, caplog):
    settings, analyst = shop
    with caplog.at_level(logging.INFO, logger="workers.handlers"):
        job = _run(settings, analyst, "crash")
    assert job.status == "failed"
    assert job.error == handlers.INTERNAL_ERROR
    assert "secret" not in (job.error + (job.message or ""))
    crashed = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert crashed and crashed[0].exc_info[0] is KeyError
    assert "secret.parquet" in caplog.text
