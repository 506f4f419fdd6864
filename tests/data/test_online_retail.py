"""The real Online Retail file (541,909 lines): loaded once into DuckDB for the module, and
once into PostgreSQL; numbers checked against an independent pandas computation written
here from METRICS.md."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics import schema
from analytics.warehouse import Warehouse
from data.loader import load_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def expected(online_retail_path):
    """Straight from the file with pandas, following METRICS.md:
    sale line: qty > 0, not a C-invoice, price > 0; return line: (qty < 0 or C-invoice)
    and price > 0."""
    raw = pd.read_csv(online_retail_path, dtype=str, keep_default_na=False)
    quantity = raw["Quantity"].astype(float)
    price = raw["UnitPrice"].astype(float)
    cancelled = raw["InvoiceNo"].str.startswith("C")
    value = quantity * price
    sale = (quantity > 0) & ~cancelled & (price > 0)
    returned = ((quantity < 0) | cancelled) & (price > 0)
    customers = raw["CustomerID"].where(raw["CustomerID"] != "")
    return {
        "lines": len(raw),
        "net_revenue": round(value[sale].sum() + value[returned].sum(), 2),
        "gross_sales": round(value[sale].sum(), 2),
        "orders": raw.loc[sale, "InvoiceNo"].nunique(),
        "customers": customers[sale].nunique(),
        "duplicates": int(raw.duplicated().sum()),
        "cancellation_lines": int(cancelled.sum()),
        "cancellation_invoices": raw.loc[cancelled, "InvoiceNo"].nunique(),
        "price_not_positive": int((price <= 0).sum()),
        "missing_customer": int(customers.isna().sum()),
        "country_lines": raw["Country"].value_counts().to_dict(),
    }


@pytest.fixture(scope="module")
def duckdb_load(online_retail_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("online_retail")
    warehouse = Warehouse(f"duckdb:///{folder / 'warehouse'}")
    result = load_file(warehouse, online_retail_path, rejects_dir=folder / "rejects")
    yield warehouse, result
    warehouse.dispose()


def warehouse_numbers(warehouse):
    lines = schema.fact_lines.c
    query = sa.select(
        sa.func.count(),
        sa.func.sum(sa.case((lines.is_sale, lines.line_value), else_=0.0)),
        sa.func.sum(sa.case((lines.is_return, lines.line_value), else_=0.0)),
        sa.func.count(sa.distinct(sa.case((lines.is_sale, lines.invoice_id)))),
        sa.func.count(sa.distinct(sa.case((lines.is_sale, lines.customer_id)))))
    with warehouse.connect() as conn:
        count, gross, return_value, orders, customers = conn.execute(query).one()
    return {"lines": count, "net_revenue": round(gross + return_value, 2),
            "gross_sales": round(gross, 2), "orders": orders, "customers": customers}


def test_every_line_is_read_and_none_rejected(duckdb_load, expected):
    _, result = duckdb_load
    assert result.lines_read == expected["lines"] == 541_909
    assert result.lines_loaded == 541_909
    assert result.lines_rejected == 0 and result.quality["rejected_by_reason"] == {}
    assert result.rejects_path is None


def test_quality_counts_match_pandas(duckdb_load, expected):
    quality = duckdb_load[1].quality
    assert quality["exact_duplicate_lines"] == expected["duplicates"]
    assert quality["cancellations"] == {"invoices": expected["cancellation_invoices"],
                                        "lines": expected["cancellation_lines"]}
    assert quality["price_not_positive_lines"] == expected["price_not_positive"]
    assert quality["missing_customer_lines"] == expected["missing_customer"] == 135_080
    assert quality["unknown_countries"] == {}
    assert {name: info["lines"] for name, info in quality["countries_without_code"].items()} \
        == {name: expected["country_lines"][name]
            for name in ("Channel Islands", "European Community", "Unspecified")}
    assert quality["date_range"] == {"first": "2010-12-01 08:26:00",
                                     "last": "2011-12-09 12:50:00"}
    totals = quality["totals"]
    assert totals["net_revenue"] == pytest.approx(expected["net_revenue"], abs=0.01)
    assert (totals["invoices"], totals["products"], totals["countries"]) == (25_900, 4_070, 38)
    assert totals["orders"] == expected["orders"]


def test_warehouse_numbers_match_pandas_on_duckdb(duckdb_load, expected):
    numbers = warehouse_numbers(duckdb_load[0])
    assert numbers["lines"] == expected["lines"]
    assert numbers["net_revenue"] == pytest.approx(expected["net_revenue"], abs=0.01)
    assert numbers["gross_sales"] == pytest.approx(expected["gross_sales"], abs=0.01)
    assert (numbers["orders"], numbers["customers"]) == (expected["orders"],
                                                         expected["customers"])


def test_the_same_load_into_postgresql_gives_the_same_numbers(
        postgres_warehouse, online_retail_path, expected, tmp_path):
    result = load_file(postgres_warehouse, online_retail_path, rejects_dir=tmp_path)
    assert result.lines_loaded == expected["lines"]
    numbers = warehouse_numbers(postgres_warehouse)
    assert numbers["lines"] == expected["lines"]
    assert numbers["net_revenue"] == pytest.approx(expected["net_revenue"], abs=0.01)
    assert (numbers["orders"], numbers["customers"]) == (expected["orders"],
                                                         expected["customers"])
