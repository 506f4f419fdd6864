"""Roles come from one place: a page's ``dash.register_page(..., role=...)``. The request
guard derives the role of a page path and of a Dash callback from ``dash.page_registry``
(a page's component ids carry its prefix, ``security.page_id_prefix``), so these tests
check that every id of every page carries its prefix, that every registered callback
resolves to a page or to the shell, and that a page the guard has never heard of is
protected by its ``register_page`` alone."""
from __future__ import annotations

import dash
import pytest
from dash import Input, Output, html
from dash.development.base_component import Component

from core import db, users
from core.orm import ROLE_RANK, ROLES
from webapp import security

PAGES_PACKAGE = "webapp.dashboard.pages."


def _our_pages() -> list[dict]:
    return [page for page in dash.page_registry.values()
            if page["module"].startswith(PAGES_PACKAGE)]


def _ids(component) -> list:
    """Every component id in a layout tree (children and component-valued properties)."""
    found = []
    if isinstance(component, (list, tuple)):
        for item in component:
            found.extend(_ids(item))
        return found
    if not isinstance(component, Component):
        return found
    if getattr(component, "id", None) is not None:
        found.append(component.id)
    for name in component._prop_names:
        value = getattr(component, name, None)
        if isinstance(value, (Component, list, tuple)):
            found.extend(_ids(value))
    return found


def _principal(app, email: str) -> security.Principal:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return security.Principal(users.get_user(session, email))


def _layout_ids(app, build, email: str = "admin@example.com") -> list:
    """The ids of the layout ``build()`` makes in a request of ``email``."""
    from flask import g
    with app.test_request_context("/"):
        g._login_user = _principal(app, email)
        content = build()
    return _ids(content)


def _callback_ids(key: str, spec: dict) -> list:
    outputs = spec["output"] if isinstance(spec["output"], list) else [spec["output"]]
    return ([output.component_id for output in outputs]
            + [item["id"] for item in spec.get("inputs", []) + spec.get("state", [])])


@pytest.fixture(scope="module")
def dash_app(app):
    """The app's Dash app with every callback in ``callback_map`` (Dash copies the pages'
    ``dash.callback``s there on the first request)."""
    app.test_client().get("/healthz")
    return app.extensions["shoplens.dash"]


def test_every_page_declares_a_known_role(app):
    pages = _our_pages()
    assert len(pages) >= 9, [page["module"] for page in pages]
    for page in pages:
        assert page.get("role") in ROLES, (page["module"], page.get("role"))
        assert security.declared_role(page) == page["role"]
    roles = {security.page_id_prefix(page): page["role"] for page in pages}
    assert roles["overview"] == "viewer"
    assert roles["reports"] == "analyst"
    assert roles["data"] == "admin"


def test_page_prefixes_are_distinct_and_not_the_shell(app):
    prefixes = [security.page_id_prefix(page) for page in _our_pages()]
    assert len(set(prefixes)) == len(prefixes)
    assert security.SHELL_ID_PREFIX not in prefixes


def test_every_component_id_of_a_page_carries_its_prefix(app):
    checked = 0
    for page in _our_pages():
        prefix = security.page_id_prefix(page)
        ids = _layout_ids(app, page["layout"])
        assert ids, f"{page['module']}: a layout without ids cannot be wired"
        for component_id in ids:
            owner = security.id_owner(component_id)
            assert owner is page, f"{page['module']}: id {component_id!r} lacks {prefix}-"
            checked += 1
    assert checked > 60


def test_every_component_id_of_the_shell_carries_the_shell_prefix(app):
    from webapp.dashboard import shell
    ids = _layout_ids(app, shell.layout)
    assert len(ids) > 20
    for component_id in ids:
        assert security.id_owner(component_id) == security.SHELL_ID_PREFIX, component_id


def test_every_registered_callback_is_guarded_by_its_pages_role(dash_app):
    checked_pages: dict[str, str] = {}
    assert len(dash_app.callback_map) > 40
    for key, spec in dash_app.callback_map.items():
        owners = [security.id_owner(component_id)
                  for component_id in _callback_ids(key, spec)]
        assert None not in owners, f"callback {key}: an id belongs to no page nor the shell"
        pages = [owner for owner in owners if isinstance(owner, dict)]
        expected = max((page["role"] for page in pages), key=ROLE_RANK.__getitem__,
                       default=security.LOWEST_ROLE)
        # the request names only the output: the guard reads the rest from the server
        with dash_app.server.app_context():
            needed, _page = security.callback_role({"output": key})
        assert needed == expected, key
        for page in pages:
            checked_pages[security.page_id_prefix(page)] = needed
    assert checked_pages["data"] == "admin"
    assert checked_pages["reports"] == "analyst"
    assert checked_pages["overview"] == "viewer"
    assert len(checked_pages) >= 9


