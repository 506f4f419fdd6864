"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""
from __future__ import annotations

import copy

from pydantic.json_schema import models_json_schema

from webapp.api import payloads
from webapp.api.routing import ENDPOINTS, Endpoint

REF = "#/components/schemas/{model}"
STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted: the job is queued",
               400: "Bad parameters",
               401: "Not signed in, or a bad token", 403: "The role or scope is too low",
               404: "Not found (or no data loaded yet)",
               409: "Conflicts with the current state (e.g. the job has finished)",
               414: "The URL is longer than the server accepts (gunicorn's "
                    "limit_request_line, 4,094 bytes by default): send fewer filter values",
               503: "The task queue is unreachable"}


def _without_null(schema: dict) -> dict:
    """An optional query parameter is simply left out, so its schema needs no null."""
    options = schema.get("anyOf")
    if options and any(option.get("type") == "null" for option in options):
        rest = [option for option in options if option.get("type") != "null"]
        schema = {k: v for k, v in schema.items() if k != "anyOf"}
        if len(rest) == 1:
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest
        if schema.get("default") is None:
            schema.pop("default", None)
    return schema


def _parameters(model, location: str, definitions: dict) -> list[dict]:
    schema = definitions[model.__name__]
    required = set(schema.get("required", ()))
    parameters = []
    for name, property_schema in schema.get("properties", {}).items():
        property_schema = _without_null(copy.deepcopy(property_schema))
        description = property_schema.pop("description", None)
        property_schema.pop("title", None)
        parameter = {"name": name, "in": location, "required": location == "path" or
                     name in required, "schema": property_schema}
        if description:
            parameter["description"] = description
        if property_schema.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def _operation(spec: Endpoint, definitions: dict) -> dict:
    parameters = []
    if spec.path_params is not None:
        parameters += _parameters(spec.path_params, "path", definitions)
    if spec.query is not None:
        parameters += _parameters(spec.query, "query", definitions)
    if spec.response is not None:
        content = {spec.media_type: {"schema": {"$ref": REF.format(model=spec.response.__name__)}}}
    elif spec.media_type == "text/csv":
        content = {"text/csv": {"schema": {"type": "string"}}}
    else:
        content = {spec.media_type: {"schema": {"type": "string", "format": "binary"}}}
    error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}
    responses = {str(spec.success): {"description": STATUS_TEXT[spec.success],
                                     "content": content}}
    # the server refuses a request line it finds too long before the app sees it; only
    # query parameters make a URL long
    statuses = {*spec.errors, 401} | ({414} if spec.query is not None else set())
    for status in sorted(statuses):
        responses[str(status)] = {"description": STATUS_TEXT[status], "content": error}
    operation = {"operationId": spec.name, "summary": spec.summary,
                 "description": f"Needs the **{spec.role}** role. {spec.summary}",
                 "parameters": parameters, "responses": responses}
    if spec.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=spec.body.__name__)}}}}
    return operation


def openapi_document() -> dict:
    """The document served at ``/api/v1/openapi.json``."""
    models = {payloads.ErrorResponse}
    for spec in ENDPOINTS:
        models.update(m for m in (spec.query, spec.path_params, spec.body, spec.response) if m)
    modes = [(model, "validation" if model in _inputs() else "serialization")
             for model in sorted(models, key=lambda m: m.__name__)]
    _keys, top = models_json_schema(modes, ref_template=REF)
    definitions = top.get("$defs", {})
    paths: dict = {}
    for spec in ENDPOINTS:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, definitions)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Shoplens API", "version": "1",
                 "description": "Sales analytics under your role and data scope. Send "
                                "`Authorization: Bearer <token>` (make a token under "
                                "Account → API tokens, or `flask users token`). Errors are "
                                "`{\"error\": {\"status\": …, \"message\": …}}`."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {"schemas": definitions,
                       "securitySchemes": {"bearerAuth": {"type": "http",
                                                          "scheme": "bearer"}}},
    }


def _inputs() -> set:
    return {m for spec in ENDPOINTS for m in (spec.query, spec.path_params, spec.body) if m}
