"""The data_load job's ``force`` option reaches the load: a replacing upload that keeps far
fewer lines than the current version fails the job with the reason, and the same job with
``force`` publishes it (the runner called as a worker calls it)."""
import pytest

from analytics.warehouse import Warehouse
from core import db, jobs, users
from workers.handlers import run_load_job

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def lines(count: int) -> str:
    return HEADER + "".join(f"{1000 + n},A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
                            for n in range(count))


def run_job(settings, options: dict) -> dict:
    with db.session_scope(settings.database_url) as session:
        admin = users.get_user(session, "admin@example.com")
        job_id = jobs.submit_job(session, admin, "data_load", options, settings=settings).id
    return run_load_job(settings, jobs.start_job(settings, job_id))


def test_force_lets_a_shrinking_upload_replace_the_data(settings, cheap_hashing):
    db.migrate(settings.database_url)
    with db.session_scope(settings.database_url) as session:
        users.create_user(session, "cli", "admin@example.com", role="admin",
                          password="a long enough passphrase")
    settings.uploads.mkdir(parents=True)
    (settings.uploads / "full.csv").write_text(lines(10))
    (settings.uploads / "small.csv").write_text(lines(2))
    assert run_job(settings, {"path": "full.csv"})["data_version"] == 1
    with pytest.raises(jobs.JobError, match=r"would replace data version 1 \(10 lines\) with "
                                            r"2 lines.*force option"):
        run_job(settings, {"path": "small.csv"})
    assert run_job(settings, {"path": "small.csv", "force": True})["data_version"] == 2
    warehouse = Warehouse(settings.warehouse_url)
    try:
        assert warehouse.version_info().line_count == 2
    finally:
        warehouse.dispose()
