"""The demo generator: schema contract, determinism, exact size, and the realism the analytics
rely on (returns, repeat buying, seasonality, planted pairs and anomalies, sessions)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pycountry
import pytest
import sqlalchemy as sa

from analytics import schema
from data.demo import COUNTRIES, DEFAULT_END, PLANTED_PAIRS, DemoDataError, generate_demo

LINES = 50_000


@pytest.fixture(scope="module")
def demo():
    return generate_demo(LINES, seed=7)


@pytest.fixture(scope="module")
def lines(demo) -> pd.DataFrame:
    return demo.lines


@pytest.fixture(scope="module")
def sale_lines(lines) -> pd.DataFrame:
    """Sale lines as METRICS.md defines them, with their line value."""
    is_sale = (lines.quantity > 0) & ~lines.is_cancellation & (lines.unit_price > 0)
    sales = lines[is_sale]
    return sales.assign(value=sales.quantity * sales.unit_price,
                        day=sales.invoice_ts.dt.normalize())


def robust_z(value: float, neighbours: np.ndarray) -> float:
    """How many robust standard deviations ``value`` lies above the neighbours' median
    (MAD-based; mean absolute deviation when more than half the neighbours are equal)."""
    median = np.median(neighbours)
    sigma = 1.4826 * np.median(np.abs(neighbours - median))
    if sigma == 0:
        sigma = 1.2533 * np.mean(np.abs(neighbours - median))
    return (value - median) / sigma


def daily(frame: pd.DataFrame, column: str | None, start: dt.date, end: dt.date,
          how: str = "sum") -> pd.Series:
    """Per calendar day from ``start`` to ``end`` (days without data count 0): the sum of
    ``column``, or the number of distinct invoices when ``how`` is "orders"."""
    grouped = frame.groupby("day")
    values = grouped.invoice_id.nunique() if how == "orders" else grouped[column].sum()
    days = pd.date_range(start, end, freq="D").astype("datetime64[us]")
    return values.reindex(days, fill_value=0)


# ----------------------------------------------------------------------------- contract
def test_frames_follow_the_schema_contract(demo):
    assert list(demo.lines.columns) == list(schema.LINE_COLUMNS)
    assert {c: str(t) for c, t in demo.lines.dtypes.items()} == schema.LINE_COLUMNS
    assert list(demo.sessions.columns) == list(schema.SESSION_COLUMNS)
    assert {c: str(t) for c, t in demo.sessions.dtypes.items()} == schema.SESSION_COLUMNS
    required = demo.lines[[c for c in schema.REQUIRED_COLUMNS]]
    assert not required.isna().any().any()
    assert demo.lines.invoice_ts.is_monotonic_increasing


@pytest.mark.parametrize("size", [2_000, 20_001, 33_333])
def test_the_requested_number_of_lines_is_honoured_exactly(size):
    assert len(generate_demo(size, seed=size).lines) == size


def test_same_arguments_give_identical_data_and_another_seed_differs():
    first, again, other = (generate_demo(20_000, seed=s) for s in (11, 11, 12))
    pd.testing.assert_frame_equal(first.lines, again.lines)
    pd.testing.assert_frame_equal(first.sessions, again.sessions)
    assert first.anomalies == again.anomalies
    assert (pd.util.hash_pandas_object(first.lines).to_numpy()
            == pd.util.hash_pandas_object(again.lines).to_numpy()).all()
    assert not first.lines.equals(other.lines)
    assert first.lines.invoice_ts.ne(other.lines.invoice_ts).any()


def test_history_is_sixteen_years_ending_on_the_fixed_default_end(lines):
    first, last = lines.invoice_ts.min().date(), lines.invoice_ts.max().date()
    assert last <= DEFAULT_END and (DEFAULT_END - last).days <= 3
    assert 15.9 <= (last - first).days / 365.25 <= 16.0


def test_end_moves_the_history():
    end = dt.date(2020, 6, 30)
    moved = generate_demo(5_000, seed=1, end=end)
    assert moved.lines.invoice_ts.max().date() <= end
    assert moved.lines.invoice_ts.min().date() > dt.date(2004, 6, 30)
    assert moved.sessions.session_date.max().date() <= end
    assert all(a["end"] <= end for a in moved.anomalies)


@pytest.mark.parametrize("arguments, message", [
    ({"lines": 10}, "at least"),
    ({"lines": 2.5e4}, "whole number"),
    ({"lines": 5_000, "seed": -1}, "seed"),
    ({"lines": 5_000, "end": "2025-01-01"}, "date"),
])
def test_impossible_arguments_are_refused_with_a_readable_message(arguments, message):
    with pytest.raises(DemoDataError, match=message):
        generate_demo(**arguments)


# ----------------------------------------------------------------------------- content
def test_returns_are_cancellation_invoices_of_earlier_sales(lines):
    priced = lines.unit_price > 0
    returns = lines[((lines.quantity < 0) | lines.is_cancellation) & priced]
    assert 0.02 <= len(returns) / len(lines) <= 0.03
    assert returns.is_cancellation.all() and (returns.quantity < 0).all()
    assert lines.invoice_id.str.startswith("C").eq(lines.is_cancellation).all()
    sales = lines[(lines.quantity > 0) & ~lines.is_cancellation]
    first_sale = sales.groupby(["customer_id", "product_id", "unit_price"]).invoice_ts.min()
    known = returns.dropna(subset=["customer_id"])
    matched = known.join(first_sale.rename("sold_at"),
                         on=["customer_id", "product_id", "unit_price"])
    assert matched.sold_at.notna().all()
    assert (matched.sold_at < matched.invoice_ts).all()


def test_adjustments_and_missing_customers_are_few(lines):
    assert 0 < (lines.unit_price <= 0).sum() <= 0.002 * len(lines)
    assert 0 < lines.customer_id.isna().sum() <= 0.02 * len(lines)


def test_countries_are_37_with_valid_codes_and_real_cities(lines):
    countries = lines[["country", "country_code"]].drop_duplicates()
    assert len(countries) == 37
    assert countries.country.is_unique and countries.country_code.is_unique
    assert all(pycountry.countries.get(alpha_2=code) for code in countries.country_code)
    assert len(COUNTRIES) == 37 and all(2 <= len(cities) <= 6 for *_, cities in COUNTRIES)
    cities_in_data = lines.dropna(subset=["city"])[["country", "city"]].drop_duplicates()
    known = {(country, city) for country, _, _, cities in COUNTRIES for city in cities}
    assert set(cities_in_data.itertuples(index=False, name=None)) <= known
    assert cities_in_data.groupby("country").size().max() >= 5


def test_catalogue_has_categories_products_and_costs_below_prices(sale_lines):
    assert 10 <= sale_lines.category.nunique() <= 14
    assert 3_000 <= sale_lines.product_id.nunique() <= 4_000
    assert sale_lines.groupby("product_id").category.nunique().max() == 1
    assert sale_lines.unit_cost.notna().all()
    assert sale_lines.unit_cost.mean() < sale_lines.unit_price.mean()
    cost = (sale_lines.quantity * sale_lines.unit_cost).groupby(sale_lines.category).sum()
    margin = 1 - cost / sale_lines.value.groupby(sale_lines.category).sum()
    assert margin.max() - margin.min() > 0.3          # margins vary by category


def test_invoices_hold_1_to_10_products_at_opening_hours(sale_lines):
    basket = sale_lines.groupby("invoice_id").size()
    assert basket.max() <= 10 and (basket > 1).mean() > 0.4
    hour = sale_lines.invoice_ts.dt.hour
    in_store = sale_lines.channel == "Store"
    assert hour[in_store].between(9, 19).all()
    assert hour[~in_store].between(7, 23).all()
    evening, night_before_opening = (hour.between(19, 21)).mean(), (hour < 8).mean()
    assert evening > 3 * night_before_opening


def test_dimensions_are_filled_with_their_values(sale_lines):
    assert set(sale_lines.channel) == {"Web", "Mobile App", "Marketplace", "Store"}
    assert sale_lines.payment_method.notna().all()
    assert sale_lines[sale_lines.channel != "Store"].device.notna().all()
    assert sale_lines[sale_lines.channel != "Store"].traffic_source.notna().all()
    assert sale_lines.traffic_source.nunique() >= 5


def test_customers_buy_again_with_a_heavy_tail(sale_lines):
    orders = sale_lines.groupby("customer_id").invoice_id.nunique()
    assert 0.4 <= (orders >= 2).mean() <= 0.85
    assert orders.quantile(0.99) >= 5 * orders.median()
    first_year = sale_lines.groupby("customer_id").invoice_ts.min().dt.year
    new_customers = first_year.value_counts().sort_index()
    assert new_customers.iloc[-3:].mean() > 3 * new_customers.iloc[:3].mean()   # growth


def test_customers_churn(sale_lines):
    last_order = sale_lines.groupby("customer_id").invoice_ts.max()
    cutoff = sale_lines.invoice_ts.max() - pd.Timedelta(days=365)
    early = sale_lines.groupby("customer_id").invoice_ts.min() < cutoff - pd.Timedelta(days=730)
    assert 0.3 < (last_order[early] < cutoff).mean() < 0.95


def test_december_and_black_friday_are_peaks(sale_lines):
    december_ratios = []
    for year in (2022, 2023, 2024):
        in_year = sale_lines[sale_lines.invoice_ts.dt.year == year]
        monthly = in_year.value.groupby(in_year.invoice_ts.dt.month).sum()
        assert monthly[12] > monthly.mean()
        december_ratios.append(monthly[12] / monthly.mean())
    assert np.mean(december_ratios) > 1.2
    november = sale_lines[(sale_lines.invoice_ts.dt.month == 11)
                          & (sale_lines.invoice_ts.dt.year >= 2021)]
    orders_by_day = november.invoice_id.groupby(november.day).nunique()
    fourth_thursday = [d for d in orders_by_day.index if d.weekday() == 3 and 22 <= d.day <= 28]
    black_fridays = [d + pd.Timedelta(days=1) for d in fourth_thursday]
    others = orders_by_day.drop(black_fridays + fourth_thursday)
    assert orders_by_day[black_fridays].mean() > 2 * others.mean()


def test_planted_pairs_have_a_high_lift(sale_lines):
    baskets = sale_lines.groupby("invoice_id").description.agg(frozenset)
    for (_, first), (_, second) in PLANTED_PAIRS:
        has_first = baskets.map(lambda items, name=first: name in items)
        has_second = baskets.map(lambda items, name=second: name in items)
        both = (has_first & has_second).mean()
        assert (has_first & has_second).sum() >= 20
        assert both / (has_first.mean() * has_second.mean()) > 10


def test_sessions_are_consistent_with_orders(demo, sale_lines):
    sessions = demo.sessions
    keys = ["country_code", "channel", "device", "traffic_source"]
    orders = (sale_lines.assign(session_date=sale_lines.day)
              .groupby(["session_date", *keys], dropna=False).invoice_id.nunique()
              .rename("orders").reset_index())
    cells = sessions.fillna({k: "-" for k in keys}).merge(
        orders.fillna({k: "-" for k in keys}), on=["session_date", *keys], how="right")
    assert cells.sessions.notna().all()
    assert (cells.sessions >= cells.orders).all()
    conversion = orders.orders.sum() / sessions.sessions.sum()
    assert 0.02 <= conversion <= 0.04
    online = sessions[sessions.channel != "Store"]
    assert online.device.notna().all() and online.traffic_source.notna().all()
    by_source = (orders.groupby("traffic_source").orders.sum()
                 / sessions.groupby("traffic_source").sessions.sum())
    assert by_source["Email"] > 2 * by_source["Social"]   # different conversion profiles


# ----------------------------------------------------------------------------- anomalies
def test_anomalies_are_listed_with_their_slice(demo, lines):
    anomalies = demo.anomalies
    assert 3 <= len(anomalies) <= 5
    for anomaly in anomalies:
        assert {"name", "kind", "metric", "start", "end", "dimensions", "magnitude",
                "description"} <= set(anomaly)
        assert anomaly["start"] <= anomaly["end"]
        assert (DEFAULT_END - anomaly["end"]).days < 365
        for column, value in anomaly["dimensions"].items():
            assert value in set(lines[column].dropna())
    days = sorted((a["start"], a["end"]) for a in anomalies)
    assert all(later[0] > earlier[1] for earlier, later in zip(days, days[1:]))


def anomaly(demo, name: str) -> dict:
    return next(a for a in demo.anomalies if a["name"] == name)


def test_bulk_order_is_a_revenue_spike_in_its_country(demo, sale_lines):
    spike = anomaly(demo, "bulk order")
    (column, value), = spike["dimensions"].items()
    day = pd.Timestamp(spike["start"])
    in_slice = sale_lines[sale_lines[column] == value]
    revenue = daily(in_slice, "value", day - pd.Timedelta(days=28), day + pd.Timedelta(days=28))
    assert robust_z(revenue[day], revenue.drop(day).to_numpy()) > 20
    assert revenue[day] > 5 * revenue.drop(day).max()
    everywhere_else = daily(sale_lines[sale_lines[column] != value], "value",
                            day - pd.Timedelta(days=28), day + pd.Timedelta(days=28))
    assert robust_z(everywhere_else[day], everywhere_else.drop(day).to_numpy()) < 4


def test_outage_is_a_drop_in_one_channel_only(demo, sale_lines):
    outage = anomaly(demo, "mobile app outage")
    (column, value), = outage["dimensions"].items()
    start, end = pd.Timestamp(outage["start"]), pd.Timestamp(outage["end"])
    length = (end - start).days + 1
    before = start - pd.Timedelta(days=28)

    def ratio(frame):
        orders = daily(frame, None, before, end, how="orders")
        return orders[start:end].sum() / (orders[:start - pd.Timedelta(days=1)].mean() * length)

    assert ratio(sale_lines[sale_lines[column] == value]) < 0.3
    assert ratio(sale_lines[sale_lines[column] != value]) > 0.6


def test_price_error_day_sells_a_category_at_a_tenth_of_its_price(demo, sale_lines):
    error = anomaly(demo, "price error")
    (column, value), = error["dimensions"].items()
    day = pd.Timestamp(error["start"])
    in_slice = sale_lines[sale_lines[column] == value]
    on_day = in_slice[in_slice.day == day]
    usual = in_slice[in_slice.day.between(day - pd.Timedelta(days=90), day - pd.Timedelta(days=1))]
    assert on_day.unit_price.median() < 0.2 * usual.unit_price.median()
    units = daily(in_slice, "quantity", day - pd.Timedelta(days=28), day)
    assert units[day] > 5 * units.drop(day).mean()


def test_campaign_is_an_order_spike_from_email(demo, sale_lines):
    campaign = anomaly(demo, "e-mail campaign")
    (column, value), = campaign["dimensions"].items()
    start, end = pd.Timestamp(campaign["start"]), pd.Timestamp(campaign["end"])
    in_slice = sale_lines[sale_lines[column] == value]
    orders = daily(in_slice, None, start - pd.Timedelta(days=28), end, how="orders")
    usual = orders[:start - pd.Timedelta(days=1)].mean()
    assert orders[start:end].mean() > 2.5 * usual


# ----------------------------------------------------------------------------- warehouse
def test_demo_publishes_into_the_warehouse(duckdb_warehouse):
    small = generate_demo(5_000, seed=5)
    version = duckdb_warehouse.publish(small.lines, small.sessions, source="demo")
    info = duckdb_warehouse.version_info(version)
    assert info.line_count == 5_000 and info.has_cost and info.has_sessions
    with duckdb_warehouse.connect() as conn:
        sessions = conn.execute(sa.select(sa.func.sum(schema.daily_sessions.c.sessions))).scalar()
        returns = conn.execute(sa.select(sa.func.count()).where(
            schema.fact_lines.c.is_return)).scalar()
    assert sessions == small.sessions.sessions.sum()
    assert returns == round(0.025 * 5_000)
