"""Filter values on the API and the dashboard: matched ignoring case (``country=france`` is
France), and a value no line has is refused with the closest values there are — a 400 on
the API, a note on the dashboard, never a silent "no sales" — suggesting only values inside
the user's data scope (analytics.filter_values; tests/webapp/conftest.LINES: United Kingdom
25, France 15, EIRE 7; no category)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from analytics.filters import Filters
from core import db
from core.orm import Job
from tests.webapp.conftest import PERIOD, bearer, make_token
from webapp.dashboard import context, shell


@pytest.fixture(scope="module")
def api(app):
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str, path: str, method: str = "GET", **kwargs):
        if email not in tokens:
            tokens[email] = make_token(app, email)
        return client.open(f"/api/v1{path}", method=method, headers=bearer(tokens[email]),
                           **kwargs)
    return call


def _kpis(api, email: str, **params) -> dict:
    response = api(email, "/kpis", query_string={**PERIOD, **params})
    assert response.status_code == 200, response.text
    return {name: value["current"] for name, value in response.json["kpis"].items()}


def _error(response) -> str:
    assert response.status_code == 400, response.text
    return response.json["error"]["message"]


# ------------------------------------------------------------------------------ API
@pytest.mark.parametrize("given, exact", [("france", "France"), ("FRANCE", "France"),
                                          ("eire", "EIRE"), ("Eire", "EIRE"), ("fr", "FR"),
                                          ("united KINGDOM", "United Kingdom")])
def test_api_matches_filter_values_ignoring_case(api, given, exact):
    assert _kpis(api, "analyst@example.com", country=given) == \
        _kpis(api, "analyst@example.com", country=exact)
    assert _kpis(api, "analyst@example.com", country=given)["gross_revenue"] > 0


def test_api_tables_use_the_datas_spelling(api):
    lower = api("analyst@example.com", "/breakdown/country",
                query_string={**PERIOD, "country": ["france", "eire"]}).json
    assert {row["key"]: row["revenue"] for row in lower["rows"]} == {"France": 15, "EIRE": 7}
    lines = api("analyst@example.com", "/transactions",
                query_string={**PERIOD, "country": "FRANCE"}).json
    assert lines["total"] == 1 and lines["rows"][0]["invoice_id"] == "I3"


@pytest.mark.parametrize("path", ["/kpis", "/timeseries", "/breakdown/country",
                                  "/products/top", "/customers", "/customers/rfm",
                                  "/cohorts", "/transactions", "/transactions.csv",
                                  "/customers.csv"])
def test_api_refuses_a_value_no_line_has_naming_the_closest(api, path):
    response = api("analyst@example.com", path,
                   query_string={**PERIOD, "country": ["France", "Frnace"]})
    assert _error(response) == 'Unknown country "Frnace": no line has it; closest: France.'


def test_api_names_every_unknown_value_and_the_values_there_are(api):
    message = _error(api("analyst@example.com", "/kpis",
                         query_string={**PERIOD, "country": ["Atlantis", "United Kingdon"],
                                       "category": "furniture"}))
    assert message == (
        'Unknown country "Atlantis": no line has it; no close match among the 3 countries: '
        'United Kingdom, France, EIRE. '
        'Unknown country "United Kingdon": no line has it; closest: United Kingdom. '
        'Unknown category "furniture": no line has a category.')


def test_api_suggests_nothing_outside_the_callers_scope(api):
    everyone = _error(api("analyst@example.com", "/kpis",
                          query_string={**PERIOD, "country": "United Kingdon"}))
    assert "closest: United Kingdom" in everyone
    # fr@example.com sees France only: neither the suggestions nor the wording tell that
    # the United Kingdom or EIRE exist; an existing country outside the scope reads the same
    for asked in ("United Kingdon", "United Kingdom", "eire", "GB"):
        message = _error(api("fr@example.com", "/kpis",
                             query_string={**PERIOD, "country": asked}))
        assert message == (f'Unknown country "{asked}": no line in your data scope has it; '
                           "the only country is France.")
    assert _kpis(api, "fr@example.com", country="france")["gross_revenue"] == 15


def test_api_jobs_and_reports_check_and_store_the_datas_spelling(app, api):
    refused = api("analyst@example.com", "/jobs", method="POST",
                  json={"kind": "forecast", "filters": {"country": ["Frnace"]}})
    assert _error(refused) == 'Unknown country "Frnace": no line has it; closest: France.'
    refused = api("gb@example.com", "/reports", method="POST",
                  json={"format": "pdf", "filters": {**PERIOD, "country": ["france"]}})
    assert "no line in your data scope" in _error(refused) and "France" not in \
        refused.json["error"]["message"].replace('"france"', "")
    accepted = api("analyst@example.com", "/reports", method="POST",
                   json={"format": "xlsx", "filters": {**PERIOD, "country": ["eire"]}})
    assert accepted.status_code in (202, 503), accepted.text
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        job = session.scalars(sa.select(Job).order_by(Job.created_at.desc())).first()
        assert job.kind == "report_xlsx" and job.params["filters"]["country"] == ["EIRE"]


# ------------------------------------------------------------------------ dashboard
def _prop(component, prop: str, *value) -> dict:
    return {"id": component, "property": prop, **({"value": value[0]} if value else {})}


def _callback(client, outputs: list, inputs: list, state: list = (),
              changed: str | None = None) -> dict:
    """The response of a real Dash callback request, as the browser sends it (``changed``:
    the property that fired it, by default the first input)."""
    ids = [_prop(output.component_id, output.component_property) for output in outputs]
    keys = "...".join(f"{item['id']}.{item['property']}" for item in ids)
    payload = {"output": f"..{keys}..",
               "outputs": ids, "inputs": inputs, "state": list(state),
               "changedPropIds": [changed or f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.text
    return response.json["response"]


def _overview_kpis(client, query: str) -> str:
    from dash import Output

    from webapp.dashboard.pages import overview  # noqa: F401  (pages need the app first)
    answer = _callback(client, [Output("overview-kpis", "children"),
                                Output("overview-period", "children")],
                       [_prop("shell-url", "search", query)])
    return json.dumps(answer["overview-kpis"]["children"])


MARCH = "?start=2011-03-01&end=2011-03-03"


def test_dashboard_panels_name_the_unknown_value_instead_of_no_sales(signed_in):
    analyst = signed_in("analyst@example.com")
    shown = _overview_kpis(analyst, MARCH + "&country=Frnace")
    assert 'Unknown country \\"Frnace\\": no line has it; closest: France.' in shown
    assert "overview-empty" in shown
    lower = _overview_kpis(analyst, MARCH + "&country=france")
    assert lower == _overview_kpis(analyst, MARCH + "&country=France")
    assert "overview-empty" not in lower and "15.00" in lower

    scoped = _overview_kpis(signed_in("fr@example.com"), MARCH + "&country=United+Kingdon")
    assert "no line in your data scope has it; the only country is France." in scoped
    assert "United Kingdom" not in scoped


def _sidebar(client, query: str) -> dict:
    """The sidebar's callback on opening ``query`` (the URL wins): id → properties."""
    inputs = [_prop("shell-url-review", "data", {"search": query.lstrip("?"), "at": 1})]
    inputs += [_prop(item.component_id, item.component_property, None)
               for item in shell.FILTER_INPUTS]
    inputs.append(_prop("shell-reset", "n_clicks", None))
    from dash import Output
    outputs = [Output("shell-url-writer", "search"), *shell.FILTER_OUTPUTS,
               *shell.OPTION_OUTPUTS, Output("shell-filter-error", "children"),
               *shell.FIELD_OUTPUTS, Output("shell-synced-search", "data")]
    answer = _callback(client, outputs, inputs, [_prop("shell-url", "search", query)])
    assert answer["shell-synced-search"]["data"] == query.lstrip("?")  # the sidebar shows it
    return answer


