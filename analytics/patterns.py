"""Patterns: when the shop sells (seasonality), how units answer prices (elasticity), and
orders that stand out (unusual orders).

All three run under the caller's filters, period and data scope, as SQL on the warehouse
(DuckDB or PostgreSQL) that returns a bounded aggregate (one row per day and hour, per
product and week, per order), which pandas/numpy finish. Each result leads with one plain
sentence (``sentence``) and says what is missing when there is too little data
(``message``), never a number it cannot stand behind.

Seasonality (``seasonality``)
    Net revenue (METRICS.md) per calendar day of the period, within the days the data
    covers; a day without sales counts as 0. Weekday profile: mean, 25th and 75th
    percentile of daily revenue per weekday (needs ``MIN_PROFILE_DAYS`` days); ``index`` is
    mean ÷ the mean of all days − 1. Month profile: the same per calendar month, over the
    months with at least ``MIN_MONTH_DAYS`` days in the period (needs two such months;
    ``years`` = how many years a month appears in). Heatmap: mean net revenue per weekday
    × hour (Σ revenue of the cell ÷ number of such weekdays), only when the data has times
    of day: when every timestamp of the period is at midnight it says so and has none.
    Hours are as the data writes them (no time-zone conversion).

Price elasticity (``price_elasticity``)
    Per product and ISO week: units sold and average price paid (Σ line value ÷ Σ units of
    the sale lines). A product is estimated when it has at least ``MIN_PRICE_POINTS``
    distinct unit prices, ``MIN_WEEKS`` weeks with sales, and weekly prices spanning at
    least ``MIN_PRICE_RANGE`` (highest ÷ lowest − 1); else "not enough price variation".
    Estimate: OLS slope of log(units) on log(price) and a linear time trend (so that
    inflation and the shop's growth over the period are not read as a price effect), with
    a 95 % t-interval. A category pools its estimable products within product (each
    product's own level and trend removed: the slope compares a product with itself at
    different prices). Weeks without sales are
    absent, not zero (log 0), and the estimate is a correlation, not an experiment:
    promotions, seasons and quantity-price tiers move prices and units together.

Unusual orders (``unusual_orders``)
    Orders (invoices with a sale line) in the period and customers:

    * size: an order at least ``SIZE_RATIO_OWN`` × the median order of its customer (who
      has at least ``MIN_CUSTOMER_ORDERS`` orders in the period) and at least
      ``SIZE_LARGE_OVERALL`` × the median order of all customers (a big order for a small
      buyer that is ordinary for the shop is not listed); else at least
      ``SIZE_RATIO_ALL`` × the median order of all customers;
    * discount: the data holds prices net of discounts, so a discount shows as paying
      below the products' usual price: an order paid at least ``MIN_DISCOUNT`` below its
      value at each product's median unit price of the same calendar month (so that
      inflation over years is not a discount);
    * refunds: a customer with a return in the period whose returns are at least
      ``MIN_REFUND_SHARE`` of their purchases (gross sales), both counted over all their
      lines up to the period's end (a return often refunds an earlier purchase), and at
      least one median order of the period in value.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats

from analytics import measures, period, schema
from analytics.text import money_text
from analytics.filters import FilterError, Filters, Scope

WEEKDAYS = tuple(calendar.day_name)            # Monday … Sunday
MONTHS = tuple(calendar.month_name)[1:]        # January … December
MIN_PROFILE_DAYS = 14       # each weekday at least twice
MIN_MONTH_DAYS = 14         # a month counts in the month profile with this many days
MIN_PRICE_POINTS = 3
MIN_PRICE_RANGE = 0.10
MIN_WEEKS = 6
SIZE_RATIO_OWN = 5.0
SIZE_RATIO_ALL = 10.0
SIZE_LARGE_OVERALL = 3.0
MIN_CUSTOMER_ORDERS = 3
MIN_DISCOUNT = 0.25
MIN_REFUND_SHARE = 0.30
NOT_ENOUGH_VARIATION = (f"not enough price variation (needs {MIN_PRICE_POINTS} distinct "
                        f"prices, {MIN_WEEKS} weeks with sales and weekly prices "
                        f"{MIN_PRICE_RANGE * 100:.0f} % apart)")


def _money(value: float, currency="") -> str:
    return money_text(value, currency)


def _percent(value: float) -> str:
    return f"{abs(value) * 100:.0f} %"


def _days_covered(warehouse, filters: Filters) -> tuple[dt.date, dt.date] | None:
    """The period cut to the days the data covers (None when they do not meet)."""
    first, last = period.data_range(warehouse)
    if first is None:
        return None
    start, end = max(filters.start, first), min(filters.end, last)
    return (start, end) if start <= end else None


# ============================================================================ seasonality
@dataclass(frozen=True)
class Seasonality:
    """``weekdays``: DataFrame[weekday (0 = Monday), name, days, mean, q25, q75, index];
    ``months``: DataFrame[month (1…12), name, days, years, mean, q25, q75, index, year_low,
    year_high] (mean & quartiles of daily net revenue; ``year_low``/``year_high``: the
    month's mean day in its weakest and its strongest year); ``heatmap``: DataFrame[weekday, hour, revenue, orders]
    (means per such day, NaN for a weekday the period does not hold; empty when
    ``has_times`` is False). ``messages`` say what a view
    lacks."""
    sentence: str
    start: dt.date | None
    end: dt.date | None
    days: int
    mean_daily_revenue: float
    has_times: bool
    weekdays: pd.DataFrame
    months: pd.DataFrame
    heatmap: pd.DataFrame
    messages: dict[str, str] = field(default_factory=dict)


def _profile(daily: pd.DataFrame, key: str, names: tuple[str, ...], base: int,
             mean_all: float) -> pd.DataFrame:
    grouped = daily.groupby(key)["revenue"]
    frame = pd.DataFrame({
        "days": grouped.size(), "mean": grouped.mean(),
        "q25": grouped.quantile(0.25), "q75": grouped.quantile(0.75)})
    frame.index.name = key
    frame = frame.reset_index()
    frame.insert(1, "name", [names[int(k) - base] for k in frame[key]])
    frame["index"] = frame["mean"] / mean_all - 1 if mean_all > 0 else np.nan
    return frame


def seasonality(warehouse, filters: Filters, scope: Scope, currency: str = "") -> Seasonality:
    """Weekday, month and weekday × hour profiles of net revenue (module docstring);
    ``currency`` prefixes the sentence's money."""
    filters = period.resolve(warehouse, filters)
    covered = _days_covered(warehouse, filters)
    empty_week = pd.DataFrame(columns=["weekday", "name", "days", "mean", "q25", "q75",
                                       "index"])
    empty_month = pd.DataFrame(columns=["month", "name", "days", "years", "mean", "q25",
                                        "q75", "index", "year_low", "year_high"])
    empty_heat = pd.DataFrame(columns=["weekday", "hour", "revenue", "orders"])
    if covered is None:
        return Seasonality("No sales in this period.", None, None, 0, 0.0, False,
                           empty_week, empty_month, empty_heat,
                           {"all": "No data in this period."})
    start, end = covered
    source = measures.source_for(warehouse, filters, scope)
    table = source.counts          # per invoice (or the facts): it holds the timestamps
    ts = table.c.invoice_ts
    hour = sa.cast(sa.extract("hour", ts), sa.Integer).label("hour")
    clock = (sa.extract("minute", ts) * 60 + sa.extract("second", ts))
    query = (sa.select(table.c.invoice_date.label("day"), hour,
                       sa.func.sum(source.net_value(table)).label("revenue"),
                       *measures.count_columns(source, table, names=("orders",)),
                       sa.func.max(clock).label("clock"))
             .where(*source.where(table, filters.with_period(start, end), scope))
             .group_by(table.c.invoice_date, hour))
    with warehouse.connect() as conn:
        cells = measures.read_frame(conn, query, ["day", "hour", "revenue", "orders", "clock"])
    cells = measures.numeric(cells, ["revenue", "orders", "clock", "hour"])
    cells["day"] = pd.to_datetime(cells["day"])
    days = pd.date_range(start, end, freq="D")
    daily = (cells.groupby("day")["revenue"].sum().reindex(days, fill_value=0.0)
             .rename_axis("day").reset_index())
    daily["weekday"] = daily["day"].dt.dayofweek
    daily["month"] = daily["day"].dt.month
    daily["year"] = daily["day"].dt.year
    mean_all = float(daily["revenue"].mean())
    messages: dict[str, str] = {}
    if cells.empty or not cells["revenue"].any():
        return Seasonality("No sales in this period.", start, end, len(days), 0.0, False,
                           empty_week, empty_month, empty_heat,
                           {"all": "No sales in this period."})

    parts: list[str] = []
    weekdays = empty_week
    if len(days) < MIN_PROFILE_DAYS:
        messages["weekdays"] = (f"The weekday profile needs at least {MIN_PROFILE_DAYS} days "
                                f"(each weekday twice); this period has {len(days)}.")
    else:
        weekdays = _profile(daily, "weekday", WEEKDAYS, 0, mean_all)
        best = weekdays.loc[weekdays["mean"].idxmax()]
        if mean_all > 0:
            parts.append(f"{best['name']}s bring {_percent(best['index'])} "
                         f"{'more' if best['index'] >= 0 else 'less'} revenue than the "
                         f"average day ({_money(best['mean'], currency)} vs "
                         f"{_money(mean_all, currency)} a day)")

    months = empty_month
    month_days = daily.groupby("month").size()
    kept = month_days[month_days >= MIN_MONTH_DAYS].index
    if len(kept) < 2:
        messages["months"] = (f"The month profile needs at least two months with "
                              f"{MIN_MONTH_DAYS} days or more in the period: choose a longer "
                              "period (a year or more compares every month).")
    else:
        in_kept = daily[daily["month"].isin(kept)]
        months = _profile(in_kept, "month", MONTHS, 1, mean_all)
        years = in_kept.groupby("month")["year"].nunique()
        months.insert(3, "years", years.reindex(months["month"]).to_numpy())
        # across years: the month's mean day in its weakest and in its strongest year
        by_year = in_kept.groupby(["month", "year"])["revenue"].mean().groupby("month")
        months["year_low"] = by_year.min().reindex(months["month"]).to_numpy()
        months["year_high"] = by_year.max().reindex(months["month"]).to_numpy()
        best = months.loc[months["mean"].idxmax()]
        if mean_all > 0:
            of = "" if len(kept) == 12 else f" of the {len(kept)} months covered"
            parts.append(f"{best['name']} is the strongest month{of} "
                         f"({'+' if best['index'] >= 0 else '−'}{_percent(best['index'])})")

    has_times = bool((cells["hour"] > 0).any() or (cells["clock"] > 0).any())
    heatmap = empty_heat
    if not has_times:
        messages["heatmap"] = ("The data has no times of day (every order is at midnight): "
                               "no weekday × hour view.")
    else:
        cells["weekday"] = cells["day"].dt.dayofweek
        cell_sums = cells.groupby(["weekday", "hour"])[["revenue", "orders"]].sum()
        weekday_count = daily.groupby("weekday").size()
        grid = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"])
        heatmap = cell_sums.reindex(grid, fill_value=0.0).reset_index()
        counts = weekday_count.reindex(heatmap["weekday"]).to_numpy(dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            heatmap["revenue"] = heatmap["revenue"].to_numpy() / counts
            heatmap["orders"] = heatmap["orders"].to_numpy() / counts
        top = heatmap.loc[heatmap["revenue"].idxmax()]
        parts.append(f"the busiest hour is {WEEKDAYS[int(top['weekday'])]} "
                     f"{int(top['hour']):02d}:00–{int(top['hour']) + 1:02d}:00 "
                     f"({_money(top['revenue'], currency)} on average)")
    sentence = ("; ".join(parts) + "." if parts else
                "Too few days in this period for a profile: " + " ".join(messages.values()))
    sentence = sentence[0].upper() + sentence[1:]
    return Seasonality(sentence, start, end, len(days), mean_all, has_times, weekdays,
                       months, heatmap, messages)


# ============================================================================ elasticity
@dataclass(frozen=True)
class Elasticity:
    """``categories`` and ``products``: DataFrame[key, label, category, revenue, weeks,
    price_points, price_low, price_high, elasticity, ci_low, ci_high, products, reason,
    sentence]; ``elasticity`` NaN with a ``reason`` when not estimated."""
    sentence: str
    categories: pd.DataFrame
    products: pd.DataFrame
    rule: str = NOT_ENOUGH_VARIATION


def _slope(x: np.ndarray, y: np.ndarray, removed: int = 1) -> tuple[float, float, float, int]:
    """OLS slope of residual ``y`` on residual ``x`` (``removed`` parameters already fitted
    away: levels, trends) with its 95 % interval and degrees of freedom; NaNs when
    undefined."""
    n = len(x)
    dof = n - removed - 1
    sxx = float(np.dot(x, x))
    if dof < 1 or sxx <= 0:
        return np.nan, np.nan, np.nan, dof
    slope = float(np.dot(x, y)) / sxx
    residual = y - slope * x
    se = float(np.sqrt(np.dot(residual, residual) / dof / sxx))
    half = float(stats.t.ppf(0.975, dof)) * se
    return slope, slope - half, slope + half, dof


def _detrended(weekly: pd.DataFrame, column: str, product: np.ndarray) -> np.ndarray:
    """``column`` minus its OLS fit on [1, t] within each product (its level and trend);
    ``product``: each row's product as an integer code (grouping by codes, not strings)."""
    grouped = weekly.groupby(product)
    t = weekly["t"] - grouped["t"].transform("mean")
    v = weekly[column] - grouped[column].transform("mean")
    stt = (t * t).groupby(product).transform("sum")
    stv = (t * v).groupby(product).transform("sum")
    trend = np.where(stt > 0, stv / stt.where(stt > 0, 1.0), 0.0)
    return (v - trend * t).to_numpy(dtype="float64")


def _elasticity_sentence(label: str, slope: float, low: float, high: float,
                         weekly_revenue: float, currency: str = "") -> str:
    """What a 10 % price rise went with: units, and revenue a week at the period's level."""
    units = 1.1 ** slope - 1
    revenue = 1.1 ** (1 + slope) - 1
    return (f"{label}: 10 % higher prices went with {_percent(units)} "
            f"{'fewer' if units < 0 else 'more'} units (elasticity {slope:.2f}, 95 % CI "
            f"{low:.2f} to {high:.2f}), so about {_money(abs(revenue) * weekly_revenue, currency)}"
            f" {'less' if revenue < 0 else 'more'} revenue a week "
            f"({'+' if revenue >= 0 else '−'}{_percent(revenue)} of "
            f"{_money(weekly_revenue, currency)})")


def price_elasticity(warehouse, filters: Filters, scope: Scope, top: int = 10,
                     currency: str = "") -> Elasticity:
    """Elasticity per category and for the ``top`` products by revenue (module
    docstring)."""
    if not 1 <= top <= 100:
        raise FilterError("top must be between 1 and 100")
    filters = period.resolve(warehouse, filters)
    source = measures.source_for(warehouse, filters, scope, needs_lines=True)
    t = schema.fact_lines
    conditions = [*source.where(t, filters, scope), t.c.is_sale, t.c.quantity > 0]
    week = sa.cast(sa.func.date_trunc("week", t.c.invoice_date), sa.Date).label("week")
    weekly_query = (sa.select(t.c.product_id, week, sa.func.sum(t.c.quantity).label("units"),
                              sa.func.sum(t.c.line_value).label("value"))
                    .where(*conditions).group_by(t.c.product_id, week))
    product_query = (sa.select(
        t.c.product_id, sa.func.max(measures.key_expression(t.c.category)).label("category"),
        sa.func.max(t.c.description).label("label"),
        sa.func.count(sa.distinct(t.c.unit_price)).label("price_points"),
        sa.func.sum(t.c.line_value).label("revenue"))
        .where(*conditions).group_by(t.c.product_id))
    with warehouse.connect() as conn:
        weekly = measures.read_frame(conn, weekly_query, ["product_id", "week", "units", "value"])
        products = measures.read_frame(conn, product_query, ["key", "category", "label",
                                                             "price_points", "revenue"])
    weekly = measures.numeric(weekly, ["units", "value"])
    products = measures.numeric(products, ["price_points", "revenue"])
    weeks_in_period = max(1.0, ((filters.end - filters.start).days + 1) / 7)
    weekly["price"] = weekly["value"] / weekly["units"]
    weekly = weekly[(weekly["units"] > 0) & (weekly["price"] > 0)]
    weekly["x"] = np.log(weekly["price"].to_numpy(dtype="float64"))
    weekly["y"] = np.log(weekly["units"].to_numpy(dtype="float64"))
    by_product = weekly.groupby("product_id")
    summary = pd.DataFrame({"weeks": by_product.size(), "price_low": by_product["price"].min(),
                            "price_high": by_product["price"].max()})
    products = products.join(summary, on="key")
    products["weeks"] = products["weeks"].fillna(0).astype("int64")
    products["price_points"] = products["price_points"].astype("int64")
    eligible = ((products["price_points"] >= MIN_PRICE_POINTS)
                & (products["weeks"] >= MIN_WEEKS)
                & (products["price_high"] / products["price_low"] - 1 >= MIN_PRICE_RANGE))
    products["eligible"] = eligible.fillna(False).astype(bool)
    # within product, net of its level and its trend: the slope compares each product with
    # itself at different prices (Frisch–Waugh: residuals of x and y on [1, t])
    weekly["t"] = (pd.to_datetime(weekly["week"]) - pd.Timestamp("2000-01-03")).dt.days / 7.0
    weekly = weekly.join(products.set_index("key")[["eligible", "category"]], on="product_id")
    product_codes = pd.factorize(weekly["product_id"])[0]
    for column in ("x", "y"):
        weekly[column + "c"] = _detrended(weekly, column, product_codes)
    xc = weekly["xc"].to_numpy(dtype="float64")
    yc = weekly["yc"].to_numpy(dtype="float64")
    # each product's and each category's rows, in row order (as a boolean mask keeps them)
    product_rows = weekly.groupby("product_id", sort=False).indices if len(weekly) else {}
    category_rows = weekly.groupby("category", sort=False).indices if len(weekly) else {}
    eligible_rows = weekly["eligible"].astype(bool).to_numpy()
    no_rows = np.array([], dtype="int64")

    def estimate(rows: np.ndarray, groups: int):
        return _slope(xc[rows], yc[rows], 2 * groups)

    products = products.sort_values(["revenue", "key"], ascending=[False, True])
    product_items = []
    for item in products.head(top).itertuples(index=False):
        row = {"key": item.key, "label": item.label, "category": item.category,
               "revenue": item.revenue, "weeks": item.weeks,
               "price_points": item.price_points, "price_low": item.price_low,
               "price_high": item.price_high, "products": 1}
        slope = low = high = np.nan
        reason = sentence = None
        if item.eligible:
            slope, low, high, _dof = estimate(product_rows.get(item.key, no_rows), 1)
        if np.isfinite(slope):
            sentence = _elasticity_sentence(item.label or item.key, slope, low, high,
                                            item.revenue / weeks_in_period, currency)
        else:
            reason = NOT_ENOUGH_VARIATION
        product_items.append({**row, "elasticity": slope, "ci_low": low, "ci_high": high,
                              "reason": reason, "sentence": sentence})
    category_items = []
    by_category = products.groupby("category")
    revenue_by_category = by_category["revenue"].sum()
    eligible_by_category = products[products["eligible"]].groupby("category", sort=False)
    member_count = eligible_by_category.size()
    member_price_points = eligible_by_category["price_points"].sum()
    price_low, price_high = by_category["price_low"].min(), by_category["price_high"].max()
    weeks = weekly["week"]
    for category, revenue in revenue_by_category.sort_values(ascending=False).items():
        rows = category_rows.get(category, no_rows)
        rows = rows[eligible_rows[rows]]
        members = int(member_count.get(category, 0))
        slope = low = high = np.nan
        reason = sentence = None
        if members:
            slope, low, high, _dof = estimate(rows, members)
        if np.isfinite(slope):
            sentence = _elasticity_sentence(str(category), slope, low, high,
                                            revenue / weeks_in_period, currency)
        else:
            reason = ("no product of this category has enough price variation "
                      f"({NOT_ENOUGH_VARIATION.split('(', 1)[1].rstrip(')')})")
        category_items.append({
            "key": category, "label": category, "category": category, "revenue": revenue,
            "weeks": int(weeks.iloc[rows].nunique()) if len(rows) else 0,
            "price_points": int(member_price_points.get(category, 0)),
            "price_low": float(price_low[category]),
            "price_high": float(price_high[category]),
            "products": members, "elasticity": slope, "ci_low": low, "ci_high": high,
            "reason": reason, "sentence": sentence})
    columns = ["key", "label", "category", "revenue", "weeks", "price_points", "price_low",
               "price_high", "products", "elasticity", "ci_low", "ci_high", "reason",
               "sentence"]
    categories = pd.DataFrame(category_items, columns=columns)
    top_products = pd.DataFrame(product_items, columns=columns)
    estimated = categories[categories["elasticity"].notna()]
    if products.empty:
        sentence = "No sales in this period."
    elif estimated.empty:
        sentence = ("No category has enough price variation in this period to estimate how "
                    f"units answer prices: {NOT_ENOUGH_VARIATION}. Choose a longer period.")
    else:
        sentence = estimated.iloc[0]["sentence"] + "."
    return Elasticity(sentence, categories, top_products)


# ============================================================================ unusual orders
@dataclass(frozen=True)
class UnusualOrders:
    """``items``: DataFrame[kind (size, discount, refunds), invoice_id (None for refunds),
    customer_id, date, value, measure (× median, or a share), reason], strongest first
    (``measure`` ÷ its threshold); ``counts`` per kind; ``orders`` = orders looked at."""
    sentence: str
    items: pd.DataFrame
    counts: dict[str, int]
    orders: int
    median_order: float


ITEM_COLUMNS = ["kind", "invoice_id", "customer_id", "date", "value", "measure", "reason"]


def unusual_orders(warehouse, filters: Filters, scope: Scope, limit: int = 50,
                   currency: str = "") -> UnusualOrders:
    """Orders unusual by size or discount and customers unusual by refunds (module
    docstring), at most ``limit`` items."""
    if not 1 <= limit <= 1000:
        raise FilterError("limit must be between 1 and 1000")
    filters = period.resolve(warehouse, filters)
    source = measures.source_for(warehouse, filters, scope, needs_lines=True)
    t = schema.fact_lines
    conditions = source.where(t, filters, scope)
    month = sa.cast(sa.func.date_trunc("month", t.c.invoice_date), sa.Date)
    usual = (sa.select(t.c.product_id, month.label("month"),
                       sa.func.percentile_cont(0.5).within_group(t.c.unit_price)
                       .label("usual_price"))
             .where(*conditions, t.c.is_sale).group_by(t.c.product_id, month)
             .subquery("usual"))
    sale = t.c.is_sale
    order_query = (
        sa.select(t.c.invoice_id, sa.func.max(t.c.customer_id).label("customer_id"),
                  sa.func.min(t.c.invoice_date).label("date"),
                  sa.func.sum(t.c.line_value).filter(sale).label("value"),
                  sa.func.sum(t.c.quantity * usual.c.usual_price).filter(sale)
                  .label("usual_value"))
        .select_from(t.outerjoin(usual, sa.and_(usual.c.product_id == t.c.product_id,
                                                usual.c.month == month)))
        .where(*conditions).group_by(t.c.invoice_id)
        .having(sa.func.count().filter(sale) > 0))
    # refunds: the customers with a return in the period, over all their lines up to its
    # end (a return in the period often refunds a purchase made before it)
    in_period = t.c.invoice_date >= filters.start
    customer_query = (
        sa.select(t.c.customer_id,
                  sa.func.sum(t.c.line_value).filter(sale).label("gross"),
                  sa.func.sum(t.c.line_value).filter(t.c.is_return).label("returned"))
        .where(*source.where(t, filters.with_period(None, filters.end), scope),
               t.c.customer_id.is_not(None))
        .group_by(t.c.customer_id)
        .having(sa.func.count().filter(sa.and_(t.c.is_return, in_period)) > 0))
    with warehouse.connect() as conn:
        orders = measures.read_frame(conn, order_query, ["invoice_id", "customer_id", "date",
                                                         "value", "usual_value"])
        refunds = measures.read_frame(conn, customer_query, ["customer_id", "gross",
                                                             "returned"])
    orders = measures.numeric(orders, ["value", "usual_value"])
    refunds = measures.numeric(refunds, ["gross", "returned"])
    if orders.empty:
        return UnusualOrders("No orders in this period.", pd.DataFrame(columns=ITEM_COLUMNS),
                             {"size": 0, "discount": 0, "refunds": 0}, 0, np.nan)
    orders["date"] = pd.to_datetime(orders["date"]).dt.date
    median_all = float(orders["value"].median())
    known = orders["customer_id"].notna()
    stats_by_customer = orders[known].groupby("customer_id")["value"].agg(["median", "size"])
    orders = orders.join(stats_by_customer, on="customer_id")
    own = (known & (orders["size"].fillna(0) >= MIN_CUSTOMER_ORDERS)
           & (orders["median"] > 0)).to_numpy()
    values = orders["value"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_own = values / orders["median"].to_numpy(dtype="float64")
        ratio_all = values / median_all if median_all > 0 else np.full(len(values), np.nan)
        discount = 1 - values / orders["usual_value"].to_numpy(dtype="float64")
    large_overall = np.nan_to_num(ratio_all, nan=0.0) >= SIZE_LARGE_OVERALL
    # the flagged rows only, from plain arrays (a pandas row per item costs more than the
    # whole rest of the function)
    invoices = orders["invoice_id"].to_numpy(dtype=object)
    customers = orders["customer_id"].to_numpy(dtype=object)
    dates = orders["date"].to_numpy(dtype=object)
    own_median = orders["median"].to_numpy(dtype="float64")
    own_size = orders["size"].to_numpy(dtype="float64")
    usual_values = orders["usual_value"].to_numpy(dtype="float64")
    items = []
    for index in np.flatnonzero(own & large_overall & (ratio_own >= SIZE_RATIO_OWN)):
        items.append(("size", invoices[index], customers[index], dates[index],
                      values[index], ratio_own[index], ratio_own[index] / SIZE_RATIO_OWN,
                      f"{ratio_own[index]:.1f}× the median order of this customer "
                      f"({_money(own_median[index], currency)} over "
                      f"{int(own_size[index])} orders)"))
    for index in np.flatnonzero(~own & (ratio_all >= SIZE_RATIO_ALL)):
        items.append(("size", invoices[index], customers[index], dates[index],
                      values[index], ratio_all[index], ratio_all[index] / SIZE_RATIO_ALL,
                      f"{ratio_all[index]:.1f}× the median order of all customers "
                      f"({_money(median_all, currency)})"))
    for index in np.flatnonzero(np.nan_to_num(discount, nan=0.0) >= MIN_DISCOUNT):
        items.append(("discount", invoices[index], customers[index], dates[index],
                      values[index], discount[index], discount[index] / MIN_DISCOUNT,
                      f"paid {_percent(discount[index])} below the products' usual prices "
                      f"({_money(usual_values[index], currency)} at their median price that "
                      "month)"))
    gross = refunds["gross"].fillna(0.0).to_numpy(dtype="float64")
    returned = -refunds["returned"].fillna(0.0).to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(gross > 0, returned / gross, np.inf)
    flagged = (share >= MIN_REFUND_SHARE) & (returned >= max(median_all, 0.0))
    refund_customers = refunds["customer_id"].to_numpy(dtype=object)
    for index in np.flatnonzero(flagged):
        reason = (f"refunds {_percent(share[index])} of their purchases "
                  f"({_money(returned[index], currency)} of {_money(gross[index], currency)} "
                  f"up to {filters.end.isoformat()})"
                  if np.isfinite(share[index]) else
                  f"refunds {_money(returned[index], currency)} without any purchase up to "
                  f"{filters.end.isoformat()}")
        items.append(("refunds", None, refund_customers[index], None, returned[index],
                      share[index], min(share[index], 10.0) / MIN_REFUND_SHARE, reason))
    items_invoices = [item[1] for item in items]
    items_kinds = [item[0] for item in items]
    frame = pd.DataFrame(items, columns=["kind", "invoice_id", "customer_id", "date", "value",
                                         "measure", "strength", "reason"])
    counts = {kind: int((frame["kind"] == kind).sum()) for kind in ("size", "discount",
                                                                     "refunds")}
    frame = (frame.sort_values(["strength", "value"], ascending=False, kind="stable")
             .head(limit).drop(columns="strength").reset_index(drop=True))
    flagged_orders = {invoice for invoice, kind in zip(items_invoices, items_kinds)
                      if kind != "refunds"}
    order_items = len(flagged_orders)  # an order may be unusual by size and by discount
    flagged_value = float(orders.loc[orders["invoice_id"].isin(flagged_orders), "value"].sum())
    if not order_items and not counts["refunds"]:
        sentence = (f"No unusual order among {len(orders):,} orders in this period "
                    f"(median order {_money(median_all, currency)}).")
    else:
        parts = []
        if order_items:
            parts.append(f"{order_items:,} unusual order{'s' if order_items != 1 else ''} "
                         f"({counts['size']:,} by size, {counts['discount']:,} by discount) "
                         f"among {len(orders):,}")
            if flagged_value:
                parts[-1] += f", worth {_money(flagged_value, currency)}"
        if counts["refunds"]:
            parts.append(f"{counts['refunds']:,} customer"
                         f"{'s' if counts['refunds'] != 1 else ''}"
                         f" refunding {MIN_REFUND_SHARE * 100:.0f} % or more of their purchases")
        sentence = "; ".join(parts) + "."
    return UnusualOrders(sentence, frame, counts, len(orders), median_all)
