"""core.loads.run_load: the DataLoad row and the audit event for done and failed loads."""
import pytest

from analytics.warehouse import Warehouse
from core import db
from core.loads import last_loads, run_load
from core.orm import AuditEvent, DataLoad

FILE = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
        "1002,B,Plate,1,2011-01-04 10:00:00,12.5,C2,France\n"
        "1003,B,Plate,1,yesterday,12.5,C2,France\n")


@pytest.fixture
def app_settings(settings):
    db.migrate(settings.database_url)
    return settings


def test_a_done_load_is_recorded_with_counts_and_audited(app_settings, tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text(FILE)
    progress = []
    record = run_load(app_settings, path=path, format="online-retail", mapping=None,
                      append=False, progress=lambda percent, message: progress.append(percent))
    assert record.status == "done" and record.error is None
    assert (record.version, record.lines_read, record.lines_loaded, record.lines_rejected) == (
        1, 3, 2, 1)
    assert record.quality["totals"]["net_revenue"] == 22.5
    assert record.rejects_path.startswith(str(app_settings.rejects_dir))
    assert record.seconds > 0 and record.finished_at is not None
    assert progress[0] < progress[-1] == 100
    assert Warehouse(app_settings.warehouse_url).current_version() == 1
    with db.session_scope(app_settings.database_url) as session:
        event = session.query(AuditEvent).filter_by(action="data_load").one()
        assert event.actor == "cli"
        assert event.detail["version"] == 1 and event.detail["status"] == "done"
        assert session.get(DataLoad, record.id).status == "done"


def test_a_refused_load_is_recorded_as_failed_with_its_reason(app_settings, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    record = run_load(app_settings, path=path, format="online-retail", mapping=None,
                      append=False)
    assert record.status == "failed"
    assert record.error == "empty.csv is empty"
    assert record.version is None
    assert [r.id for r in last_loads(app_settings)] == [record.id]
    with db.session_scope(app_settings.database_url) as session:
        event = session.query(AuditEvent).filter_by(action="data_load").one()
        assert event.detail["status"] == "failed" and "is empty" in event.detail["error"]