def test_sidebar_shows_the_datas_spelling_and_a_note_under_an_unknown_value(signed_in):
    analyst = signed_in("analyst@example.com")
    sidebar = _sidebar(analyst, MARCH + "&country=france&country=Frnace")
    assert sidebar["shell-country"]["value"] == ["France", "Frnace"]
    assert sidebar["shell-country-note"]["children"] == \
        'Unknown country "Frnace": no line has it; closest: France.'
    assert sidebar["shell-category-note"]["children"] == ""
    options = [option["value"] for option in sidebar["shell-country"]["options"]]
    assert options == ["United Kingdom", "France", "EIRE", "Frnace"]   # kept to be cleared

    scoped = _sidebar(signed_in("fr@example.com"), MARCH + "&country=GB")
    # a country the scope leaves out is said to be so (tests/webapp/test_scope_messages.py)
    assert scoped["shell-country-note"]["children"] == "GB is outside your data scope (FR)."
    assert [option["value"] for option in scoped["shell-country"]["options"]] == [
        "France", "GB"]


def test_the_sidebar_note_and_the_panels_come_from_one_check(app, signed_in):
    viewer = signed_in("viewer@example.com")
    with viewer:
        viewer.get("/healthz")  # keeps this request's context (and its signed-in user)
        filters, notes = context.reviewed_filters(Filters(countries=("eire", "Spain")))
        with pytest.raises(context.Unavailable) as caught:
            context.view(MARCH + "&country=eire&country=Spain")
        assert context.view(MARCH + "&country=eire").filters.countries == ("EIRE",)
    assert filters.countries == ("EIRE", "Spain")
    assert notes == {"country": str(caught.value)}
    assert notes["country"].startswith('Unknown country "Spain": no line has it;')


