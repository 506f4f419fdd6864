"""The saved views API: create (201), list own + shared, read, change, delete, resolve a
relative period to dates, the default view; signed out 401, another's private view 404, a
change of a view only shared with the caller 403, a viewer sharing 403, bad input 400.

The warehouse is ``tests/webapp/conftest.py``'s: data 2011-03-01…2011-03-03, GB 25 net
(10 + 20 − 5), FR 15, IE 7."""
from __future__ import annotations

import pytest

from core import db, users
from core.orm import SavedView, UserPreferences
from tests.webapp.conftest import bearer, make_token


def _id_of(app, email: str) -> int:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return users.get_user(session, email).id


@pytest.fixture(autouse=True)
def no_views(app):
    """Each test starts without saved views (the app is the module's)."""
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        session.query(UserPreferences).delete()
        session.query(SavedView).delete()


class Caller:
    """A test client calling the API with one user's token (a script's way in)."""

    def __init__(self, app, email: str):
        self.client, self.headers = app.test_client(), bearer(make_token(app, email))

    def open(self, method: str, path: str, json=None):
        return self.client.open(path, method=method, headers=self.headers, json=json)

    def get(self, path):
        return self.open("GET", path)

    def post(self, path, json):
        return self.open("POST", path, json)

    def patch(self, path, json):
        return self.open("PATCH", path, json)

    def put(self, path, json):
        return self.open("PUT", path, json)

    def delete(self, path):
        return self.open("DELETE", path)


@pytest.fixture
def signed_in(app):
    return lambda email: Caller(app, email)


@pytest.fixture
def analyst(signed_in):
    return signed_in("analyst@example.com")


def _save(client, **values):
    response = client.post("/api/v1/views", json={"name": "UK wholesale", "page": "/", **values})
    assert response.status_code == 201, response.text
    return response.json


def test_signed_out_every_endpoint_is_401(client):
    for method, path in [("GET", "/api/v1/views"), ("POST", "/api/v1/views"),
                         ("GET", "/api/v1/views/1"), ("PATCH", "/api/v1/views/1"),
                         ("DELETE", "/api/v1/views/1"), ("GET", "/api/v1/views/1/resolve"),
                         ("PUT", "/api/v1/preferences/default-view")]:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401, (method, path, response.status_code)


def test_a_relative_view_resolves_to_the_datas_last_days(analyst):
    saved = _save(analyst, name="Last week GB",
                  filters="country=GB&start=2011-01-01&end=2011-01-31", period="last_7")
    assert (saved["filters"], saved["period"], saved["mine"]) == ("country=GB", "last_7", True)
    resolved = analyst.get(f"/api/v1/views/{saved['id']}/resolve").json
    # the data's last day is 2011-03-03: the last 7 days are 02-25…03-03
    assert resolved == {"id": saved["id"], "page": "/",
                        "query": "start=2011-02-25&end=2011-03-03&country=GB",
                        "path": "/?start=2011-02-25&end=2011-03-03&country=GB",
                        "start": "2011-02-25", "end": "2011-03-03"}
    kpis = analyst.get(f"/api/v1/kpis?{resolved['query']}").json
    assert kpis["kpis"]["revenue"]["current"] == pytest.approx(25.0)
    assert kpis["period"] == {"start": "2011-02-25", "end": "2011-03-03"}


def test_a_scoped_user_opening_a_shared_gb_view_sees_no_gb_data(app, analyst, signed_in):
    saved = _save(analyst, name="GB for all", filters="country=GB", period="all_time",
                  sharing="everyone")
    fr = signed_in("fr@example.com")
    listed = fr.get("/api/v1/views").json["views"]
    assert [(v["name"], v["mine"], v["editable"]) for v in listed] == [
        ("GB for all", False, False)]
    query = fr.get(f"/api/v1/views/{saved['id']}/resolve").json["query"]
    assert query == "start=2011-03-01&end=2011-03-03&country=GB"
    as_analyst = analyst.get(f"/api/v1/kpis?{query}")
    assert as_analyst.json["kpis"]["revenue"]["current"] == pytest.approx(25.0)
    as_fr = fr.get(f"/api/v1/kpis?{query}")
    # the FR user's scope holds no GB line: the API's usual answer to a value outside it
    assert as_fr.status_code == 400, as_fr.text
    assert as_fr.json["error"]["message"] == (
        'Unknown country "GB": no line in your data scope has it; the only country is '
        'France.')


