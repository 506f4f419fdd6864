"""The browser bench (``bench/browser.py``) measures every page the app registers, so a
new page cannot escape it; its page choice and its percentile."""
from __future__ import annotations

import dash
import pytest

from bench import browser


def test_the_bench_covers_every_registered_page(app):
    registered = {page["path"]: page["name"] for page in dash.page_registry.values()
                  if page["module"].startswith("webapp.dashboard.pages.")}
    assert registered   # the app fixture registered the pages
    assert dict(browser.PAGES) == registered


def test_pages_are_chosen_by_name_or_path():
    assert browser.selected_pages("") == list(browser.PAGES)
    assert browser.selected_pages("overview, /geography") == [("/", "Overview"),
                                                              ("/geography", "Geography")]
    with pytest.raises(browser.BenchError, match="no such page"):
        browser.selected_pages("Overview,Nowhere")


def test_nearest_rank_percentile():
    assert browser.percentile([5, 1, 4, 2, 3, 9, 8, 7, 6], 0.95) == 9   # 9 values: the largest
    assert browser.percentile(list(range(1, 21)), 0.95) == 19         # rank ceil(19.0) = 19
    assert browser.percentile([3, 1, 2], 0.5) == 2
