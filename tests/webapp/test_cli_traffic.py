"""`data load-sessions` and `data load-ads` through create_app on a temporary home: each
prints its report and publishes a new version keeping the orders, records a DataLoad of its
format, and a refused file exits 1 with its reason while the version stays."""
from __future__ import annotations

import json

import pytest

from analytics.warehouse import Warehouse
from core import loads
from webapp import create_app

ORDERS = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
          "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
          "1002,A,Mug,1,2011-01-04 10:00:00,5.0,C2,United Kingdom\n")
GA4 = ("# GA4 export\n# Start date: 20110103\n# End date: 20110104\n"
       "Date,Session default channel group,Country,Sessions,Add to carts\n"
       "20110103,Organic Search,United Kingdom,40,4\n20110104,Paid Search,United Kingdom,60,6\n")
GOOGLE_ADS = ('Campaign report\n"January 3, 2011 - January 4, 2011"\n'
              "Day,Campaign,Currency code,Impr.,Clicks,Cost,Conversions,Conv. value\n"
              "2011-01-03,Brand,GBP,1000,20,4.00,1,10.00\n"
              "2011-01-04,Brand,GBP,500,10,2.00,0,0.00\n"
              "Total: Account,--,GBP,1500,30,6.00,1,10.00\n")


@pytest.fixture
def cli(home, tmp_path):
    app = create_app({"TESTING": True})
    runner = app.test_cli_runner()
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    assert runner.invoke(args=["data", "load", str(orders)]).exit_code == 0
    return lambda *args: runner.invoke(args=["data", *map(str, args)])


def _versions(settings):
    warehouse = Warehouse(settings.warehouse_url)
    try:
        return warehouse.current_version(), warehouse.version_info()
    finally:
        warehouse.dispose()


def test_load_sessions_ga4(cli, tmp_path, settings):
    path = tmp_path / "ga4.csv"
    path.write_text(GA4)
    result = cli("load-sessions", path, "--format", "ga4")
    assert result.exit_code == 0, result.output
    assert "lines loaded               2" in result.output
    assert "sessions        100" in result.output
    assert "Published data version 2: 2 lines loaded, 0 rejected" in result.output
    version, info = _versions(settings)
    assert version == 2 and info.has_sessions and info.line_count == 2
    record = loads.last_loads(settings, 1)[0]
    assert (record.format, record.status, record.version) == ("sessions", "done", 2)


def test_load_ads_google_and_generic_with_a_mapping(cli, tmp_path, settings):
    path = tmp_path / "google.csv"
    path.write_text(GOOGLE_ADS)
    result = cli("load-ads", path, "--format", "google-ads")
    assert result.exit_code == 0, result.output
    assert "1 total line(s) skipped" in result.output
    assert "spend           6.0" in result.output
    assert loads.last_loads(settings, 1)[0].format == "google-ads"
    generic = tmp_path / "tiktok.csv"
    generic.write_text("day;spent;views;taps;name\n2011-01-03;3,50;100;2;Launch\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"columns": {"date": "day", "spend": "spent",
                                               "impressions": "views", "clicks": "taps",
                                               "campaign": "name"},
                                   "channel": "TikTok Ads"}))
    result = cli("load-ads", generic, "--format", "generic", "--mapping", mapping)
    assert result.exit_code == 0, result.output
    assert "'TikTok Ads' matches no traffic source" in result.output
    record = loads.last_loads(settings, 1)[0]
    assert (record.format, record.version) == ("ads-generic", 3)
    warehouse = Warehouse(settings.warehouse_url)
    try:
        spend = warehouse.read_ad_spend().groupby("channel")["spend"].sum().to_dict()
    finally:
        warehouse.dispose()
    assert spend == {"Google Ads": 6.0, "TikTok Ads": 3.5}


def test_refused_files_exit_1_and_keep_the_version(cli, tmp_path, settings):
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Sessions\n20110103,-4\n")
    result = cli("load-sessions", bad)
    assert result.exit_code == 1
    assert "bad.csv line 2, column 'Sessions': '-4' is negative" in result.output
    negative = tmp_path / "negative.csv"
    negative.write_text(GOOGLE_ADS.replace("2011-01-04,Brand,GBP,500,10,2.00",
                                           "2011-01-04,Brand,GBP,500,10,-2.00"))
    result = cli("load-ads", negative, "--format", "google-ads")
    assert result.exit_code == 1
    assert "negative spend: 1" in result.output and "--force" in result.output
    euros = tmp_path / "euros.csv"
    euros.write_text(GOOGLE_ADS.replace("GBP", "EUR"))
    result = cli("load-ads", euros, "--format", "google-ads")
    assert result.exit_code == 1 and "in EUR but the orders are in GBP" in result.output
    assert _versions(settings)[0] == 1
    assert [r.status for r in loads.last_loads(settings, 3)] == ["failed"] * 3
    forced = cli("load-ads", negative, "--format", "google-ads", "--force")
    assert forced.exit_code == 0, forced.output
    assert "line 5: negative spend" in forced.output
    assert "1 rejected" in forced.output


def test_usage_errors(cli, tmp_path):
    path = tmp_path / "ga4.csv"
    path.write_text(GA4)
    assert cli("load-ads", path).exit_code == 2                    # --format is required
    result = cli("load-sessions", path, "--format", "generic")
    assert result.exit_code == 1 and "needs --mapping" in result.output
