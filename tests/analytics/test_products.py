"""Top products, category performance, BCG matrix and treemap on hand-made data."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics import rollups
from analytics.filters import ALL_DATA, Filters
from analytics.products import bcg_matrix, category_performance, top_products, treemap
from tests.analytics.conftest import publish_lines

# current period 2011-01-11…20, previous 2011-01-01…10
PERIOD = Filters(start=dt.date(2011, 1, 11), end=dt.date(2011, 1, 20))


def line(invoice, day, product, category, quantity, price, **extra):
    return {"invoice_id": invoice, "invoice_ts": f"2011-01-{day:02d} 12:00",
            "customer_id": "A", "product_id": product, "description": f"{product} item",
            "category": category, "quantity": quantity, "unit_price": price, **extra}


LINES = [
    # previous period: Toys 400, Books 50, Garden 40, Art 10, Kitchen 30
    line("1", 2, "T1", "Toys", 40, 10),
    line("2", 3, "B1", "Books", 5, 10),
    line("3", 4, "G1", "Garden", 4, 10),
    line("3", 4, "A1", "Art", 1, 10),
    line("3", 4, "K1", "Kitchen", 3, 10),
    # current: Toys 200 (−50 %), Garden 100 (+150 %), Books 40 (−20 %), Art 20 (+100 %),
    # Kitchen 15 (−50 %), Food 10 (new); total 385
    line("4", 12, "T1", "Toys", 10, 10),
    line("4", 12, "T2", "Toys", 5, 10),
    line("5", 13, "B1", "Books", 4, 10),
    line("6", 14, "G1", "Garden", 10, 10, city="Leeds"),
    line("7", 15, "F1", "Food", 1, 10),
    line("7", 15, "A1", "Art", 2, 10),
    line("7", 15, "K1", "Kitchen", 1, 15),
    line("8", 16, "Z1", "Toys", 1, 50),     # Z1 and T2 tie at 50: ids decide
]


@pytest.fixture
def store(warehouse):
    publish_lines(warehouse, LINES)
    return warehouse


def test_top_products_and_categories(store):
    top = top_products(store, PERIOD, ALL_DATA, n=3)
    assert list(top["product_id"]) == ["G1", "T1", "T2"]          # 100, 100, 50; ties by id
    assert list(top["revenue"]) == pytest.approx([100, 100, 50])
    assert list(top["description"]) == ["G1 item", "T1 item", "T2 item"]
    assert list(top["category"]) == ["Garden", "Toys", "Toys"]
    assert top["share"].iloc[0] == pytest.approx(100 / 385)

    categories = category_performance(store, PERIOD, ALL_DATA)
    assert list(categories["category"]) == ["Toys", "Garden", "Books", "Art", "Kitchen",
                                            "Food"]
    assert list(categories["revenue"]) == pytest.approx([200, 100, 40, 20, 15, 10])


def test_bcg_matrix_over_categories(store):
    matrix = bcg_matrix(store, PERIOD, ALL_DATA)
    peers = matrix.peers.set_index("key")
    assert peers.loc["Toys", "share"] == pytest.approx(200 / 385)
    assert peers.loc["Toys", "growth"] == pytest.approx(-0.5)
    assert peers.loc["Garden", "growth"] == pytest.approx(1.5)
    assert peers.loc["Books", "growth"] == pytest.approx(-0.2)
    assert peers.loc["Food", "previous_revenue"] == 0
    assert peers.loc["Food", "growth"] != peers.loc["Food", "growth"]       # NaN: new
    # medians of the peers shown: share of (200, 100, 40, 20, 15, 10)/385 → 30/385;
    # growth of (−0.5, 1.5, −0.2, 1.0, −0.5) → −0.2 (a peer on a line counts as high)
    assert matrix.share_median == pytest.approx(30 / 385)
    assert matrix.growth_median == pytest.approx(-0.2)
    assert dict(peers["quadrant"]) == {
        "Toys": "cash cow", "Garden": "star", "Books": "star", "Art": "question mark",
        "Kitchen": "dog", "Food": "new"}

    toys = bcg_matrix(store, PERIOD, ALL_DATA, category="Toys")
    assert toys.level == "product"
    products = toys.peers.set_index("key")
    # T1 100 (previous 400: −75 %), T2 50 and Z1 50 new; share median of (100, 50, 50)/200
    assert list(toys.peers["key"]) == ["T1", "T2", "Z1"]
    assert products.loc["T1", "growth"] == pytest.approx(-0.75)
    assert products.loc["T1", "label"] == "T1 item"
    assert toys.share_median == pytest.approx(0.25)
    assert dict(products["quadrant"]) == {"T1": "star", "T2": "new", "Z1": "new"}

    with rollups.facts_only():
        from_facts = bcg_matrix(store, PERIOD, ALL_DATA)
    assert from_facts.peers.equals(matrix.peers)


def test_treemap(store):
    frame = treemap(store, PERIOD, ALL_DATA)
    assert list(frame.columns) == ["country", "city", "category", "revenue"]
    rows = {tuple(r[:3]): r[3] for r in frame.itertuples(index=False)}
    assert rows == {("United Kingdom", "(none)", "Toys"): pytest.approx(200),
                    ("United Kingdom", "Leeds", "Garden"): pytest.approx(100),
                    ("United Kingdom", "(none)", "Books"): pytest.approx(40),
                    ("United Kingdom", "(none)", "Art"): pytest.approx(20),
                    ("United Kingdom", "(none)", "Kitchen"): pytest.approx(15),
                    ("United Kingdom", "(none)", "Food"): pytest.approx(10)}
    assert frame["revenue"].iloc[0] == pytest.approx(200)