def test_a_job_from_the_dashboard_is_refused_for_an_unknown_value(app, signed_in):
    from webapp.dashboard import jobs_ui
    analyst = signed_in("analyst@example.com")
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(Job))
    with analyst:
        analyst.get("/healthz")
        with pytest.raises(context.Unavailable, match='Unknown country "Frnace"'):
            jobs_ui.submit("report_pdf", MARCH + "&country=Frnace", {"email": False})
        assert context.checked_filters("?country=eire&grain=week") == \
            Filters(countries=("EIRE",))
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == before


def test_a_sidebar_change_sends_back_only_what_changed(signed_in):
    """A new end date from the sidebar: the URL, the dates' preset when it changes, the
    error line and the synced URL come back; the controls and notes the sidebar already
    shows do not (each output written costs the browser's renderer a pass over the page)."""
    from dash import Output
    values = {"shell-preset": "custom", "shell-dates.start_date": "2011-03-01",
              "shell-dates.end_date": "2011-03-02", "shell-country": ["France"]}
    inputs = [_prop("shell-url-review", "data", None)]
    dimensions = {name for name, *_rest in shell.DIMENSION_CONTROLS}   # multi: [] when none
    for item in shell.FILTER_INPUTS:
        key = item.component_id if item.component_property == "value" else \
            f"{item.component_id}.{item.component_property}"
        dimension = item.component_id[len("shell-"):] in dimensions
        inputs.append(_prop(item.component_id, item.component_property,
                            values.get(key, [] if dimension else None)))
    inputs.append(_prop("shell-reset", "n_clicks", None))
    outputs = [Output("shell-url-writer", "search"), *shell.FILTER_OUTPUTS,
               *shell.OPTION_OUTPUTS, Output("shell-filter-error", "children"),
               *shell.FIELD_OUTPUTS, Output("shell-synced-search", "data")]
    shown = [_prop("shell-url", "search", MARCH + "&country=France")]
    analyst = signed_in("analyst@example.com")
    answer = _callback(analyst, outputs, inputs, shown, changed="shell-dates.end_date")
    assert answer["shell-url-writer"]["search"] == \
        "?start=2011-03-01&end=2011-03-02&country=France"
    # the sidebar shows all of this already: not sent back
    assert not {"shell-preset", "shell-dates", "shell-country", "shell-country-field",
                "shell-country-note", "shell-missing-columns"} & set(answer)
    assert set(answer) == {"shell-url-writer", "shell-filter-error", "shell-synced-search"}

    # a preset chosen: its dates differ from those shown, so they are sent
    for item in inputs:
        if item["id"] == "shell-preset":
            item["value"] = "last_90"
    answer = _callback(analyst, outputs, inputs, shown, changed="shell-preset.value")
    assert set(answer["shell-dates"]) == {"start_date", "end_date"}
    assert "shell-preset" not in answer and "shell-country" not in answer
    assert answer["shell-url-writer"]["search"] == (
        f"?start={answer['shell-dates']['start_date']}"
        f"&end={answer['shell-dates']['end_date']}&country=France")
