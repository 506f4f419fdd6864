"""Plausibility at load: a line with a number that is not finite or too large, or a date
outside the window, is rejected with its reason and counted in the quality report; the other
lines are published, and a rejected year-9999 line cannot move the default period."""
import datetime as dt

import pandas as pd
import pytest

from analytics import period
from analytics.filters import Filters
from core.settings import ConfigurationError, load_settings
from data.loader import load_file
from data.plausibility import Limits, check_plausibility, implausible_reasons
from data.readers import read_online_retail

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
GOOD = [f"{1000 + n},A,Mug,2,2011-01-{n:02d} 10:00:00,5.0,C{n},United Kingdom\n"
        for n in range(1, 13)]  # 12 plausible lines, 2011-01-01 … 2011-01-12, 10.0 each
POISONED = {
    "2001,A,Mug,inf,2011-01-05 10:00:00,5.0,C1,United Kingdom\n":
        "quantity is not a finite number",
    "2002,A,Mug,2,2011-01-05 10:00:00,1e308,C1,United Kingdom\n":
        "unit price beyond ±1,000,000,000",
    "2003,A,Mug,-inf,2011-01-05 10:00:00,5.0,C1,United Kingdom\n":
        "quantity is not a finite number",
    "2004,A,Mug,20000000,2011-01-05 10:00:00,5.0,C1,United Kingdom\n":
        "quantity beyond ±10,000,000",
    "2005,A,Mug,2,0001-01-01 10:00:00,5.0,C1,United Kingdom\n":
        "date outside 1990-01-01 … 2012-01-01",
    "2006,A,Mug,2,9999-12-31 23:59:00,5.0,C1,United Kingdom\n":
        "date outside 1990-01-01 … 2012-01-01",
}
#: The window ends on a fixed day, so that the test does not depend on today's date.
LIMITS = Limits(last_day=dt.date(2012, 1, 1))


def write(tmp_path, text):
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_poisoned_value_is_rejected_with_its_reason_and_the_rest_published(
        warehouse, tmp_path):
    path = write(tmp_path, HEADER + "".join(GOOD) + "".join(POISONED))
    result = load_file(warehouse, path, rejects_dir=tmp_path / "rejects", plausibility=LIMITS)
    assert (result.lines_read, result.lines_loaded, result.lines_rejected) == (18, 12, 6)
    rejects = pd.read_csv(result.rejects_path, dtype=str)
    assert dict(zip(rejects["invoice_id"], rejects["reject_reason"])) == {
        line.split(",")[0]: reason for line, reason in POISONED.items()}
    quality = warehouse.version_info().quality
    assert quality["rejected_by_reason"] == {
        "quantity is not a finite number": 2, "unit price beyond ±1,000,000,000": 1,
        "quantity beyond ±10,000,000": 1, "date outside 1990-01-01 … 2012-01-01": 2}
    lines = warehouse.read_lines()
    assert sorted(lines["invoice_id"]) == sorted(line.split(",")[0] for line in GOOD)
    assert quality["totals"]["net_revenue"] == 120.0
    assert quality["date_range"] == {"first": "2011-01-01 10:00:00",
                                     "last": "2011-01-12 10:00:00"}


def test_a_rejected_year_9999_line_leaves_the_default_period_alone(duckdb_warehouse,
                                                                     tmp_path):
    path = write(tmp_path, HEADER + "".join(GOOD)
                 + "2006,A,Mug,2,9999-12-31 23:59:00,5.0,C1,United Kingdom\n")
    load_file(duckdb_warehouse, path, rejects_dir=tmp_path / "rejects")  # default limits
    default = period.resolve(duckdb_warehouse, Filters())
    assert (default.start, default.end) == (dt.date(2010, 12, 14), dt.date(2011, 1, 12))


def test_unit_cost_is_checked_when_present_and_may_be_missing():
    lines = six_lines()
    lines["unit_cost"] = [None, float("nan"), 2.0, float("inf"), 5e9, -5e9]
    assert list(implausible_reasons(lines, LIMITS)) == [
        "", "", "", "unit cost is not a finite number", "unit cost beyond ±1,000,000,000",
        "unit cost beyond ±1,000,000,000"]


def test_the_window_and_bounds_are_settings(tmp_path):
    settings = load_settings({"SHOPLENS_HOME": str(tmp_path), "PLAUSIBLE_MAX_QUANTITY": "5",
                              "PLAUSIBLE_MAX_UNIT_PRICE": "100",
                              "PLAUSIBLE_FIRST_DATE": "2011-01-03",
                              "PLAUSIBLE_LAST_DATE": "2011-01-04"})
    limits = settings.plausibility_limits()
    assert limits == Limits(max_quantity=5, max_unit_price=100, max_unit_cost=1e9,
                            first_day=dt.date(2011, 1, 3), last_day=dt.date(2011, 1, 4))
    lines = six_lines()
    assert list(implausible_reasons(lines, limits)) == [
        "date outside 2011-01-03 … 2011-01-04", "", "", "quantity beyond ±5",
        "unit price beyond ±100", "date outside 2011-01-03 … 2011-01-04"]
    defaults = load_settings({"SHOPLENS_HOME": str(tmp_path)}).plausibility_limits()
    assert defaults == Limits()
    assert Limits().latest_day(dt.date(2024, 2, 29)) == dt.date(2025, 2, 28)
    for name, value in (("PLAUSIBLE_MAX_QUANTITY", "inf"), ("PLAUSIBLE_MAX_UNIT_COST", "-1"),
                        ("PLAUSIBLE_FIRST_DATE", "soon"), ("PLAUSIBLE_LAST_DATE", "1980-01-01")):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({"SHOPLENS_HOME": str(tmp_path), name: value})


def test_a_plausible_file_passes_untouched(tmp_path):
    read = read_online_retail(write(tmp_path, HEADER + "".join(GOOD)))
    checked = check_plausibility(read, LIMITS)
    assert checked.lines.equals(read.lines) and len(checked.rejects) == len(read.rejects) == 0


def test_the_demo_data_is_plausible():
    from data.demo import generate_demo
    demo = generate_demo(lines=2_000, seed=7)
    assert (implausible_reasons(demo.lines, Limits(), today=dt.date(2025, 12, 31)) == "").all()


def six_lines() -> pd.DataFrame:
    """Six lines: 01-02, 01-03 and 01-04 plausible under ``LIMITS``, quantity 20, price 500
    and 01-05."""
    return pd.DataFrame({
        "invoice_ts": pd.to_datetime(["2011-01-02", "2011-01-03", "2011-01-04", "2011-01-03",
                                      "2011-01-03", "2011-01-05"]),
        "quantity": [1.0, 2.0, 3.0, 20.0, 1.0, 1.0],
        "unit_price": [1.0, 1.0, 1.0, 1.0, 500.0, 1.0]})


def test_implausible_lines_keep_their_row_in_the_file(tmp_path):
    text = (HEADER + GOOD[0] + "9001,A,Mug,x,2011-01-05 10:00:00,5.0,C1,United Kingdom\n"
            + "".join(list(POISONED)[:2]) + GOOD[1])
    checked = check_plausibility(read_online_retail(write(tmp_path, text)), LIMITS)
    assert list(checked.rejects["source_row"]) == [3, 4, 5]  # header = row 1
    assert list(checked.rejects["reject_reason"]) == [
        "unparseable quantity", "quantity is not a finite number",
        "unit price beyond ±1,000,000,000"]
    assert list(checked.line_rows) == [2, 6]
