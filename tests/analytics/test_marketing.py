"""The traffic and advertising KPIs of METRICS.md on a hand-made store, worked out by hand,
on DuckDB and PostgreSQL: totals, the channel and campaign table, scopes and filters the
tables cannot follow.

The store (period 2024-01-08…14, previous period 2024-01-01…07):

| invoice | day   | customer | country | traffic source | value |
|---------|-------|----------|---------|----------------|-------|
| A1      | 01-02 | C1       | FR      | Paid Search    | 40    |  previous period, C1 new
| B1      | 01-09 | C1       | FR      | Paid Search    | 100   |
| B2      | 01-10 | C2       | GB      | Social         | 60    |  C2 new
| B3      | 01-11 | C3       | FR      | Direct         | 60    |  C3 new
| CB3     | 01-12 | C3       | FR      | Direct         | −20   |  a return
| B4      | 01-12 | C4       | GB      | Paid Search    | 80    |  C4 new

Revenue 280, orders 4, new customers 3 (C2, C3, C4) with net revenue 60 + 40 + 80 = 180.

Ads: Google Ads "Brand" FR 01-09 (1000 impressions, 50 clicks, spend 20, value 150),
Google Ads "Shopping" GB 01-12 (3000, 30, 30, 60), Meta Ads "Prospecting" without a country
01-10 (4000, 20, 10, 40); previous period Google "Brand" FR 01-02 (500, 10, 10, 30).
Sessions: 01-09 FR 100, 01-10 GB 300; previous period 01-02 FR 50.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import marketing
from analytics.filters import Filters, Scope
from tests.analytics.conftest import publish_lines

PERIOD = Filters(start=dt.date(2024, 1, 8), end=dt.date(2024, 1, 14))
FR = {"country": "France", "country_code": "FR"}
GB = {"country": "United Kingdom", "country_code": "GB"}


def _line(invoice, day, customer, country, source, quantity, price):
    return {"invoice_id": invoice, "invoice_ts": f"2024-01-{day} 10:00", "customer_id": customer,
            "quantity": quantity, "unit_price": price, "traffic_source": source,
            "channel": "Web", "category": "Mugs", **country}


LINES = [
    _line("A1", "02", "C1", FR, "Paid Search", 1, 40.0),
    _line("B1", "09", "C1", FR, "Paid Search", 2, 50.0),
    _line("B2", "10", "C2", GB, "Social", 1, 60.0),
    _line("B3", "11", "C3", FR, "Direct", 3, 20.0),
    _line("CB3", "12", "C3", FR, "Direct", -1, 20.0),
    _line("B4", "12", "C4", GB, "Paid Search", 1, 80.0),
]


def _ad(day, channel, campaign, country, impressions, clicks, spend, value):
    return {"ad_date": f"2024-01-{day}", "channel": channel, "campaign": campaign,
            "country": country, "country_code": {"France": "FR", "United Kingdom": "GB"}.get(
                country), "impressions": impressions, "clicks": clicks, "spend": spend,
            "conversions": 1.0, "conversion_value": value, "currency": "GBP"}


ADS = pd.DataFrame([
    _ad("09", "Google Ads", "Brand", "France", 1000, 50, 20.0, 150.0),
    _ad("12", "Google Ads", "Shopping", "United Kingdom", 3000, 30, 30.0, 60.0),
    _ad("10", "Meta Ads", "Prospecting", None, 4000, 20, 10.0, 40.0),
    _ad("02", "Google Ads", "Brand", "France", 500, 10, 10.0, 30.0),
])
SESSIONS = pd.DataFrame([
    {"session_date": "2024-01-09", "country_code": "FR", "traffic_source": "Paid Search",
     "sessions": 100},
    {"session_date": "2024-01-10", "country_code": "GB", "traffic_source": "Social",
     "sessions": 300},
    {"session_date": "2024-01-02", "country_code": "FR", "traffic_source": "Paid Search",
     "sessions": 50},
])


@pytest.fixture
def store(warehouse):
    publish_lines(warehouse, LINES)
    warehouse.publish_traffic(ad_spend=ADS)
    warehouse.publish_traffic(sessions=SESSIONS)
    return warehouse


def _current(summary) -> dict:
    return {name: kpi.current for name, kpi in summary.kpis.items()}


def test_kpis_worked_out_by_hand(store):
    summary = marketing.marketing_summary(store, PERIOD, Scope())
    got = _current(summary)
    assert got["sessions"] == 400
    assert got["revenue_per_session"] == pytest.approx(280 / 400)
    assert got["ad_spend"] == pytest.approx(60.0)
    assert (got["impressions"], got["clicks"]) == (8000, 100)
    assert got["ctr"] == pytest.approx(100 / 8000)
    assert got["cpc"] == pytest.approx(60 / 100)
    assert got["cpm"] == pytest.approx(1000 * 60 / 8000)
    # attributed: Google ← Paid Search (B1 100 + B4 80), Meta ← Social (B2 60)
    assert got["roas"] == pytest.approx(240 / 60)
    assert got["platform_roas"] == pytest.approx(250 / 60)
    assert got["mer"] == pytest.approx(280 / 60)
    assert got["new_customers"] == 3
    assert got["cac"] == pytest.approx(60 / 3)
    assert got["new_customer_revenue_share"] == pytest.approx(180 / 280)
    previous = {name: kpi.previous for name, kpi in summary.kpis.items()}
    assert previous["sessions"] == 50
    assert previous["ad_spend"] == pytest.approx(10.0)
    assert previous["roas"] == pytest.approx(40 / 10)          # A1 (Paid Search) 40
    assert previous["new_customers"] == 1 and previous["cac"] == pytest.approx(10.0)
    assert summary["ad_spend"].rel_change == pytest.approx(5.0)  # 10 → 60
    assert summary.notes == ()


def test_channel_and_campaign_table(store):
    table = marketing.channel_table(store, PERIOD, Scope())
    google = table.frame[(table.frame.level == "channel")
                         & (table.frame.channel == "Google Ads")].iloc[0]
    meta = table.frame[(table.frame.level == "channel")
                       & (table.frame.channel == "Meta Ads")].iloc[0]
    assert list(table.frame["level"]) == ["channel", "campaign", "campaign", "channel",
                                          "campaign"]
    assert list(table.frame["campaign"].fillna("-")) == ["-", "Shopping", "Brand", "-",
                                                         "Prospecting"]
    assert google["spend"] == pytest.approx(50.0)
    assert google["ctr"] == pytest.approx(80 / 4000)
    assert google["cpc"] == pytest.approx(50 / 80)
    assert (google["orders"], google["revenue"]) == (2, 180.0)
    assert google["roas"] == pytest.approx(180 / 50)
    assert google["platform_roas"] == pytest.approx(210 / 50)
    assert google["new_customers"] == 1 and google["cac"] == pytest.approx(50.0)   # C4
    assert google["spend_change"] == pytest.approx((50 - 10) / 10)
    assert google["roas_previous"] == pytest.approx(4.0)
    assert google["roas_change"] == pytest.approx((3.6 - 4.0) / 4.0)
    assert meta["roas"] == pytest.approx(6.0) and meta["cac"] == pytest.approx(10.0)
    assert pd.isna(meta["spend_change"])                     # no previous spend
    brand = table.frame[table.frame.campaign == "Brand"].iloc[0]
    assert brand["platform_roas"] == pytest.approx(150 / 20)
    assert pd.isna(brand["roas"]) and pd.isna(brand["orders"])
    assert any("orders record no campaign" in note for note in table.notes)


def test_country_scope_sees_only_its_countries_and_is_told_about_spend(store):
    summary = marketing.marketing_summary(store, PERIOD, Scope.of(["FR"]))
    got = _current(summary)
    assert got["ad_spend"] == pytest.approx(20.0)              # Brand FR only
    assert got["sessions"] == 100
    assert got["revenue_per_session"] == pytest.approx(140 / 100)   # B1 100 + B3 60 − 20
    assert got["roas"] == pytest.approx(100 / 20)              # B1, Paid Search, FR
    assert got["mer"] == pytest.approx(140 / 20)
    assert got["new_customers"] == 1 and got["cac"] == pytest.approx(20.0)   # C3
    assert any("ad spend without a country is left out under your data scope (FR)" in note
               for note in summary.notes)
    channels = marketing.channel_table(store, PERIOD, Scope.of(["FR"])).frame
    assert set(channels["channel"]) == {"Google Ads"}
    assert list(channels["campaign"].dropna()) == ["Brand"]


def test_spend_without_any_country_is_empty_for_a_scoped_user(warehouse):
    publish_lines(warehouse, LINES)
    warehouse.publish_traffic(ad_spend=ADS.assign(country=None, country_code=None))
    summary = marketing.marketing_summary(warehouse, PERIOD, Scope.of(["FR"]))
    assert summary["ad_spend"].current is None
    assert summary["ad_spend"].reason == marketing.NO_SPEND_BY_COUNTRY
    assert summary["cac"].reason == marketing.NO_SPEND_BY_COUNTRY
    assert any("not split by country" in note for note in summary.notes)
    everyone = marketing.marketing_summary(warehouse, PERIOD, Scope())
    assert everyone["ad_spend"].current == pytest.approx(60.0)


def test_filters_the_tables_do_not_carry_leave_them_unfiltered_and_say_so(store):
    filtered = marketing.marketing_summary(
        store, Filters(start=PERIOD.start, end=PERIOD.end, categories=("Mugs",)), Scope())
    assert filtered["ad_spend"].current == pytest.approx(60.0)
    assert filtered["sessions"].current == 400
    assert "ad spend is not broken down by category: that filter leaves it unfiltered" \
        in filtered.notes
    assert "sessions are not broken down by category: that filter leaves them unfiltered" \
        in filtered.notes
    france = marketing.marketing_summary(
        store, Filters(start=PERIOD.start, end=PERIOD.end, countries=("France",)), Scope())
    assert france["ad_spend"].current == pytest.approx(20.0)
    assert france["sessions"].current == 100
    assert france.notes == ()
    device = marketing.marketing_summary(
        store, Filters(start=PERIOD.start, end=PERIOD.end, devices=("Mobile",)), Scope())
    assert device["sessions"].current == 400       # the sessions carry no device
    assert any("sessions are not broken down by device" in n for n in device.notes)


def test_no_ad_or_session_data_gives_reasons(warehouse):
    publish_lines(warehouse, LINES)
    summary = marketing.marketing_summary(warehouse, PERIOD, Scope())
    assert summary["ad_spend"].current is None
    assert summary["ad_spend"].reason == marketing.NO_AD_DATA
    assert summary["sessions"].reason == marketing.NO_SESSIONS
    assert summary["new_customers"].current == 3
    assert marketing.channel_table(warehouse, PERIOD, Scope()).frame.empty


def test_attribution_aliases():
    assert marketing.attributed_channel("Paid Search", "Web", ["Google Ads", "Meta Ads"]) \
        == "Google Ads"
    assert marketing.attributed_channel("facebook", "Web", ["Google Ads", "Meta Ads"]) \
        == "Meta Ads"
    assert marketing.attributed_channel("Direct", "Web", ["Google Ads", "Meta Ads"]) is None
    assert marketing.attributed_channel(None, "Marketplace", ["Marketplace"]) == "Marketplace"
    assert marketing.matching_values("Facebook Ads", {"social", "direct"}) == {"social"}
    every = [value for names in marketing.ALIASES.values() for value in names]
    assert len(every) == len(set(every))            # no order value in two ad channels


def test_demo_ad_spend_and_its_planted_roas_collapse(duckdb_warehouse):
    from data import loader
    from data.demo import AD_COLLAPSE

    result = loader.load_demo(duckdb_warehouse, lines=5000, seed=7)
    anomaly = result.quality["demo_ad_anomaly"]
    start, end = dt.date.fromisoformat(anomaly["start"]), dt.date.fromisoformat(anomaly["end"])
    table = marketing.channel_table(duckdb_warehouse, Filters(start=start, end=end), Scope())
    campaigns = table.frame[table.frame["level"] == "campaign"]
    assert set(table.frame.loc[table.frame["level"] == "channel", "channel"]) == {
        "Google Ads", "Meta Ads", "Email"}
    assert 15 <= len(campaigns) <= 25
    # the planted campaign is the one whose platform ROAS fell most, to under a third
    worst = campaigns.sort_values("platform_roas_change").iloc[0]
    assert (worst["channel"], worst["campaign"]) == (AD_COLLAPSE["channel"],
                                                     AD_COLLAPSE["campaign"])
    assert worst["platform_roas"] < worst["platform_roas_previous"] / 3
    assert worst["spend_change"] > 0.2
    others = campaigns[campaigns["campaign"] != AD_COLLAPSE["campaign"]]
    assert (others["platform_roas_change"].abs() < 0.5).all()   # the rest hold steady
    summary = marketing.marketing_summary(duckdb_warehouse, Filters(start=start, end=end),
                                          Scope())
    assert 0.005 < summary["ctr"].current < 0.05          # realistic CTR, CPC, ROAS
    assert 0.1 < summary["cpc"].current < 1.5
    assert 1.0 < summary["roas"].current < 15.0


def test_a_customer_who_bought_before_the_previous_period_is_not_new(warehouse):
    # C3 first bought in December (GB): not new in the period; under a France filter C3's
    # first sale is B3, so C3 is a new customer of France in the period
    december = {**_line("Z1", "02", "C3", GB, "Direct", 1, 10.0),
                "invoice_ts": "2023-12-20 10:00"}
    publish_lines(warehouse, [*LINES, december])
    got = _current(marketing.marketing_summary(warehouse, PERIOD, Scope()))
    assert got["new_customers"] == 2                                   # C2, C4
    assert got["new_customer_revenue_share"] == pytest.approx((60 + 80) / 280)
    france = Filters(start=PERIOD.start, end=PERIOD.end, countries=("France",))
    got = _current(marketing.marketing_summary(warehouse, france, Scope()))
    assert got["new_customers"] == 1                                   # C3 (B3, CB3)
    assert got["new_customer_revenue_share"] == pytest.approx((60 - 20) / (100 + 60 - 20))
