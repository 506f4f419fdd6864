"""Finding 7 of the hardening issue: a scoped user's Overview data badge and a scoped
admin's quality page show the scope's figures, never the whole warehouse's. The web tests'
warehouse (tests/webapp/conftest.LINES): 5 lines to 3 March, of which France has 1 (on
2 March, customer C3)."""
from __future__ import annotations

import json

from tests.webapp.conftest import new_user
from tests.webapp.test_dashboard_units import _callback, _prop


def _text(node) -> str:
    return json.dumps(node, ensure_ascii=False)


def _badge(client) -> str:
    return _text(_callback(client, "overview-freshness.children",
                           {"id": "overview-freshness", "property": "children"},
                           [_prop("shell-url", "pathname", "/")]))


def _quality_table(client) -> str:
    return _text(_callback(client, "data-quality.children",
                           {"id": "data-quality", "property": "children"},
                           [_prop("shell-url", "pathname", "/data"),
                            _prop("data-load-job", "data", None)]))


def test_the_overview_badge_counts_the_scopes_lines(app, signed_in):
    everything = _badge(signed_in("viewer@example.com"))
    assert "5 lines" in everything and "3 Mar 2011" in everything
    france = _badge(signed_in("fr@example.com"))
    assert "1 lines in your data scope" in france
    assert "Data to 2 Mar 2011" in france
    assert "5 lines" not in france and "3 Mar 2011" not in france


def test_a_scoped_admin_sees_the_quality_of_the_scope_only(app, signed_in):
    new_user(app, "fr-admin@example.com", role="admin", countries="FR")
    everything = _quality_table(signed_in("admin@example.com"))
    assert '"Lines"' in everything and '"5"' in everything and "all data" in everything
    france = _quality_table(signed_in("fr-admin@example.com"))
    assert '"Lines"' in france
    lines_row = france[france.index('"Lines"'):][:200]
    assert '"1"' in lines_row and '"5"' not in lines_row
    assert "2011-03-02 – 2011-03-02" in france and "2011-03-03" not in france


def _history(client) -> str:
    return _text(_callback(client, "data-history.children",
                           {"id": "data-history", "property": "children"},
                           [_prop("shell-url", "pathname", "/data"),
                            _prop("data-load-job", "data", None)]))


def test_a_scoped_admin_sees_no_whole_file_counts_in_the_load_history(app, signed_in):
    """A load's counts are the whole file's (here 123,457 lines loaded, 89 rejected)."""
    from core import db
    from core.orm import DataLoad
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        session.add(DataLoad(source="orders.csv", format="online-retail", mode="replace",
                             status="done", version=1, lines_read=123_546,
                             lines_loaded=123_457, lines_rejected=89))
    new_user(app, "fr-admin2@example.com", role="admin", countries="FR")
    everything = _history(signed_in("admin@example.com"))
    assert "123,457" in everything and '"89"' in everything
    france = _history(signed_in("fr-admin2@example.com"))
    assert "orders.csv" in france
    assert "123,457" not in france and '"89"' not in france
