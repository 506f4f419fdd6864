"""Sessions and ad-spend files in (data.traffic): the GA4, Google Ads and Meta presets on
small files written from their documented columns (with the lines around the table), the
generic mapping, and bad files, each refused with a reason naming the line and column while
the current version stays as it was."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from data import traffic
from data.loader import LoadError
from tests.analytics.conftest import publish_lines

ORDERS = [
    {"invoice_id": "A1", "invoice_ts": "2024-01-01 10:00", "customer_id": "C1",
     "quantity": 2, "unit_price": 50.0, "traffic_source": "Paid Search", "channel": "Web",
     "country": "France", "country_code": "FR"},
    {"invoice_id": "A2", "invoice_ts": "2024-01-02 11:00", "customer_id": "C2",
     "quantity": 1, "unit_price": 30.0, "traffic_source": "Social", "channel": "Web"},
]

GA4 = """# ----------------------------------------
# Ecommerce purchases: Session default channel group
# Account: Demo shop
# Property: Demo shop - GA4
# ----------------------------------------
#
# Start date: 20240101
# End date: 20240102
Date,Session default channel group,Device category,Country,Sessions,Total users,Add to carts,Checkouts,Ecommerce purchases
20240101,Paid Search,desktop,France,"1,200",1000,80,30,12
20240101,Organic Search,mobile,United Kingdom,800,700,40,20,8
20240102,Paid Search,desktop,France,1000,900,60,25,10
"""

GOOGLE_ADS = """Campaign report
"January 1, 2024 - January 2, 2024"
Day,Campaign,Campaign type,Currency code,Impr.,Clicks,Cost,Conversions,Conv. value
2024-01-01,Brand - UK,Search,GBP,"1,000",50,25.00,2.00,120.00
2024-01-02,Brand - UK,Search,GBP,1000,40,20.00,1.00,60.00
2024-01-01,Shopping - FR,Shopping,GBP,2000,20,30.00,0.00,0.00
Total: Account,--,--,GBP,"4,000",110,75.00,3.00,180.00
Total: Search,--,--,GBP,"2,000",90,45.00,3.00,180.00
"""

META = """Reporting starts,Reporting ends,Campaign name,Ad set name,Country,Impressions,Link clicks,Amount spent (GBP),Purchases,Purchases conversion value
2024-01-01,2024-01-01,Prospecting,Lookalike,FR,5000,100,40.00,2,90.00
2024-01-02,2024-01-02,Prospecting,Lookalike,GB,3000,30,20.00,,
"""


@pytest.fixture
def loaded(warehouse):
    publish_lines(warehouse, ORDERS)
    return warehouse


def _write(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


# ------------------------------------------------------------------------ presets
def test_ga4_export_with_comment_lines_and_compact_dates(tmp_path):
    read = traffic.read_sessions(_write(tmp_path, "ga4.csv", GA4), format="ga4")
    frame = read.frame
    assert list(frame["session_date"].dt.strftime("%Y-%m-%d")) == [
        "2024-01-01", "2024-01-01", "2024-01-02"]
    assert list(frame["sessions"]) == [1200, 800, 1000]          # "1,200" read as 1200
    assert list(frame["country_code"]) == ["FR", "GB", "FR"]
    assert list(frame["traffic_source"]) == ["Paid Search", "Organic Search", "Paid Search"]
    assert list(frame["device"]) == ["desktop", "mobile", "desktop"]
    assert list(frame["add_to_carts"]) == [80, 40, 60]
    assert list(frame["purchases"]) == [12, 8, 10]
    assert frame["channel"].isna().all()
    assert any("8 line(s) before the header skipped" in note for note in read.notes)
    assert read.columns["traffic_source"] == "Session default channel group"


def test_google_ads_report_skips_title_date_range_and_total_lines(tmp_path):
    read = traffic.read_ads(_write(tmp_path, "gads.csv", GOOGLE_ADS), format="google-ads")
    frame = read.frame
    assert len(frame) == 3 and read.lines_read == 3
    assert set(frame["channel"]) == {"Google Ads"}
    assert list(frame["campaign"]) == ["Brand - UK", "Brand - UK", "Shopping - FR"]
    assert list(frame["impressions"]) == [1000, 1000, 2000]
    assert frame["spend"].sum() == pytest.approx(75.0)
    assert frame["conversion_value"].sum() == pytest.approx(180.0)
    assert set(frame["currency"]) == {"GBP"}
    assert any("2 total line(s) skipped" in note for note in read.notes)
    assert any("2 line(s) before the header" in note for note in read.notes)


def test_google_ads_utf16_tab_separated_export(tmp_path):
    text = GOOGLE_ADS.replace(",", "\t").replace('"1\t000"', "1000").replace('"4\t000"', "4000")
    text = text.replace('"2\t000"', "2000").replace('"January 1\t 2024 - January 2\t 2024"',
                                                    "January 1 2024 - January 2 2024")
    read = traffic.read_ads(_write(tmp_path, "gads.csv", text, "utf-16"), format="google-ads")
    assert len(read.frame) == 3
    assert read.frame["clicks"].sum() == 110


def test_meta_export_currency_from_the_spend_header(tmp_path):
    read = traffic.read_ads(_write(tmp_path, "meta.csv", META), format="meta-ads")
    frame = read.frame
    assert set(frame["channel"]) == {"Meta Ads"}
    assert list(frame["spend"]) == [40.0, 20.0]
    assert list(frame["clicks"]) == [100, 30]
    assert list(frame["country_code"]) == ["FR", "GB"]
    assert list(frame["ad_group"]) == ["Lookalike", "Lookalike"]
    assert list(frame["conversion_value"]) == [90.0, 0.0]       # blank: none reported
    assert set(frame["currency"]) == {"GBP"}


def test_meta_line_over_several_days_is_rejected(tmp_path):
    text = META.replace("2024-01-02,2024-01-02", "2024-01-02,2024-01-08")
    read = traffic.read_ads(_write(tmp_path, "meta.csv", text), format="meta-ads")
    assert len(read.frame) == 1
    assert list(read.rejects["source_row"]) == [3]
    assert read.rejects["reject_reason"].iloc[0].startswith(traffic.REASON_SPAN)


def test_generic_mappings(tmp_path):
    sessions = _write(tmp_path, "visits.csv", "day;visits;land\n05/01/2024;10;FR\n")
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"columns": {"date": "day", "sessions": "visits",
                                               "country": "land"},
                                   "date_format": "%d/%m/%Y"}))
    read = traffic.read_sessions(sessions, format="generic", mapping=mapping)
    assert read.frame["session_date"].iloc[0] == pd.Timestamp("2024-01-05")
    assert read.frame["country_code"].iloc[0] == "FR"
    ads = _write(tmp_path, "tiktok.csv", "d,c,i,k,s\n2024-01-01,Spring,100,5,7.5\n")
    read = traffic.read_ads(ads, format="generic", mapping={
        "columns": {"date": "d", "campaign": "c", "impressions": "i", "clicks": "k",
                    "spend": "s"}, "channel": "TikTok Ads", "currency": "gbp"})
    assert read.frame.iloc[0][["channel", "campaign", "spend", "currency"]].tolist() == [
        "TikTok Ads", "Spring", 7.5, "GBP"]
    with pytest.raises(LoadError, match="say which ad platform"):
        traffic.read_ads(ads, format="generic", mapping={"columns": {
            "date": "d", "campaign": "c", "impressions": "i", "clicks": "k", "spend": "s"}})
    with pytest.raises(LoadError, match="Unknown field"):
        traffic.read_sessions(sessions, format="generic",
                              mapping={"columns": {"date": "day", "visits": "visits"}})


# ---------------------------------------------------------------- loads and versions
def test_sessions_load_keeps_the_lines_and_replaces_only_the_days_it_covers(loaded, tmp_path):
    before = loaded.current_version()
    first = traffic.load_sessions(loaded, _write(tmp_path, "ga4.csv", GA4))
    assert first.version == before + 1
    assert first.quality["totals"]["sessions"] == 3000
    assert loaded.version_info().line_count == 2
    assert loaded.version_info().has_sessions
    again = "Date,Sessions\n20240102,7\n20240103,5\n"
    traffic.load_sessions(loaded, _write(tmp_path, "more.csv", again))
    sessions = loaded.read_sessions()
    by_day = sessions.groupby(sessions["session_date"].dt.strftime("%Y-%m-%d"))["sessions"].sum()
    assert by_day.to_dict() == {"2024-01-01": 2000, "2024-01-02": 7, "2024-01-03": 5}
    assert len(loaded.read_lines()) == 2
    quality = loaded.version_info().quality
    assert quality["sessions_load"]["source"] == "more.csv"


def test_ads_load_replaces_the_rows_of_its_days_and_channel_only(loaded, tmp_path):
    traffic.load_ads(loaded, _write(tmp_path, "gads.csv", GOOGLE_ADS), format="google-ads",
                     currency="£")
    traffic.load_ads(loaded, _write(tmp_path, "meta.csv", META), format="meta-ads",
                     currency="£")
    ads = loaded.read_ad_spend()
    assert ads.groupby("channel")["spend"].sum().to_dict() == {"Google Ads": 75.0,
                                                               "Meta Ads": 60.0}
    fewer = GOOGLE_ADS.replace("2024-01-01,Shopping - FR,Shopping,GBP,2000,20,30.00",
                               "2024-01-01,Shopping - FR,Shopping,GBP,2000,20,3.00")
    traffic.load_ads(loaded, _write(tmp_path, "gads2.csv", fewer), format="google-ads",
                     currency="£")
    ads = loaded.read_ad_spend()
    assert ads.groupby("channel")["spend"].sum().to_dict() == {"Google Ads": 48.0,
                                                               "Meta Ads": 60.0}
    assert len(loaded.read_lines()) == 2


def test_ad_warnings_dates_outside_orders_and_unknown_channel(loaded, tmp_path):
    text = ("d,ch,c,i,k,s\n2024-01-01,Pinterest Ads,Pins,100,5,7.5\n"
            "2023-06-01,Google Ads,Old,100,5,2.5\n")
    mapping = {"columns": {"date": "d", "channel": "ch", "campaign": "c", "impressions": "i",
                           "clicks": "k", "spend": "s"}}
    result = traffic.load_ads(loaded, _write(tmp_path, "ads.csv", text), format="generic",
                              mapping=mapping, currency="£")
    codes = {w["code"]: w for w in result.quality["warnings"]}
    assert codes["dates_outside_orders"]["lines"] == 1
    assert "'Pinterest Ads' matches no traffic source" in codes["unknown_channel"]["message"]
    assert codes["unknown_channel"]["lines"] == 1
    assert result.lines_loaded == 2          # warned lines are kept


# ------------------------------------------------------------------------ bad files
SESSION_BAD = [
    ("Date,Visits\n20240101,5\n", "lacks the column.*sessions: 'Sessions'"),
    ("Sessions,Country\n5,France\n", "no header line with a 'Date' column"),
    ("Date,Sessions\n20240101,5\n20240102,-3\n", r"line 3, column 'Sessions': '-3' is negative"),
    ("Date,Sessions\n20240101,5\n2024-13-45,3\n",
     r"line 3, column 'Date': '2024-13-45' is not a date"),
    ("Date,Sessions\n20240101,many\n", r"line 2, column 'Sessions': 'many' is not a number"),
]


@pytest.mark.parametrize("text,message", SESSION_BAD)
def test_bad_sessions_file_is_refused_and_the_version_stays(loaded, tmp_path, text, message):
    before = loaded.current_version()
    with pytest.raises(LoadError, match=message):
        traffic.load_sessions(loaded, _write(tmp_path, "bad.csv", text))
    assert loaded.current_version() == before
    assert not loaded.version_info().has_sessions


def test_bad_line_numbers_count_the_preamble(tmp_path):
    text = GA4.replace('20240102,Paid Search,desktop,France,1000', '20240102,Paid Search,'
                       'desktop,France,-1000')
    with pytest.raises(LoadError, match=r"line 12, column 'Sessions'"):
        traffic.read_sessions(_write(tmp_path, "ga4.csv", text))


AD_BAD = [
    ("2024-01-02,Brand - UK,Search,GBP,1000,40,-20.00", traffic.REASON_NEGATIVE_SPEND),
    ("2024-01-02,Brand - UK,Search,GBP,1000,4000,20.00", traffic.REASON_CLICKS),
    ("2024-02-31,Brand - UK,Search,GBP,1000,40,20.00", traffic.REASON_DATE),
    ("2024-01-02,Brand - UK,Search,GBP,1000,40,twenty", traffic.REASON_NUMBER),
]


@pytest.mark.parametrize("line,reason", AD_BAD)
def test_rejected_ad_lines_refuse_the_load_unless_forced(loaded, tmp_path, line, reason):
    text = GOOGLE_ADS.replace("2024-01-02,Brand - UK,Search,GBP,1000,40,20.00", line)
    path = _write(tmp_path, "gads.csv", text)
    before = loaded.current_version()
    with pytest.raises(LoadError, match=f"1 of 3 lines of gads.csv were rejected.*{reason}"
                                        ".*first at line 5"):
        traffic.load_ads(loaded, path, format="google-ads", currency="£",
                         rejects_dir=tmp_path)
    assert loaded.current_version() == before
    assert loaded.read_ad_spend().empty
    result = traffic.load_ads(loaded, path, format="google-ads", currency="£", force=True,
                              rejects_dir=tmp_path)
    assert (result.lines_loaded, result.lines_rejected) == (2, 1)
    assert result.quality["rejected_lines"][0]["line"] == 5
    assert result.quality["rejected_lines"][0]["reason"].startswith(reason)
    assert result.rejects_path is not None and result.rejects_path.exists()


def test_other_currency_is_refused_unless_forced(loaded, tmp_path):
    path = _write(tmp_path, "gads.csv", GOOGLE_ADS.replace("GBP", "EUR"))
    before = loaded.current_version()
    with pytest.raises(LoadError, match="in EUR but the orders are in GBP"):
        traffic.load_ads(loaded, path, format="google-ads", currency="£")
    assert loaded.current_version() == before
    result = traffic.load_ads(loaded, path, format="google-ads", currency="£", force=True)
    assert [w["code"] for w in result.quality["warnings"]].count("currency_mismatch") == 1


def test_traffic_needs_order_data_first(duckdb_warehouse, tmp_path):
    with pytest.raises(LoadError, match="Load the order data first"):
        traffic.load_sessions(duckdb_warehouse, _write(tmp_path, "ga4.csv", GA4))
    assert duckdb_warehouse.current_version() is None


def test_an_order_append_keeps_sessions_and_ad_spend(loaded, tmp_path):
    from data import loader
    from tests.analytics.conftest import LINE_DEFAULTS
    traffic.load_ads(loaded, _write(tmp_path, "gads.csv", GOOGLE_ADS), format="google-ads",
                     currency="£")
    traffic.load_sessions(loaded, _write(tmp_path, "ga4.csv", GA4))
    more = pd.DataFrame([{**LINE_DEFAULTS, "invoice_id": "A3",
                          "invoice_ts": pd.Timestamp("2024-01-03 09:00"),
                          "is_cancellation": False}])
    loader.publish_lines(loaded, more, quality={}, source="more", append=True)
    assert len(loaded.read_lines()) == 3
    assert loaded.read_ad_spend()["spend"].sum() == pytest.approx(75.0)
    assert loaded.read_sessions()["sessions"].sum() == 3000


def test_input_limits_hold(tmp_path):
    from data.tables import LoadLimits
    with pytest.raises(LoadError, match="larger than the 0 MB"):
        traffic.read_sessions(_write(tmp_path, "ga4.csv", GA4), limits=LoadLimits(max_bytes=100))
