"""Finding 9 of the hardening issue: an unbounded period (1900–2999) is clamped to the
data before querying, with the same answers (the previous period's included), and a
runaway statement is stopped by the warehouse's statement time-out."""
from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics import breakdowns, kpis, period, series
from analytics.filters import ALL_DATA, Filters
from analytics.warehouse import QueryTimeout, Warehouse
from tests.analytics.conftest import publish_lines

#: Lines from 1 February to 31 March 2011 (so the data's range is Feb–Mar 2011).
LINES = [{"invoice_id": f"I{day}{month}", "invoice_ts": f"2011-{month:02d}-{day:02d} 10:00",
          "customer_id": f"c{day % 3}", "product_id": f"P{day % 4}", "description": "Mug",
          "quantity": 1 + day % 2, "unit_price": 2.0 + month,
          "country": "France" if day % 2 else "United Kingdom",
          "country_code": "FR" if day % 2 else "GB"}
         for month, days in ((2, 28), (3, 31)) for day in range(1, days + 1)]
FIRST, LAST = dt.date(2011, 2, 1), dt.date(2011, 3, 31)
EVERYTHING = Filters(start=dt.date(1900, 1, 1), end=dt.date(2999, 12, 31))
DATA_RANGE = Filters(start=FIRST, end=LAST)


def _unclamped(monkeypatch):
    monkeypatch.setattr(period, "clamp", lambda start, end, first, last: (start, end))


def _kpis(summary: kpis.KpiSummary, attribute: str) -> dict:
    return {name: (getattr(summary[name], attribute), summary[name].reason)
            for name in kpis.KPI_NAMES}


def test_the_whole_calendar_is_queried_as_the_data_and_answers_the_same(warehouse):
    publish_lines(warehouse, LINES)
    resolved = period.resolve(warehouse, EVERYTHING)
    margin = dt.timedelta(days=period.CLAMP_MARGIN_DAYS)
    assert (resolved.start, resolved.end) == (FIRST - margin, LAST + margin)
    started = time.perf_counter()
    everything = kpis.kpi_summary(warehouse, EVERYTHING, ALL_DATA)
    daily = series.time_series(warehouse, EVERYTHING, ALL_DATA, grain="day")
    countries = breakdowns.breakdown(warehouse, EVERYTHING, ALL_DATA, dimension="country")
    assert time.perf_counter() - started < 10
    own = kpis.kpi_summary(warehouse, DATA_RANGE, ALL_DATA)
    assert _kpis(everything, "current") == _kpis(own, "current")
    assert _kpis(everything, "previous") == _kpis(own, "previous")   # before the data: none
    assert everything["revenue"].current == pytest.approx(sum(
        line["quantity"] * line["unit_price"] for line in LINES))
    assert len(daily) == (resolved.end - resolved.start).days + 1
    assert daily["revenue"].sum() == pytest.approx(everything["revenue"].current)
    own_countries = breakdowns.breakdown(warehouse, DATA_RANGE, ALL_DATA, dimension="country")
    assert countries[["key", "revenue", "orders"]].to_dict("records") == \
        own_countries[["key", "revenue", "orders"]].to_dict("records")


@pytest.mark.parametrize("asked", [
    (dt.date(2011, 3, 10), dt.date(2999, 12, 31)),     # from inside the data to far after
    (dt.date(2013, 6, 1), dt.date(2999, 12, 31)),      # entirely after: no data, previous has
    (dt.date(1900, 1, 1), dt.date(2011, 2, 20)),       # from far before into the data
    (dt.date(1900, 1, 1), dt.date(1950, 12, 31)),      # entirely before
    (dt.date(2011, 1, 1), dt.date(2011, 12, 31)),      # a calendar year: untouched
])
def test_clamping_keeps_the_meaning_of_the_period_and_its_previous_period(
        duckdb_warehouse, monkeypatch, asked):
    """Each KPI, current and previous (METRICS.md: the same number of days, ending the day
    before start), is what the period asked for gives without any clamp."""
    publish_lines(duckdb_warehouse, LINES)
    filters = Filters(start=asked[0], end=asked[1])
    clamped = kpis.kpi_summary(duckdb_warehouse, filters, ALL_DATA)
    _unclamped(monkeypatch)
    meant = kpis.kpi_summary(duckdb_warehouse, filters, ALL_DATA)
    assert _kpis(clamped, "current") == _kpis(meant, "current")
    assert _kpis(clamped, "previous") == _kpis(meant, "previous")
    if asked[0] > LAST:
        assert all(kpi.current is None for kpi in clamped.kpis.values())
        assert clamped["revenue"].previous == pytest.approx(meant["revenue"].previous)
        assert meant["revenue"].previous > 0


def test_a_period_entirely_outside_the_data_still_has_no_data(duckdb_warehouse):
    publish_lines(duckdb_warehouse, LINES)
    for start, end in ((dt.date(2100, 1, 1), dt.date(2999, 12, 31)),
                       (dt.date(1900, 1, 1), dt.date(1901, 1, 1))):
        resolved = period.resolve(duckdb_warehouse, Filters(start=start, end=end))
        assert resolved.start == start and resolved.end <= end
        assert not FIRST <= resolved.start <= LAST and not FIRST <= resolved.end <= LAST
        summary = kpis.kpi_summary(duckdb_warehouse, resolved, ALL_DATA)
        assert all(kpi.current is None for kpi in summary.kpis.values())


