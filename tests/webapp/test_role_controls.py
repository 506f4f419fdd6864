"""Controls a role cannot use are disabled and explained, or hidden, before any click:
each page the viewer may open, as /_dash-layout renders it for that page (its Referer),
has no download item, no enabled "Run" of a job the role cannot run (a note says which
role it needs), no customer CSV link and no bundles download; an analyst gets them all.
The server still refuses a viewer's job (the real Dash endpoint)."""
from __future__ import annotations

import json

import pytest

from core import job_kinds
from tests.webapp.test_alerts_page import _call
from tests.webapp.test_auth import _component_props
from webapp import security
from webapp.dashboard import components, shell

#: Every page a viewer may open (the test below keeps the list whole).
VIEWER_PAGES = ["/", "/sales", "/products", "/customers", "/insights", "/geography",
                "/transactions", "/marketing", "/dashboards"]


def _page_props(client, path: str) -> list[dict]:
    layout = client.get("/_dash-layout", headers={"Referer": f"http://localhost{path}"})
    assert layout.status_code == 200
    props = list(_component_props(layout.json))
    assert not [p for p in props if p.get("id") in ("shell-forbidden", "shell-not-found")]
    return props


def _texts(props) -> list[str]:
    """The texts of the components shown (not ``hidden``)."""
    return [p["children"] for p in props
            if isinstance(p.get("children"), str) and not p.get("hidden")]


def test_the_pages_listed_are_the_viewers_pages(app):
    with app.test_request_context():
        paths = {page["path"] for page in shell.visible_pages("viewer")}
    assert set(VIEWER_PAGES) == paths


@pytest.mark.parametrize("path", VIEWER_PAGES)
def test_a_viewer_sees_only_the_controls_they_can_use(signed_in, path):
    props = _page_props(signed_in("viewer@example.com"), path)
    texts = _texts(props)
    assert not [t for t in texts if t.startswith(("Download CSV", "Download Excel"))]
    runs = [p for p in props if isinstance(p.get("id"), str) and p["id"].endswith("-run")
            and p["id"].removesuffix("-run") in components.JOB_ROLES]
    for run in runs:
        prefix = run["id"].removesuffix("-run")
        needed = components.JOB_ROLES[prefix]
        if security.role_allows("viewer", needed):
            assert not run.get("disabled")
            continue
        assert run["disabled"] is True, prefix
        [note] = [p for p in props if p.get("id") == f"{prefix}-role-note"]
        assert note["children"] == (f"Running this needs the {needed} role; ask an admin "
                                    "if you need it.")
    for hidden_id in ("customers-download",):
        for p in props:
            if p.get("id") == hidden_id:
                assert p["hidden"] is True
    for p in props:
        if p.get("id") == "products-bundles-button":
            assert p["style"] == {"display": "none"}


def test_the_job_pages_have_run_buttons_a_viewer_cannot_use(signed_in):
    """The parametrized test above is not empty: these pages do have such buttons."""
    viewer = signed_in("viewer@example.com")
    for path, prefix in (("/sales", "sales-forecast"), ("/products", "products-basket"),
                         ("/customers", "customers-churn"), ("/insights", "insights-clusters")):
        props = _page_props(viewer, path)
        [run] = [p for p in props if p.get("id") == f"{prefix}-run"]
        assert run["disabled"] is True, prefix
        assert any(p.get("id") == f"{prefix}-role-note" for p in props)


def test_an_analyst_gets_the_controls(signed_in):
    analyst = signed_in("analyst@example.com")
    for path, prefix in (("/sales", "sales-forecast"), ("/customers", "customers-churn")):
        props = _page_props(analyst, path)
        [run] = [p for p in props if p.get("id") == f"{prefix}-run"]
        assert not run.get("disabled")
        assert not any(p.get("id") == f"{prefix}-role-note" for p in props)
    products = _page_props(analyst, "/products")
    [bundles] = [p for p in products if p.get("id") == "products-bundles-button"]
    assert bundles.get("style") is None
    texts = _texts(_page_props(analyst, "/sales"))
    assert any(t.startswith("Download CSV") for t in texts)


def test_the_server_still_refuses_a_viewers_job(signed_in):
    assert job_kinds.get("forecast").role == "analyst"
    viewer = signed_in("viewer@example.com")
    response = _call(viewer, [("sales-forecast-job", "data"), ("sales-forecast-poll", "disabled"),
                              ("sales-forecast-status", "children")],
                     [{"id": "sales-forecast-run", "property": "n_clicks", "value": 1}],
                     "sales-forecast-run.n_clicks",
                     [{"id": "shell-url", "property": "search", "value": ""},
                      {"id": "sales-forecast-horizon", "property": "value", "value": "14"},
                      {"id": "sales-metric", "property": "value", "value": "revenue"}])
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        status = json.dumps(response.json["response"])
        assert "analyst" in status and '"id"' not in status
