"""The REST API under ``/api/v1`` (Bearer tokens or the browser session).

``routing`` holds the route table and the JSON error handling, ``payloads`` the pydantic
models, ``views`` the endpoints, ``openapi`` the generated OpenAPI document.
"""
from __future__ import annotations

from flask import Flask, jsonify

from webapp.api import views  # noqa: F401 - registers the endpoints on the blueprint
from webapp.api.openapi import openapi_document
from webapp.api.routing import ApiError, bp


@bp.route("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(unknown: str):
    raise ApiError(404, f"There is no API endpoint /api/v1/{unknown}.")


def init_api(app: Flask) -> None:
    app.register_blueprint(bp)
