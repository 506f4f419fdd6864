"""The notes API and the KPI endpoint's comparison, on the tiny warehouse of conftest
(1–3 March 2011): who may call what (signed out 401, a viewer writing 403, another
analyst's note 404), notes scoped like the data, bad input 400 with the field named."""
from __future__ import annotations

import pytest

from tests.webapp.conftest import bearer, make_token, new_user

FR_NOTE = {"start": "2011-03-02", "text": "French price change"}


@pytest.fixture(scope="module")
def api(app):
    new_user(app, "de@example.com", role="analyst", countries=["DE"])
    new_user(app, "fr-analyst@example.com", role="analyst", countries=["FR"])
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str | None, method: str, path: str, body: dict | None = None):
        headers = {}
        if email is not None:
            if email not in tokens:
                tokens[email] = make_token(app, email)
            headers = bearer(tokens[email])
        return client.open(f"/api/v1{path}", method=method, headers=headers, json=body)
    return call


def _texts(api, email: str, query: str = "") -> list[str]:
    response = api(email, "GET", f"/annotations{query}")
    assert response.status_code == 200, response.text
    return [item["text"] for item in response.json["annotations"]]


def test_notes_are_scoped_like_the_data(api):
    created = api("fr-analyst@example.com", "POST", "/annotations", FR_NOTE)
    assert created.status_code == 201, created.text
    assert created.json["countries"] == ["FR"] and created.json["end"] is None
    shop = api("analyst@example.com", "POST", "/annotations",
               {"start": "2011-03-01", "end": "2011-03-03", "text": "site outage"})
    assert shop.status_code == 201 and shop.json["countries"] is None
    assert "French price change" not in _texts(api, "de@example.com")
    assert "site outage" in _texts(api, "de@example.com")
    assert {"French price change", "site outage"} <= set(_texts(api, "admin@example.com"))
    assert "French price change" not in _texts(api, "gb@example.com")
    # the period: a note on 2 March is not in 3…31 March; the outage (1–3 March) is
    assert "French price change" not in _texts(api, "admin@example.com",
                                                "?start=2011-03-03&end=2011-03-31")
    assert "site outage" in _texts(api, "admin@example.com", "?start=2011-03-03")


def test_who_may_write_and_change_a_note(api):
    assert api(None, "GET", "/annotations").status_code == 401
    assert api(None, "POST", "/annotations", FR_NOTE).status_code == 401
    refused = api("viewer@example.com", "POST", "/annotations", FR_NOTE)
    assert refused.status_code == 403 and "analyst" in refused.json["error"]["message"]
    note = api("gb@example.com", "POST", "/annotations",
               {"start": "2011-03-01", "text": "GB newsletter"}).json
    path = f"/annotations/{note['id']}"
    for email in ("analyst@example.com", "de@example.com"):   # another analyst: 404
        for method, body in (("PATCH", {"text": "mine now"}), ("DELETE", None)):
            response = api(email, method, path, body)
            assert response.status_code == 404, (email, method, response.text)
            assert response.json["error"]["message"] == f"There is no note {note['id']}."
    assert api("viewer@example.com", "PATCH", path, {"text": "x"}).status_code == 403
    assert api(None, "DELETE", path).status_code == 401
    changed = api("gb@example.com", "PATCH", path, {"end": "2011-03-02", "text": "GB mail"})
    assert changed.status_code == 200, changed.text
    assert (changed.json["end"], changed.json["text"]) == ("2011-03-02", "GB mail")
    assert api("admin@example.com", "PATCH", path, {"end": None}).json["end"] is None
    assert api("admin@example.com", "DELETE", path).json == {"deleted": note["id"]}
    assert api("gb@example.com", "DELETE", path).status_code == 404


@pytest.mark.parametrize("body, message", [
    ({"start": "2011-03-02", "end": "2011-03-01", "text": "x"}, "end (2011-03-01) is before"),
    ({"start": "2011-03-02", "text": ""}, "text"),
    ({"start": "2011-03-02", "text": "x" * 501}, "text"),
    ({"start": "yesterday", "text": "x"}, "start"),
    ({"text": "x"}, "start"),
    ({"start": "2011-03-02", "text": "x", "colour": "red"}, "colour"),
])
def test_bad_notes_are_400_naming_the_field(api, body, message):
    response = api("analyst@example.com", "POST", "/annotations", body)
    assert response.status_code == 400, response.text
    assert message in response.json["error"]["message"]


def test_kpis_compare_with_what_the_caller_chose(api):
    period = "start=2011-03-02&end=2011-03-03"
    default = api("viewer@example.com", "GET", f"/kpis?{period}").json
    assert default["comparison"] == {"compare": "previous", "start": "2011-02-28",
                                     "end": "2011-03-01", "label": "vs 28 Feb – 1 Mar 2011"}
    # 1 March alone: I1, 10; 2–3 March: 20 − 5 + 15 + 7 = 37
    custom = api("viewer@example.com", "GET", f"/kpis?{period}&compare=custom"
                 "&compare_start=2011-03-01&compare_end=2011-03-01").json
    assert custom["previous_period"] == {"start": "2011-03-01", "end": "2011-03-01"}
    assert custom["comparison"]["label"] == "vs 1 Mar 2011"
    assert custom["kpis"]["revenue"]["previous"] == pytest.approx(10)
    assert custom["kpis"]["revenue"]["current"] == pytest.approx(37)
    last_year = api("viewer@example.com", "GET", f"/kpis?{period}&compare=last_year").json
    assert last_year["comparison"]["start"] == "2010-03-02"
    assert last_year["comparison"]["label"] == "vs same days last year"
    assert last_year["kpis"]["revenue"]["previous"] is None        # before the data
    assert last_year["kpis"]["revenue"]["reason"] == "last year: no data for this period"


