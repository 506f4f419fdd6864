"""Finding 7 of the hardening issue: the "About the data" section of a scoped user's PDF
report tells the scope's lines only, never the whole warehouse's (FR and GB lines of
tests/analytics/test_scoped_quality.LINES: 7 lines to 25 March, France 2 to 10 March)."""
from __future__ import annotations

import pypdf
import pytest

from analytics import quality
from analytics.filters import ALL_DATA, Filters, Scope
from analytics.warehouse import Warehouse
from core.reports import render_report
from tests.analytics.conftest import publish_lines
from tests.analytics.test_scoped_quality import LINES

MARCH = Filters.from_query("start=2011-03-01&end=2011-03-31")
FRANCE = Scope.of(["FR"])


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('shop') / 'warehouse'}")
    publish_lines(warehouse, LINES)
    yield warehouse
    warehouse.dispose()


def _about_the_data(warehouse, scope, folder) -> str:
    rendered = render_report(warehouse, MARCH, scope, "pdf", folder, forecast=False)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(rendered.path).pages)
    return " ".join(text[text.index("About the data"):].split())


def test_the_pdf_about_the_data_is_the_scopes(shop, tmp_path):
    assert quality.quality_summary(shop)["lines"] == 7
    assert quality.quality_summary(shop, scope=FRANCE)["lines"] == 2
    everything = _about_the_data(shop, ALL_DATA, tmp_path / "all")
    assert "7 invoice lines from 2011-03-01 to 2011-03-25" in everything
    assert "Unspecified" in everything and "no customer id" in everything

    france = _about_the_data(shop, FRANCE, tmp_path / "fr")
    assert "2 invoice lines in the report's data scope from 2011-03-05 to 2011-03-10" in france
    for global_figure in ("7 invoice lines", "2011-03-25", "Unspecified", "no customer id",
                          "price of 0"):
        assert global_figure not in france
