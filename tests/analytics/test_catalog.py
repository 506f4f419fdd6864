"""The catalog (``analytics.catalog``): one declaration of a dimension or a KPI reaches every
layer that lists dimensions or KPIs.

The throwaway-dimension test declares a ``campaign`` dimension in a fresh interpreter (the
layers derive their tables at import time, as they would when the line is added to
``catalog.DIMENSIONS``), loads a hand-made CSV through the generic mapping, and checks the
filters' URL round trip, the SQL, the warehouse and rollup columns, the planner, the
breakdown, the KPIs under a campaign filter, the API's query schema, the sidebar and the
reports' filter summary, with numbers worked out by hand.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

from analytics import breakdowns, catalog, filters, kpis, rollups, schema
from core import formatting
from tests.conftest import ROOT

# Three orders in the hand-made file below (unit prices × quantities):
#   A1 spring, 2 × 10 = 20 and 1 × 5 = 5 → 25     A2 spring, 1 × 30 = 30
#   A3 summer, 4 × 2.5 = 10                       A4 (no campaign), 1 × 7 = 7
# campaign=spring: revenue 55, orders 2; summer: 10, 1; (none): 7, 1.
THROWAWAY = r'''
import json, pathlib, sys, tempfile
from analytics import catalog
catalog.DIMENSIONS = (*catalog.DIMENSIONS, catalog.Dimension(
    "campaign", "Campaign", "Campaigns", param="campaign", field="campaigns",
    day_table=True, mapping_hint="marketing campaign"))
catalog.BY_NAME["campaign"] = catalog.DIMENSIONS[-1]

import sqlalchemy as sa
from analytics import breakdowns, filters, kpis, rollups, schema
from analytics.filters import ALL_DATA, Filters, line_conditions
from analytics.warehouse import Warehouse
from core.reports.content import filters_label
from data import readers
from webapp.api import payloads
from webapp.dashboard import shell

out = {}
chosen = Filters.from_query("start=2024-03-01&end=2024-03-31&campaign=spring&campaign=spring")
out["campaigns"] = list(chosen.campaigns)
out["query"] = chosen.to_query()
out["round_trip"] = Filters.from_query(chosen.to_query()) == chosen
out["from_dict"] = Filters.from_query(chosen.to_dict()) == chosen
out["sql"] = str(sa.and_(*line_conditions(chosen, ALL_DATA)).compile(
    compile_kwargs={"literal_binds": True}))
out["line_column"] = schema.LINE_COLUMNS.get("campaign")
out["fact_column"] = "campaign" in schema.fact_lines.c
out["rollup_columns"] = ["campaign" in schema.rollup_invoice.c,
                         "campaign" in schema.rollup_daily.c]
out["day_table"] = rollups.DAY_TABLES[("campaign",)].name
out["breakdown_dimensions"] = list(breakdowns.DIMENSION_COLUMNS)
out["api_parameters"] = list(payloads.FilterQuery.model_fields)
out["api_filters"] = list(payloads.FilterQuery.model_validate(
    {"campaign": ["spring"]}).filters().campaigns)
out["sidebar"] = [name for name, *_rest in shell.DIMENSION_CONTROLS]
out["report_label"] = filters_label(chosen)
out["mapping_field"] = readers.MAPPABLE_FIELDS.get("campaign")

folder = pathlib.Path(tempfile.mkdtemp())
(folder / "orders.csv").write_text(
    "Order,Date,Sku,Qty,Price,Country,Campaign\n"
    "A1,2024-03-01 10:00,P1,2,10,France,spring\n"
    "A1,2024-03-01 10:00,P2,1,5,France,spring\n"
    "A2,2024-03-02 11:00,P1,1,30,Germany,spring\n"
    "A3,2024-03-02 12:00,P3,4,2.5,France,summer\n"
    "A4,2024-03-03 09:00,P1,1,7,France,\n")
mapping = {"columns": {"invoice_id": "Order", "invoice_ts": "Date", "product_id": "Sku",
                       "quantity": "Qty", "unit_price": "Price", "country": "Country",
                       "campaign": "Campaign"}}
read = readers.read_generic(folder / "orders.csv", mapping)
store = Warehouse(f"duckdb:///{folder}/warehouse")
store.publish(read.lines, source="throwaway")
march = Filters.from_query("start=2024-03-01&end=2024-03-31")
frame = breakdowns.breakdown(store, march, ALL_DATA, "campaign")
out["breakdown"] = {row["key"]: [row["revenue"], int(row["orders"])]
                    for row in frame.to_dict(orient="records")}
summary = kpis.kpi_summary(store, chosen, ALL_DATA)
out["kpis"] = [summary["revenue"].current, summary["orders"].current]
from analytics import measures
out["planned"] = measures.source_for(store, chosen, ALL_DATA).sums.name
with rollups.facts_only():
    facts = kpis.kpi_summary(store, chosen, ALL_DATA)
out["facts_kpis"] = [facts["revenue"].current, facts["orders"].current]
print(json.dumps(out))
'''


def test_a_dimension_declared_once_reaches_every_layer():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(THROWAWAY)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # filters and their URL / dict round trip
    assert out["campaigns"] == ["spring"]
    assert out["query"] == "start=2024-03-01&end=2024-03-31&campaign=spring"
    assert out["round_trip"] and out["from_dict"]
    assert re.search(r"campaign IN \('spring'\)", out["sql"])
    # the frame contract, the facts, the rollups and a day table of its own
    assert out["line_column"] == "string" and out["fact_column"]
    assert out["rollup_columns"] == [True, True]
    assert out["day_table"] == "rollup_day_campaign"
    assert out["planned"] == "rollup_day_campaign"
    # breakdowns, API, sidebar, reports, generic mapping
    assert "campaign" in out["breakdown_dimensions"]
    assert "campaign" in out["api_parameters"] and out["api_filters"] == ["spring"]
    assert out["sidebar"][-1] == "campaign"
    assert "Campaigns: spring" in out["report_label"]
    assert out["mapping_field"] == "marketing campaign"
    # the numbers, by hand (see the top of this file), from the rollups and from the facts
    assert out["breakdown"] == {"spring": [55.0, 2], "summer": [10.0, 1], "(none)": [7.0, 1]}
    assert out["kpis"] == [55.0, 2]
    assert out["facts_kpis"] == [55.0, 2]


def test_every_layer_lists_the_declared_dimensions():
    filterable = [d for d in catalog.DIMENSIONS if d.filterable]
    assert list(filters.DIMENSIONS) == [d.param for d in filterable]
    assert filters.FILTER_FIELDS == ("start", "end", *(d.field for d in filterable),
                                     "min_price", "max_price", "segment")
    assert set(breakdowns.DIMENSION_COLUMNS) == {d.name for d in catalog.DIMENSIONS}
    assert rollups.DIMENSION_NAMES == tuple(d.name for d in catalog.DIMENSIONS if d.rollup)
    for d in catalog.DIMENSIONS:
        for column in d.columns:
            assert column in schema.fact_lines.c
        if d.rollup:
            assert all(column in schema.rollup_daily.c for column in d.columns)
        assert (((d.name,) in rollups.DAY_TABLES) == d.day_table) or not d.rollup
        if d.sessions_column:
            assert d.sessions_column in schema.daily_sessions.c
    # product is a breakdown, never a filter or a rollup column
    assert not catalog.dimension("product").filterable
    assert "product_id" not in schema.rollup_daily.c


def test_a_dimension_needs_both_its_parameter_and_its_field():
    import pytest
    with pytest.raises(ValueError, match="both param and field"):
        catalog.Dimension("campaign", "Campaign", "Campaigns", param="campaign")


def test_kpis_are_declared_once_and_defined_in_metrics_md():
    assert kpis.KPI_NAMES == tuple(m.name for m in catalog.MEASURES)
    assert list(formatting.KPI_LABELS) == list(kpis.KPI_NAMES)
    assert formatting.KPI_LABELS["revenue"] == ("Revenue (net)", "money")
    assert catalog.CARD_KPIS == ("revenue", "orders", "aov", "profit", "customers",
                                 "conversion_rate", "ltv", "churn_rate")
    assert catalog.HEADLINE_KPIS == ("revenue", "orders", "aov", "customers")
    metrics = (ROOT / "docs" / "METRICS.md")
    if not metrics.exists():  # the product's copy; before it landed, the shared one
        metrics = ROOT.parent / "shared" / "METRICS.md"
    table = metrics.read_text()
    for measure in catalog.MEASURES:
        assert f"`{measure.name}`" in table, f"{measure.name} is not defined in METRICS.md"
    assert {m.kind for m in catalog.MEASURES} <= {"money", "count", "rate"}
    assert set(breakdowns.METRICS) <= set(kpis.KPI_NAMES)