@pytest.fixture(scope="module")
def pricing_lab(app, dash_app):
    """A page nobody told the guard about: an analyst-only page registered with
    ``register_page``, with a callback of its own and one that writes only the shell's
    URL (as the pages' drill-downs do). Page and callbacks live as long as the module's
    app, so the callbacks never outlive their page."""
    module = "tests.webapp.pricing_lab"
    dash.register_page(module, path="/pricing-lab", name="Pricing lab", role="analyst",
                       layout=lambda: html.Div([html.Button(id="pricing-lab-go"),
                                                html.Div(id="pricing-lab-result")]))
    dash_app.callback(Output("pricing-lab-result", "children"),
                      Input("pricing-lab-go", "n_clicks"))(lambda clicks: f"lab {clicks}")
    dash_app.callback(Output("shell-url", "search", allow_duplicate=True),
                      Input("pricing-lab-go", "n_clicks"),
                      prevent_initial_call=True)(lambda clicks: f"?lab={clicks}")
    yield dash.page_registry[module]
    dash.page_registry.pop(module, None)


def _lab_body(output: str, input_id: str = "pricing-lab-go") -> dict:
    name, prop = output.split("@", 1)[0].rsplit(".", 1)
    return {"output": output, "outputs": {"id": name, "property": prop},
            "inputs": [{"id": input_id, "property": "n_clicks", "value": 1}],
            "changedPropIds": [f"{input_id}.n_clicks"], "state": []}


def test_an_analyst_pages_callbacks_need_the_analyst_role(app, dash_app, pricing_lab,
                                                          signed_in):
    assert security.page_id_prefix(pricing_lab) == "pricing-lab"
    redirect_key = next(key for key, spec in dash_app.callback_map.items()
                        if key.startswith("shell-url.search@")
                        and spec["inputs"][0]["id"] == "pricing-lab-go")
    viewer, analyst = signed_in("viewer@example.com"), signed_in("analyst@example.com")
    # the page itself and its own callback
    assert viewer.get("/pricing-lab").status_code == 403
    assert analyst.get("/pricing-lab").status_code == 200
    response = viewer.post("/_dash-update-component",
                           json=_lab_body("pricing-lab-result.children"))
    assert response.status_code == 403
    assert "analyst" in response.json["error"]["message"]
    response = analyst.post("/_dash-update-component",
                            json=_lab_body("pricing-lab-result.children"))
    assert response.status_code == 200 and "lab 1" in response.text
    # a callback whose outputs are the shell's is still the page's: the guard reads its
    # input from the server, so a request naming a shell id instead is refused too
    for input_id in ("pricing-lab-go", "shell-reset"):
        response = viewer.post("/_dash-update-component", json=_lab_body(redirect_key, input_id))
        assert response.status_code == 403, input_id
    assert analyst.post("/_dash-update-component",
                        json=_lab_body(redirect_key)).status_code == 200


def test_ids_and_paths_of_no_page_need_the_highest_role(app, signed_in):
    assert security.id_role("nowhere-button") == security.HIGHEST_ROLE
    assert security.id_role({"index": 1}) == security.HIGHEST_ROLE
    assert security.id_role("shell-url") == security.LOWEST_ROLE
    assert security.id_role('{"path":["ALL"],"type":"shell-nav-link"}') == "viewer"
    assert security.id_role({"type": "data-map", "field": "x"}) == "admin"
    assert security.page_role("/no-such-page") == security.HIGHEST_ROLE
    assert security.page_role("/reports?start=2011-01-01") == "analyst"
    analyst = signed_in("analyst@example.com")
    assert analyst.get("/no-such-page").status_code == 403
    admin = signed_in("admin@example.com")
    assert admin.get("/no-such-page").status_code == 200  # the shell says there is none


def test_a_role_that_is_not_known_allows_nothing():
    assert security.role_allows("admin", "analyst")
    assert not security.role_allows("viewer", "analyst")
    assert not security.role_allows(None, "viewer")
    assert not security.role_allows("superuser", "viewer")
    assert security.declared_role({"role": "analyts"}) == security.HIGHEST_ROLE
    assert security.declared_role({}) == security.LOWEST_ROLE
