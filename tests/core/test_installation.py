"""The installation's locale: the admin's settings over the environment's, the data's own
currency over both (£ is never written on dollars), changes validated and audited."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from analytics.errors import AccessDenied
from core import installation, users
from core.formatting import Locale, LocaleError, format_money
from core.orm import AuditEvent
from data.loader import load_file
from tests.data.test_platform_formats import SHOPIFY, write


@pytest.fixture(autouse=True)
def _fresh_cache():
    installation.forget_cached()
    yield
    installation.forget_cached()


def test_the_default_locale(settings):
    state = installation.resolve({}, settings, None)
    assert state.locale == Locale("GBP", "1,234.56", "d mmm yyyy", "UTC")
    assert state.sources["currency"] == "default" and state.warning is None
    assert state.to_dict()["example"] == "£1,234,567.89 · 2 Dec 2025"


def test_admin_settings_win_over_the_environment(settings):
    env = settings.with_overrides(currency="€", number_style="1.234,56")
    state = installation.resolve({"number_style": "1 234,56", "date_format": "yyyy-mm-dd"},
                                 env, None)
    assert state.locale == Locale("EUR", "1 234,56", "yyyy-mm-dd", "UTC")
    assert state.sources == {"currency": "environment", "number_style": "admin",
                             "date_format": "admin", "timezone": "environment"}


def test_the_datas_currency_is_used_and_a_contradicting_setting_warned(settings):
    unset = installation.resolve({}, settings, "USD")
    assert unset.locale.currency == "USD" and unset.warning is None
    assert unset.sources["currency"] == "data"
    told_gbp = installation.resolve({"currency": "GBP"}, settings, "USD")
    assert told_gbp.locale.currency == "USD"            # never £ on dollars
    assert "set to GBP (by an admin)" in told_gbp.warning and "in USD" in told_gbp.warning
    by_env = installation.resolve({}, settings.with_overrides(currency="£"), "USD")
    assert "by CURRENCY" in by_env.warning
    agreeing = installation.resolve({"currency": "USD"}, settings, "USD")
    assert agreeing.warning is None and agreeing.sources["currency"] == "admin"


def test_a_loaded_usd_shopify_export_is_shown_in_dollars(settings, session, duckdb_warehouse,
                                                          tmp_path):
    usd = SHOPIFY.replace(",EUR,", ",USD,")
    load_file(duckdb_warehouse, write(tmp_path, "orders_export.csv", usd), format="shopify")
    assert installation.data_currency(duckdb_warehouse) == "USD"
    installation.update_locale(session, "cli", {"currency": "GBP"})
    session.commit()
    state = installation.current_state(session, settings, duckdb_warehouse)
    assert state.locale.currency == "USD" and state.warning
    assert format_money(-1234.5, state.locale) == "−$1,234"


def test_no_data_means_no_stated_currency(settings, session, duckdb_warehouse):
    assert installation.data_currency(duckdb_warehouse) is None
    assert installation.current_locale(session, settings, duckdb_warehouse).currency == "GBP"


def test_changes_are_validated_audited_and_cleared(settings, session, duckdb_warehouse):
    changed = installation.update_locale(session, "cli", {"currency": "usd",
                                                          "date_format": "dd/mm/yyyy"})
    session.commit()
    assert changed == {"currency": [None, "USD"], "date_format": [None, "dd/mm/yyyy"]}
    assert installation.stored_settings(session) == {"currency": "USD",
                                                     "date_format": "dd/mm/yyyy"}
    event = session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == "settings_changed")).scalar_one()
    assert event.target == "locale" and event.detail["currency"] == [None, "USD"]
    assert installation.update_locale(session, "cli", {"currency": "USD"}) == {}  # no change
    installation.update_locale(session, "cli", {"currency": None, "date_format": ""})
    session.commit()
    assert installation.stored_settings(session) == {}
    for bad, message in (({"currency": "dollars"}, "ISO 4217"),
                         ({"number_style": "1_234"}, "number style"),
                         ({"timezone": "Mars/Olympus"}, "IANA"),
                         ({"colour": "red"}, "unknown locale setting colour"),
                         ({"currency": 5}, "a text or null")):
        with pytest.raises(LocaleError, match=message):
            installation.update_locale(session, "cli", bad)
    assert installation.stored_settings(session) == {}   # a refused change changes nothing


def test_only_an_admin_changes_the_locale(session):
    analyst, _ = users.create_user(session, "cli", "ana@example.com", role="analyst")
    with pytest.raises(AccessDenied):
        installation.update_locale(session, analyst, {"currency": "USD"})
