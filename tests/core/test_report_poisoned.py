"""Finding 3 of the hardening issue: a data version holding implausible lines (inf, 1e308,
dates 0001-01-01 and 9999-12-31; published directly, as a version loaded before the loader
rejected them) still gets its PDF and Excel reports, for the default period (which then
ends on 9999-12-31) and for a period holding the infinite lines."""
from __future__ import annotations

import pypdf
import pytest

from analytics.filters import ALL_DATA, Filters
from analytics.warehouse import Warehouse
from core.reports import render_report
from tests.analytics.conftest import publish_lines
from tests.webapp.test_poisoned_data import POISONED_LINES


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('poisoned') / 'warehouse'}")
    publish_lines(warehouse, POISONED_LINES)
    yield warehouse
    warehouse.dispose()


@pytest.mark.parametrize("query", ["", "start=2011-03-01&end=2011-03-03"])
def test_reports_of_a_poisoned_version_are_written(poisoned, tmp_path, query):
    filters = Filters.from_query(query)
    pdf = render_report(poisoned, filters, ALL_DATA, "pdf", tmp_path, forecast=False)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(pdf.path).pages)
    assert ("9999" if not query else "2011") in text
    xlsx = render_report(poisoned, filters, ALL_DATA, "xlsx", tmp_path, forecast=False)
    assert xlsx.path.stat().st_size > 0