SLOW = {"duckdb": "SELECT count(*) FROM range(1000000000000) AS a",
        "postgresql": "SELECT pg_sleep(30)",
        # one row a block, 0.2 s each: ClickHouse checks its time-out between blocks
        "chdb": "SELECT sleepEachRow(0.2) FROM numbers(1000) SETTINGS max_block_size = 1"}
#: A statement longer than the 0.5 s time-out that still ends (about 1 s).
SLOW_BUT_ENDING = {"duckdb": "SELECT count(*) FROM range(15000000000) AS a",
                   "postgresql": "SELECT pg_sleep(1)",
                   "chdb": "SELECT sleepEachRow(0.2) FROM numbers(5) SETTINGS max_block_size = 1"}


def test_a_slow_statement_is_stopped_by_the_time_out(warehouse):
    publish_lines(warehouse, LINES[:3])
    limited = Warehouse(warehouse.url, statement_timeout=0.5)
    try:
        started = time.perf_counter()
        with (pytest.raises(QueryTimeout, match="longer than 0.5 s") as raised,
              limited.connect() as conn):
            conn.execute(sa.text(SLOW[warehouse.kind])).all()
        assert time.perf_counter() - started < 10
        assert raised.value.status == 503        # Unavailable: the API's 503, a page's alert
        with limited.connect() as conn:          # the connection is usable again
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        assert kpis.kpi_summary(limited, DATA_RANGE, ALL_DATA)["orders"].current == len(LINES[:3])
    finally:
        limited.dispose()


def test_a_failed_read_leaves_no_transaction_behind(duckdb_warehouse):
    # DuckDB reads run without BEGIN / ROLLBACK (a version's file never changes): a
    # statement that fails must not leave its connection in an aborted transaction
    publish_lines(duckdb_warehouse, LINES[:3])
    for _ in range(6):   # more than the pool's connections: each is reused after a failure
        with pytest.raises(sa.exc.DBAPIError), duckdb_warehouse.connect() as conn:
            conn.execute(sa.text("SELECT no_such_column FROM fact_lines")).all()
        with duckdb_warehouse.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM fact_lines")).scalar() == 3


def test_the_default_time_out_is_on():
    assert Warehouse("duckdb:///tmp/none").statement_timeout == 30


def test_loads_are_not_limited_by_the_read_time_out(postgres_database):
    """A load waits for another one (PostgreSQL's advisory lock) and writes for as long as
    it needs: the read time-out does not stop it, and reads keep their limit after it."""
    import threading

    limited = Warehouse(postgres_database, statement_timeout=0.5)
    other = Warehouse(postgres_database, statement_timeout=None)
    try:
        publish_lines(limited, LINES[:2])
        with other._publish_lock():      # another load holds the lock for a while
            loader = threading.Thread(target=publish_lines, args=(limited, LINES))
            loader.start()
            time.sleep(1.5)
        loader.join(30)
        assert not loader.is_alive()
        assert period.version_info(limited).line_count == len(LINES)
        with pytest.raises(QueryTimeout), limited.connect() as conn:
            conn.execute(sa.text(SLOW["postgresql"])).all()
    finally:
        limited.dispose()
        other.dispose()


def test_reading_the_whole_version_for_an_append_is_not_limited(warehouse, monkeypatch):
    """``read_lines`` (an ``--append`` load reads the current version) runs without the
    time-out, and the connection has it again afterwards."""
    publish_lines(warehouse, LINES)
    limited = Warehouse(warehouse.url, statement_timeout=0.5)
    slow_read = SLOW_BUT_ENDING[warehouse.kind]
    original = pd.read_sql

    def slow_then_read(query, conn, *args, **kwargs):
        started = time.perf_counter()
        conn.execute(sa.text(slow_read)).all()
        assert time.perf_counter() - started > 0.5     # longer than the time-out allows
        return original(query, conn, *args, **kwargs)
    try:
        monkeypatch.setattr(pd, "read_sql", slow_then_read)
        assert len(limited.read_lines()) == len(LINES)
        monkeypatch.setattr(pd, "read_sql", original)
        with pytest.raises(QueryTimeout), limited.connect() as conn:
            conn.execute(sa.text(SLOW[warehouse.kind])).all()
    finally:
        limited.dispose()


def test_the_time_out_watchdog_starts_afresh_in_a_forked_child():
    """gunicorn and Celery fork their workers: a child must not inherit the parent's
    deadlines, thread or (possibly held) lock, and its own deadlines must fire."""
    import os
    import signal
    import threading

    from analytics import warehouse as module
    watchdog = module._watchdog
    ticket = watchdog.arm(60, lambda: None)           # the parent's, pending
    try:
        pid = os.fork()
        if pid == 0:      # the child: its exit status says it all, whatever happens
            code = 1
            try:
                result = []

                def check():
                    fired = threading.Event()
                    fresh = not watchdog._due and watchdog._thread is None
                    watchdog.arm(0.01, fired.set)
                    result.append(fresh and fired.wait(5))
                checker = threading.Thread(target=check, daemon=True)
                checker.start()
                checker.join(8)                       # stuck on the parent's lock: fails
                code = 0 if result == [True] else 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + 20
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child did not finish")
        assert os.waitstatus_to_exitcode(done[1]) == 0
    finally:
        watchdog.disarm(ticket)
