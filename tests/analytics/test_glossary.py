"""The definitions the screens show come from docs/METRICS.md's KPI tables, word for word
(analytics.glossary), and every KPI of the catalog has one; the other terms the screens
use (MAPE, lift, the BCG quadrants, the RFM segments) have a short definition."""
from __future__ import annotations

import re

from analytics import catalog, glossary
from analytics.segments import SEGMENTS


def _rows_of_metrics_md() -> dict[str, str]:
    """The KPI table rows, parsed here independently: {name → definition}."""
    rows = {}
    for line in glossary.METRICS_MD.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`"):
            for name in re.findall(r"`(\w+)`", cells[1]):
                rows[name] = cells[2]
    return rows


def test_every_kpi_of_the_catalog_is_defined_as_metrics_md_says():
    rows = _rows_of_metrics_md()
    definitions = glossary.metric_definitions()
    for measure in (*catalog.MEASURES, *catalog.MARKETING_MEASURES):
        assert definitions.get(measure.name), f"{measure.name} has no definition"
        assert definitions[measure.name] == rows[measure.name]
    assert definitions == rows


def test_definitions_are_the_documents_words():
    definitions = glossary.metric_definitions()
    assert definitions["aov"] == "gross revenue ÷ orders"
    assert definitions["conversion_rate"] == ("orders ÷ sessions, where a sessions table "
                                              "exists for the period; empty otherwise")
    # one row naming two KPIs defines both
    assert definitions["impressions"] == definitions["clicks"] == "Σ of each"
    # the RFM grid is a table too, but not a KPI table
    assert "5" not in definitions and "Champions" not in definitions


def test_the_jargon_on_screen_is_explained():
    for term in ("MAPE", "RMSE", "R²", "WAPE", "lift", "confidence", "support",
                 "star", "cash cow", "question mark", "dog"):
        assert glossary.definition(term), term
    for segment in SEGMENTS:
        assert glossary.definition(segment), f"RFM segment {segment} is not explained"
    assert glossary.definition("revenue") == "gross revenue − returns"
    assert glossary.definition("speed") is None