def test_private_everyone_and_chosen_users(app, analyst, signed_in):
    viewer_id = _id_of(app, "viewer@example.com")
    private = _save(analyst, name="Private")
    chosen = _save(analyst, name="Chosen", sharing="users", shared_with=[viewer_id])
    public = _save(analyst, name="Everyone", sharing="everyone")
    viewer, gb = signed_in("viewer@example.com"), signed_in("gb@example.com")
    assert [v["name"] for v in viewer.get("/api/v1/views").json["views"]] == [
        "Chosen", "Everyone"]
    assert [v["name"] for v in gb.get("/api/v1/views").json["views"]] == ["Everyone"]
    assert viewer.get(f"/api/v1/views/{private['id']}").status_code == 404
    assert gb.get(f"/api/v1/views/{chosen['id']}").status_code == 404
    assert gb.get(f"/api/v1/views/{chosen['id']}/resolve").status_code == 404
    assert viewer.get(f"/api/v1/views/{chosen['id']}").json["name"] == "Chosen"
    # a change by someone else: 404 when it is not shared with them, 403 when it is
    assert gb.patch(f"/api/v1/views/{private['id']}", json={"name": "x"}).status_code == 404
    refused = viewer.patch(f"/api/v1/views/{public['id']}", json={"name": "x"})
    assert refused.status_code == 403 and "owner or an admin" in refused.json["error"]["message"]
    assert viewer.delete(f"/api/v1/views/{public['id']}").status_code == 403
    assert gb.delete(f"/api/v1/views/{private['id']}").status_code == 404
    assert analyst.get(f"/api/v1/views/{public['id']}").json["name"] == "Everyone"


def test_owner_changes_and_deletes(analyst):
    saved = _save(analyst, name="To change", filters="country=FR", period="last_30")
    changed = analyst.patch(f"/api/v1/views/{saved['id']}",
                            json={"name": "Changed", "filters": "country=IE", "period": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json["name"], changed.json["filters"], changed.json["period"]) == (
        "Changed", "country=IE", None)
    deleted = analyst.delete(f"/api/v1/views/{saved['id']}")
    assert deleted.json == {"deleted": saved["id"], "name": "Changed"}
    assert analyst.get(f"/api/v1/views/{saved['id']}").status_code == 404


def test_bad_input_is_a_400_naming_the_field(analyst, signed_in):
    _save(analyst, name="Taken")
    conflict = analyst.post("/api/v1/views", json={"name": "Taken"})
    assert conflict.status_code == 400
    assert "already have a view named 'Taken'" in conflict.json["error"]["message"]
    bad = analyst.post("/api/v1/views", json={"name": "Bad", "filters": "start=soon"})
    assert bad.status_code == 400
    assert bad.json["error"]["message"] == (
        "filters: start must be a date written YYYY-MM-DD, not 'soon'")
    period = analyst.post("/api/v1/views", json={"name": "Bad", "period": "fortnight"})
    assert period.status_code == 400 and "unknown period 'fortnight'" in period.text
    page = analyst.post("/api/v1/views", json={"name": "Bad", "page": "/nowhere"})
    assert page.status_code == 400 and "page: there is no page /nowhere" in page.text
    extra = analyst.post("/api/v1/views", json={"name": "Bad", "colour": "red"})
    assert extra.status_code == 400 and "colour" in extra.text
    viewer = signed_in("viewer@example.com")
    shared = viewer.post("/api/v1/views", json={"name": "Mine", "sharing": "everyone"})
    assert shared.status_code == 403 and "analyst role" in shared.json["error"]["message"]
    assert viewer.post("/api/v1/views", json={"name": "Mine"}).status_code == 201


def test_the_default_view(app, analyst, signed_in):
    saved = _save(analyst, name="Default me", filters="country=GB", period="last_7")
    viewer = signed_in("viewer@example.com")
    hidden = viewer.put("/api/v1/preferences/default-view", json={"view_id": saved["id"]})
    assert hidden.status_code == 404
    answer = analyst.put("/api/v1/preferences/default-view", json={"view_id": saved["id"]})
    assert answer.status_code == 200 and answer.json["default_view"]["id"] == saved["id"]
    assert analyst.get("/api/v1/views").json["default_view_id"] == saved["id"]
    cleared = analyst.put("/api/v1/preferences/default-view", json={"view_id": None})
    assert cleared.json == {"default_view": None}
    assert analyst.get("/api/v1/views").json["default_view_id"] is None


def test_the_browser_session_works_too(app):
    from tests.webapp.conftest import sign_in
    client = app.test_client()
    assert sign_in(client, "gb@example.com").status_code == 302
    listed = client.get("/api/v1/views")
    assert listed.status_code == 200 and "views" in listed.json


@pytest.mark.parametrize("path", ["/views", "/views/{view_id}", "/views/{view_id}/resolve",
                                  "/preferences/default-view"])
def test_fuzzed_requests_get_no_server_error(app, path):
    """schemathesis, in-process: whatever the documented schema allows is answered
    without a 500 and as documented."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    headers = bearer(make_token(app, "analyst@example.com"))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    operations = [result.ok() for result in schema.include(path=path).get_all_operations()]
    assert operations
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_well(case):
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
        answers_well()
