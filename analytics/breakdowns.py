"""Measures by one dimension (country, city, category, product, channel, …)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import catalog, measures, period, schema
from analytics.filters import FilterError, Filters, Scope
from analytics.planner import Source

#: dimension name → fact column used as the key (every dimension of the catalog)
DIMENSION_COLUMNS = {d.name: d.column for d in catalog.DIMENSIONS}
#: What a breakdown may be sorted by: the measures each row carries.
METRICS = measures.MEASURE_COLUMNS
BREAKDOWN_COLUMNS = ("key", "label", *measures.MEASURE_COLUMNS, "share")
OTHERS_KEY = "(others)"
OTHERS_LABEL = "Others"


def breakdown(warehouse, filters: Filters, scope: Scope, dimension: str,
              top: int | None = None, metric: str = "revenue", *,
              product_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """DataFrame[key, label, (country_code), gross_revenue, returns, revenue, orders, units,
    customers, profit, margin, share] for the resolved period, one row per value of
    ``dimension``, sorted by ``metric`` descending then key.

    A missing value is the key "(none)". ``label`` is the key, or the product's description
    for ``product``; ``country_code`` is only present for ``country``. ``share`` = the row's
    net revenue ÷ the net revenue of all rows. ``top=N`` keeps the first N rows and folds
    the rest into one row keyed "(others)" labelled "Others" (sums added, orders and
    customers counted distinct over the folded values). Profit and margin are NaN for rows
    without cost data. ``product_columns`` (for ``product``) adds columns of the product
    table after ``label`` (``top_products`` adds the latest category), read in the same
    statement.
    """
    if dimension not in DIMENSION_COLUMNS:
        raise FilterError(f"unknown dimension {dimension!r}: use one of "
                          f"{', '.join(DIMENSION_COLUMNS)}")
    if metric not in METRICS:
        raise FilterError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    if top is not None and top < 1:
        raise FilterError("top must be at least 1")
    version = warehouse.require_version()
    filters = period.resolve(warehouse, filters, version)
    declared = catalog.dimension(dimension)
    source = measures.source_for(warehouse, filters, scope, needs_lines=not declared.rollup,
                                 group_by=(dimension,), version=version)
    column = DIMENSION_COLUMNS[dimension]

    products = list(product_columns) if dimension == "product" else []
    texts = ["key", *declared.codes, *products]
    raw = _grouped(warehouse, version, source, filters, scope, column,
                   extra=list(declared.codes), products=products)
    # numpy arrays from here: a product breakdown has thousands of rows, and pandas'
    # per-operation bookkeeping (sort, concat, column by column) cost more than the numbers
    columns = measures.finished_columns(raw.drop(columns=[*texts, *(
        ["description"] if dimension == "product" else [])]))
    for name in texts:
        columns[name] = _objects(raw[name])
    if dimension == "product":
        described = _objects(raw["description"])
        columns["label"] = np.where([d is None for d in described], columns["key"],
                                    described)
    else:
        columns["label"] = columns["key"]
    order = _order(columns[metric], columns["key"])
    columns = {name: np.asarray(values)[order] for name, values in columns.items()}
    total_revenue = float(np.nansum(columns["revenue"]))

    if top is not None and len(order) > top:
        orders_add_up = (source.orders_summable and source.meta is not None
                         and source.meta.flag(f"invoice_level:{dimension}"))
        others = _others(warehouse, version, source, filters, scope, column,
                         list(columns["key"][:top]), orders_add_up)
        if orders_add_up:
            others["orders"] = int(columns["orders"][top:].sum())
        others.update({"key": OTHERS_KEY, "label": OTHERS_LABEL})
        for name in ("gross_revenue", "returns", "revenue", "units", "cost_lines", "cost"):
            rest = columns[name][top:]
            others[name] = (np.nan if name == "cost" and np.isnan(rest).all()
                            else np.nansum(rest))
        others["profit"] = (others["revenue"] - (others["cost"] or 0.0)
                            if others["cost_lines"] else np.nan)
        others["margin"] = (others["profit"] / others["revenue"]
                            if others["revenue"] else np.nan)
        columns = {name: np.append(values[:top], others.get(name, np.nan)).astype(
            values.dtype if name in others or values.dtype == object else "float64")
            for name, values in columns.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        columns["share"] = (columns["revenue"] / total_revenue if total_revenue
                            else np.full(len(columns["revenue"]), np.nan))
    names = list(BREAKDOWN_COLUMNS)
    names[2:2] = [*declared.codes, *products]
    out = {}
    for name in names:
        values = columns[name]
        out[name] = (pd.Series(values, dtype=object) if values.dtype == object
                     else values.astype("int64") if name in ("orders", "customers")
                     else values)
    return pd.DataFrame(out)


def _grouped(warehouse, version: int, source: Source, filters: Filters,
             scope: Scope, column: str, extra: list[str],
             products: list[str] = ()) -> pd.DataFrame:
    """Raw sums and distinct counts per key (plus ``extra`` columns, and the product
    description and ``products`` columns of the product table for ``product_id``) in one
    round trip."""
    summed = ("orders",) if source.orders_summable else ()
    counted = [name for name in measures.COUNT_NAMES if name not in summed]
    sums_key = measures.key_expression(source.sums.c[column]).label("key")
    sums = sa.select(
        sums_key, *[sa.func.max(source.sums.c[name]).label(name) for name in extra],
        *measures.sum_columns(source.sums),
        *measures.summed_count_columns(source.sums, names=summed),
    ).where(*source.where(source.sums, filters, scope)).group_by(sums_key).subquery("sums")
    counts_table = _counts_table(source, counted)
    counts_key = measures.key_expression(counts_table.c[column]).label("key")
    counts = sa.select(counts_key, *measures.count_columns(
        source, counts_table, names=counted)).where(
        *source.where(counts_table, filters, scope)).group_by(counts_key).subquery("counts")
    joined = sums.outerjoin(counts, counts.c.key == sums.c.key)
    columns = [*sums.c, *[counts.c[name] for name in counted]]
    names = ["key", *extra, *measures.SUM_NAMES, *summed, *counted]
    described = ["description", *products] if column == "product_id" else []
    if described:
        product = schema.dim_product
        joined = joined.outerjoin(product, product.c.product_id == sums.c.key)
        columns += [product.c[name] for name in described]
        names += described
    with warehouse.connect(version) as conn:
        return measures.read_frame(conn, sa.select(*columns).select_from(joined), names)


def _objects(column: pd.Series) -> np.ndarray:
    """A text column as an object array of ``str``, None where missing."""
    return column.to_numpy(dtype=object, na_value=None)


def _counts_table(source: Source, names) -> sa.Table:
    """Where distinct ``names`` are counted: the customer days for customers alone."""
    if list(names) == ["customers"] and source.customer_days is not None:
        return source.customer_days
    return source.counts


def _order(metric: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions of the rows by ``metric`` descending (NaN last), then key (keys are
    distinct: a breakdown groups by them)."""
    by_key = np.argsort(keys.astype(str), kind="stable")
    return by_key[np.argsort(-metric[by_key], kind="stable")]


def _others(warehouse, version: int, source: Source, filters: Filters, scope: Scope,
            column: str, kept_keys: list[str], orders_add_up: bool) -> dict:
    """Distinct customers (and orders unless ``orders_add_up``) over every key not in
    ``kept_keys``."""
    names = ("customers",) if orders_add_up else measures.COUNT_NAMES
    table = _counts_table(source, names)
    key = measures.key_expression(table.c[column])
    query = sa.select(*measures.count_columns(source, table, names=names)).where(
        *source.where(table, filters, scope), key.not_in(kept_keys))
    with warehouse.connect(version) as conn:
        row = conn.execute(query).mappings().one()
    return {name: int(row[name]) for name in names}
