"""The REST API under ``/api/v1`` (Bearer tokens or the browser session).

``routing`` holds the route table and the JSON error handling, ``payloads`` the pydantic
models, ``views`` the endpoints, ``openapi`` the generated OpenAPI document.
"""
from __future__ import annotations

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.api import views  # noqa: F401 - registers the endpoints on the blueprint
from webapp.api import patterns  # noqa: F401 - the Patterns page's endpoints
from webapp.api import alerts  # noqa: F401 - alert rules and their firings
from webapp.api import schedules  # noqa: F401 - report schedules
from webapp.api import marketing  # noqa: F401 - traffic and advertising KPIs
from webapp.api import promotions  # noqa: F401 - promotion impact
from webapp.api import notifications  # noqa: F401 - the navbar bell's notifications
from webapp.api import deliveries  # noqa: F401 - the delivery ledger
from webapp.api import dashboards  # noqa: F401 - dashboards, their tiles, the panels
from webapp.api import saved_views  # noqa: F401 - saved views and the default view
import webapp.api.annotations  # noqa: F401 - notes (the __future__ import holds the name)
import webapp.api.settings  # noqa: F401 - the installation's locale
from webapp.api.openapi import openapi_document
from webapp.api.routing import ApiError, bp
from webapp.security import json_error


@bp.route("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@bp.route("/<path:unknown>", methods=list(METHODS))
def not_found(unknown: str):
    """404 for a path no endpoint has; 405 (with ``Allow``) for a path that exists under
    other methods (``DELETE /kpis``)."""
    path = f"{bp.url_prefix}/{unknown}"
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in METHODS:
        try:
            endpoint, _args = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint != f"{bp.name}.not_found":
            allowed.append(method)
    if allowed:
        response = json_error(405, f"{request.method} is not allowed on {path}: use "
                                   f"{' or '.join(allowed)}.")
        response.headers["Allow"] = ", ".join(allowed)
        return response
    raise ApiError(404, f"There is no API endpoint {path}.")


def init_api(app: Flask) -> None:
    app.register_blueprint(bp)
