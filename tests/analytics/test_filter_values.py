"""Filter values matched ignoring case, written as the data writes them, and unknown values
refused with the closest existing ones, within the user's scope (analytics.filter_values)."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics import breakdowns, cache, kpis
from analytics.filter_values import (KnownValues, UnknownFilterValues, canonical, closest,
                                     dimension_values, resolve, review)
from analytics.filters import ALL_DATA, FilterError, Filters, Scope
from tests.analytics.conftest import publish_lines

COUNTRIES = KnownValues("country", ("United Kingdom", "France", "Finland", "EIRE"),
                        ("GB", "FR", "FI", "IE"))
CATEGORIES = KnownValues("category", ("Furniture", "Toys", "toys"))
KNOWN = {"country": COUNTRIES, "category": CATEGORIES}


def test_values_are_matched_ignoring_case_and_written_as_the_data_writes_them():
    filters = Filters(countries=("france", "eire", "fi"), categories=("FURNITURE",))
    resolved = canonical(filters, KNOWN)
    assert resolved.countries == ("EIRE", "FI", "France")
    assert resolved.categories == ("Furniture",)
    # the exact spelling is its own canonical form: one cache key, one SQL value
    assert canonical(Filters(countries=("France",)), KNOWN) == Filters(countries=("France",))
    assert canonical(Filters(countries=("FRANCE",)), KNOWN).to_query() == "country=France"
    # a spelling the data holds twice, in two cases, matches both
    assert canonical(Filters(categories=("TOYS",)), KNOWN).categories == ("Toys", "toys")


def test_a_value_no_line_has_is_a_400_naming_it_and_the_closest_values():
    with pytest.raises(UnknownFilterValues) as caught:
        canonical(Filters(countries=("Frnace", "France")), KNOWN)
    error = caught.value
    assert isinstance(error, FilterError) and error.status == 400
    assert error.message == 'Unknown country "Frnace": no line has it; closest: France.'
    assert [(item.dimension, item.value, item.closest) for item in error.unknown] == [
        ("country", "Frnace", ("France",))]


def test_every_unknown_value_is_named_and_a_far_one_lists_the_values_there_are():
    _resolved, unknown = review(Filters(countries=("Zzz",), categories=("furnitur", "Toy")),
                                KNOWN)
    messages = [item.message for item in unknown]
    assert messages == [
        ('Unknown country "Zzz": no line has it; no close match among the 4 countries: '
         "United Kingdom, France, Finland, EIRE."),
        'Unknown category "Toy": no line has it; closest: Toys.',
        'Unknown category "furnitur": no line has it; closest: Furniture.']


def test_a_dimension_without_values_says_so():
    _resolved, unknown = review(Filters(channels=("Web",)),
                                {"channel": KnownValues("channel", ())})
    assert unknown[0].message == 'Unknown channel "Web": no line has a channel.'


def test_closest_values_ignore_case_and_prefer_values_containing_the_text():
    names = ("United Kingdom", "France", "Finland", "Iceland", "Unspecified")
    assert closest("frnace", names) == ("France",)
    assert closest("KINGDOM", names) == ("United Kingdom",)
    assert closest("Irland", names) == ("Iceland", "Finland")
    assert closest("xyz", names) == ()


LINES = [
    {"invoice_id": "I1", "invoice_ts": "2011-03-01 10:00", "customer_id": "C1",
     "quantity": 2, "unit_price": 5.0, "category": "Furniture"},
    {"invoice_id": "I2", "invoice_ts": "2011-03-02 10:00", "customer_id": "C2",
     "quantity": 1, "unit_price": 3.0, "country": "France", "country_code": "FR",
     "category": "Toys"},
    {"invoice_id": "I3", "invoice_ts": "2011-03-02 11:00", "customer_id": "C3",
     "quantity": 1, "unit_price": 4.0, "country": "Finland", "country_code": "FI",
     "category": "Toys"},
]
MARCH = Filters(start=dt.date(2011, 3, 1), end=dt.date(2011, 3, 3))
FRANCE = Scope.of(["FR"])


def test_values_come_from_the_data_the_scope_allows(duckdb_warehouse):
    publish_lines(duckdb_warehouse, LINES)
    assert dimension_values(duckdb_warehouse, ALL_DATA, "country") == KnownValues(
        "country", ("United Kingdom", "Finland", "France"), ("GB", "FI", "FR"))
    assert dimension_values(duckdb_warehouse, FRANCE, "country") == KnownValues(
        "country", ("France",), ("FR",))
    assert dimension_values(duckdb_warehouse, ALL_DATA, "channel").names == ()


def test_resolved_filters_give_the_numbers_of_the_exact_spelling(duckdb_warehouse):
    publish_lines(duckdb_warehouse, LINES)
    lower = resolve(duckdb_warehouse, Filters(start=MARCH.start, end=MARCH.end,
                                              countries=("france",),
                                              categories=("toys",)), ALL_DATA)
    assert lower.countries == ("France",) and lower.categories == ("Toys",)
    exact = Filters(start=MARCH.start, end=MARCH.end, countries=("France",),
                    categories=("Toys",))
    assert lower == exact
    revenue = kpis.kpi_summary(duckdb_warehouse, lower, ALL_DATA).to_dict()[
        "kpis"]["revenue"]["current"]
    assert revenue == pytest.approx(3.0)


def test_a_scoped_user_is_never_offered_a_value_outside_the_scope(duckdb_warehouse):
    publish_lines(duckdb_warehouse, LINES)
    with pytest.raises(UnknownFilterValues) as everyone:
        resolve(duckdb_warehouse, Filters(countries=("Finlnd",)), ALL_DATA)
    assert everyone.value.message == 'Unknown country "Finlnd": no line has it; closest: ' \
        "Finland."
    with pytest.raises(UnknownFilterValues) as scoped:
        resolve(duckdb_warehouse, Filters(countries=("Finlnd",)), FRANCE)
    # an existing country outside the scope is refused in the same words as a made-up one
    with pytest.raises(UnknownFilterValues) as outside:
        resolve(duckdb_warehouse, Filters(countries=("Finland",)), FRANCE)
    for caught, value in ((scoped, "Finlnd"), (outside, "Finland")):
        assert caught.value.message == (f'Unknown country "{value}": no line in your data '
                                        "scope has it; the only country is France.")
        assert "FI" not in caught.value.message.replace(value, "")
    assert resolve(duckdb_warehouse, Filters(countries=("fr",)), FRANCE).countries == ("FR",)


def test_values_are_read_once_per_data_version_through_the_analytics_cache(
        duckdb_warehouse, monkeypatch):
    publish_lines(duckdb_warehouse, LINES)
    calls = []
    real = breakdowns.breakdown

    def counting(*args, **kwargs):
        calls.append(kwargs["dimension"])
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "_default", cache.Cache())
    monkeypatch.setattr(breakdowns, "breakdown", counting)
    filters = Filters(countries=("france",))
    for _ in range(3):
        assert resolve(duckdb_warehouse, filters, ALL_DATA).countries == ("France",)
    assert calls == ["country"]
    assert resolve(duckdb_warehouse, Filters(), ALL_DATA) == Filters()   # nothing to read
    assert calls == ["country"]
    publish_lines(duckdb_warehouse, [{**LINES[0], "country": "Germany",
                                      "country_code": "DE"}])
    with pytest.raises(UnknownFilterValues, match='closest: Germany'):
        resolve(duckdb_warehouse, Filters(countries=("Germny",)), ALL_DATA)
    assert calls == ["country", "country"]
