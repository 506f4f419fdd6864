"""Fixtures of the model tests: the real Online Retail file published once per session."""
from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from analytics import schema
from analytics.countries import normalise_countries
from analytics.warehouse import Warehouse


def online_retail_lines(path) -> pd.DataFrame:
    """The Online Retail CSV as a line-item frame (used when ``data.loader`` is not there)."""
    raw = pd.read_csv(path, dtype={"InvoiceNo": "string", "StockCode": "string",
                                   "Description": "string", "CustomerID": "string",
                                   "Country": "string"})
    codes = normalise_countries(raw["Country"].dropna().unique()).codes
    frame = pd.DataFrame({
        "invoice_id": raw["InvoiceNo"],
        "invoice_ts": pd.to_datetime(raw["InvoiceDate"]),
        "customer_id": raw["CustomerID"],
        "product_id": raw["StockCode"],
        "description": raw["Description"],
        "quantity": raw["Quantity"].astype(float),
        "unit_price": raw["UnitPrice"].astype(float),
        "country": raw["Country"],
        "country_code": raw["Country"].map(codes).astype("string"),
        "is_cancellation": raw["InvoiceNo"].str.startswith("C").fillna(False).astype(bool),
    })
    for column in schema.LINE_COLUMNS:
        if column not in frame:
            frame[column] = pd.Series(None, index=frame.index,
                                      dtype=schema.LINE_COLUMNS[column])
    return frame


def publish_online_retail(warehouse: Warehouse, path, rejects_dir=None) -> None:
    """Publish the file with ``data.loader.load_file`` when it exists, else by pandas."""
    if importlib.util.find_spec("data.loader") is not None:
        from data import loader
        if hasattr(loader, "load_file"):
            loader.load_file(warehouse, path, rejects_dir=rejects_dir)
            return
    warehouse.publish(online_retail_lines(path), source="online_retail")


@pytest.fixture(scope="session")
def online_retail_warehouse(tmp_path_factory, online_retail_path) -> Warehouse:
    """The full Online Retail file in a DuckDB warehouse, shared by the slow tests."""
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('online_retail')}")
    publish_online_retail(warehouse, online_retail_path, tmp_path_factory.mktemp("rejects"))
    yield warehouse
    warehouse.dispose()
