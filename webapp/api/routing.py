"""The API's route table: each endpoint declares its method, path, role and pydantic models;
``endpoint`` registers the Flask view that checks the role and validates the input. The
OpenAPI document is generated from the same table.

Errors are mapped here, once, to ``{"error": {"status", "message"}}``: a
``ShoplensError`` (every domain error, ``analytics.errors``) with its own status and
message; a pydantic ``ValidationError`` as 400 (``format_validation_error``); an HTTP
error with its code; anything else as 500 with a generic message, logged. Views raise
domain errors and let them through; ``ApiError`` is for statuses of the API's own (401, or
a 404 that must not tell whether a thing exists).

Answers are strict JSON (``json_answer``): a number that is not finite (NaN, ±Infinity,
which JSON cannot hold) is sent as ``null``, and an object with a ``reason`` that had such a
number starts its reason with ``NOT_FINITE_REASON``, as METRICS.md wants an empty value to
carry its reason."""
from __future__ import annotations

import functools
import logging
import math
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field

import pydantic
from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from analytics.errors import ShoplensError, format_validation_error
from webapp.security import current_user, json_error, user_has_role

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")
NOT_FINITE_REASON = "not a finite number (implausible values in the data)"
ROLE_MESSAGES = {"analyst": "This needs the analyst role (exports, jobs and reports).",
                 "admin": "This needs the admin role."}


class ApiError(ShoplensError):
    """An answer of the API's own other than 200 (``status``), with a message for the
    caller."""

    def __init__(self, status: int, message: str):
        super().__init__(message, status=status)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str                       # OpenAPI form: /breakdown/{dimension}
    name: str
    summary: str
    role: str
    query: type[pydantic.BaseModel] | None = None
    path_params: type[pydantic.BaseModel] | None = None
    body: type[pydantic.BaseModel] | None = None
    response: type[pydantic.BaseModel] | None = None
    media_type: str = "application/json"
    success: int = 200
    errors: tuple[int, ...] = field(default=(400, 401, 403))


ENDPOINTS: list[Endpoint] = []


def role_of(method: str, path: str) -> str:
    """The role an API endpoint declares (``path`` as registered, under ``/api/v1``), for
    pages that link to it and show the link only to those who may follow it."""
    from webapp.api import views  # noqa: F401  (registers the endpoints)
    path = path.removeprefix(bp.url_prefix)
    return next(spec.role for spec in ENDPOINTS if (spec.method, spec.path) == (method, path))


def endpoint(method: str, path: str, *, role: str, summary: str,
             query: type[pydantic.BaseModel] | None = None,
             path_params: type[pydantic.BaseModel] | None = None,
             body: type[pydantic.BaseModel] | None = None,
             response: type[pydantic.BaseModel] | None = None,
             media_type: str = "application/json", success: int = 200,
             errors: tuple[int, ...] = (400, 401, 403)) -> Callable:
    """Register an API view. The view is called with the validated models as keyword
    arguments ``query``, ``path`` and ``body`` (those declared) and returns a dict (sent as
    JSON with status ``success``) or a Response."""
    def decorate(view: Callable) -> Callable:
        spec = Endpoint(method, path, view.__name__, summary, role, query, path_params, body,
                        response, media_type, success, errors)
        ENDPOINTS.append(spec)

        @functools.wraps(view)
        def flask_view(**path_values):
            if not user_has_role(role):
                raise ApiError(403, ROLE_MESSAGES.get(role, f"This needs the {role} role."))
            kwargs = {}
            if path_params is not None:
                kwargs["path"] = path_params.model_validate(path_values)
            if query is not None:
                kwargs["query"] = query.model_validate(_query_values(query))
            elif request.args:
                raise ApiError(400, f"Unknown parameter {next(iter(request.args))!r}.")
            if body is not None:
                data = request.get_json(silent=True)
                if not isinstance(data, dict):
                    raise ApiError(400, "The request body must be a JSON object.")
                kwargs["body"] = body.model_validate(data)
            answer = view(**kwargs)
            if isinstance(answer, Response):
                return answer
            return json_answer(answer, success)

        flask_path = re.sub(r"{(\w+)}", r"<\1>", path)
        bp.add_url_rule(flask_path, endpoint=view.__name__, view_func=flask_view,
                        methods=[method])
        return view
    return decorate


def json_answer(answer, status: int = 200) -> Response:
    """``answer`` as a strict JSON response: non-finite numbers become null (see the module
    docstring)."""
    response = jsonify(finite_json(answer))
    response.status_code = status
    return response


def finite_json(value):
    """``value`` (dicts, lists, tuples, numbers, text) with every NaN or ±inf float as
    None; a dict with a ``reason`` that lost such a number says so first in its reason."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        out = {key: finite_json(item) for key, item in value.items()}
        if "reason" in out and any(isinstance(item, float) and not math.isfinite(item)
                                   for item in value.values()):
            out["reason"] = "; ".join(text for text in (NOT_FINITE_REASON, out["reason"])
                                      if text)
        return out
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    return value


def _is_list(annotation) -> bool:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return typing.get_origin(annotation) is list


def _query_values(model: type[pydantic.BaseModel]) -> dict:
    """request.args as the model expects it: lists for repeatable parameters, the last
    value otherwise; blank single values count as absent (as in the dashboard's URLs)."""
    values: dict = {}
    for name in request.args.keys():
        info = model.model_fields.get(name)
        if info is not None and _is_list(info.annotation):
            values[name] = request.args.getlist(name)
        else:
            last = request.args.getlist(name)[-1]
            if last.strip() != "" or info is None:
                values[name] = last
    return values


@bp.errorhandler(ShoplensError)
def _domain_error(error: ShoplensError):
    db = g.get("shoplens_db")  # the request's app-database session: nothing half-done stays
    if db is not None:
        db.rollback()
    if error.status >= 500:
        log.warning("API %s %s: %s", request.method, request.path, error.message)
    return json_error(error.status, error.message)


@bp.errorhandler(pydantic.ValidationError)
def _invalid(error: pydantic.ValidationError):
    return json_error(400, format_validation_error(error))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return json_error(error.code or 500, error.description or error.name)


@bp.errorhandler(Exception)
def _unexpected(error: Exception):
    log.exception("API error on %s %s (user %s)", request.method, request.path,
                  getattr(current_user, "email", None))
    return json_error(500, "Something went wrong on the server; the error is logged.")