@pytest.mark.parametrize("query, message", [
    ("compare=custom&compare_start=2011-03-01", "compare=custom needs compare_end"),
    ("compare=custom&compare_start=2011-03-02&compare_end=2011-03-01",
     "compare_start (2011-03-02) is after compare_end (2011-03-01)"),
    ("compare=fortnight", "compare"),
    ("compare_start=2011-03-01&compare_end=2011-03-01", "only used with compare=custom"),
])
def test_an_invalid_comparison_is_400_with_the_message(api, query, message):
    response = api("viewer@example.com", "GET", f"/kpis?start=2011-03-02&{query}")
    assert response.status_code == 400, response.text
    assert message in response.json["error"]["message"]


def test_time_charts_draw_the_comparison_partial_buckets_and_notes():
    import datetime as dt

    import pandas as pd

    from core.annotations import Note
    from webapp.dashboard import figures

    frame = pd.DataFrame({
        "period_start": [dt.date(2025, 10, 1), dt.date(2025, 11, 1), dt.date(2025, 12, 1)],
        "revenue": [100.0, 120.0, 30.0], "revenue_comparison": [90.0, float("nan"), 80.0],
        "partial": [False, False, True], "days_held": [31, 30, 9],
        "bucket_days": [31, 30, 31]})
    notes = (Note(1, dt.date(2025, 11, 5), None, "price <b>change</b>", 1, None),
             Note(2, dt.date(2025, 11, 20), dt.date(2025, 11, 23), "site outage", 1, ["FR"]))
    figure = figures.trend(frame, x="period_start", y="revenue",
                           comparison="revenue_comparison", comparison_label="Last year",
                           currency="£", notes=notes)
    by_name = {trace.name: trace for trace in figure.data}
    whole = list(by_name["This period"].y)
    assert whole[:2] == [100.0, 120.0] and pd.isna(whole[2])   # no cliff in the solid line
    dotted = list(by_name["Partial"].y)                        # November → December, dotted
    assert pd.isna(dotted[0]) and dotted[1:] == [120.0, 30.0]
    assert by_name["Partial"].line.dash == "dot"
    assert list(by_name["Partial bucket"].text) == ["partial: 9 of 31 days"]
    assert by_name["Last year"].line.dash == "dash"
    assert [shape.type for shape in figure.layout.shapes] == ["line", "rect"]
    labels = [(a.text, a.hovertext) for a in figure.layout.annotations]
    assert labels == [("price &lt;b&gt;change&lt;/b&gt;",
                       "2025-11-05: price &lt;b&gt;change&lt;/b&gt;"),
                      ("site outage", "2025-11-20 – 2025-11-23: site outage")]


def test_the_marketing_chart_of_spend_and_revenue_marks_notes_too():
    import datetime as dt

    import pandas as pd

    from core.annotations import Note
    from webapp.dashboard import figures
    frame = pd.DataFrame({"period_start": [dt.date(2025, 11, 1), dt.date(2025, 11, 2)],
                          "revenue": [100.0, 120.0], "spend": [10.0, 12.0]})
    figure = figures.two_axes(frame, x="period_start", left="revenue", right="spend",
                              left_label="Revenue", right_label="Ad spend", currency="£",
                              notes=(Note(1, dt.date(2025, 11, 2), None, "TV ad", 1, None),))
    assert [shape.type for shape in figure.layout.shapes] == ["line"]
    assert [a.text for a in figure.layout.annotations] == ["TV ad"]


def _add_note_from_overview(client, start: str, text: str):
    from tests.webapp.test_alerts_page import _call
    return _call(client, [("overview-note-status", "children"),
                          ("overview-note-saved", "data"), ("overview-note-text", "value")],
                 [{"id": "overview-note-add", "property": "n_clicks", "value": 1}],
                 "overview-note-add.n_clicks",
                 [{"id": "overview-note-start", "property": "value", "value": start},
                  {"id": "overview-note-end", "property": "value", "value": None},
                  {"id": "overview-note-text", "property": "value", "value": text},
                  {"id": "overview-note-saved", "property": "data", "value": 0}])


def _note_texts(app) -> list[str]:
    import sqlalchemy as sa

    from core import db
    from core.orm import Annotation
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return list(session.scalars(sa.select(Annotation.text)))


def _status(response) -> str:
    from tests.webapp.test_data_upload import text_of
    return text_of(response.json["response"]["overview-note-status"]["children"])


def test_the_overview_form_checks_the_role_on_the_server(app, signed_in):
    refused = _add_note_from_overview(signed_in("viewer@example.com"), "2011-03-02",
                                      "viewer note")
    assert refused.status_code == 200
    assert "Adding notes needs the analyst role." in _status(refused)
    signed_out = _add_note_from_overview(app.test_client(), "2011-03-02", "anonymous note")
    assert signed_out.status_code in (401, 403)
    bad = _add_note_from_overview(signed_in("analyst@example.com"), "2 March", "bad day")
    assert "the note's day must be a date written YYYY-MM-DD" in _status(bad)
    added = _add_note_from_overview(signed_in("gb@example.com"), "2011-03-02", "GB flyer")
    assert "Note added on 2011-03-02." in _status(added)
    texts = _note_texts(app)
    assert "GB flyer" in texts
    assert not {"viewer note", "anonymous note", "bad day"} & set(texts)
