"""The one error hierarchy of Shoplens: every error a user may be shown is a ``ShoplensError``.

A ``ShoplensError`` carries an HTTP-like ``status`` and a ``message`` written for the person
who caused it (it names the parameter, the file, the line or the role, and never leaks a
stack trace or another user's data). Each domain error subclasses one of the kinds below,
so the three boundaries map errors in one place each:

* the REST API (``webapp.api.routing``): ``{"error": {"status", "message"}}`` with ``status``;
* the dashboard (``webapp.dashboard``): the message in the panel's empty state or alert;
* the workers (``workers``): the job fails with the message (a ``ShoplensError`` is never
  retried: the same input fails the same way), anything else is an internal error.

This module lives in ``analytics`` because it is the lowest layer: ``data``, ``core``,
``workers`` and ``webapp`` all import it, and it imports nothing of ours.
"""
from __future__ import annotations


class ShoplensError(Exception):
    """An error a user can read and act on. ``status`` is the HTTP status it maps to."""
    status: int = 400

    def __init__(self, message: str = "", *, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args and self.args[0] else self.__class__.__doc__ or ""


class InvalidInput(ShoplensError, ValueError):
    """The request, file or parameter is malformed (400)."""
    status = 400


class AccessDenied(ShoplensError):
    """The user's role or data scope does not allow this (403)."""
    status = 403


class NotFound(ShoplensError, LookupError):
    """The thing asked for does not exist, or is not visible to this user (404)."""
    status = 404


class Conflict(ShoplensError):
    """The request clashes with the current state (a finished job, the last admin) (409)."""
    status = 409


class Unavailable(ShoplensError):
    """Not possible right now: no data loaded yet, a service down (503)."""
    status = 503


def format_validation_error(error, limit: int = 5, *, subject: str = "input") -> str:
    """The first ``limit`` problems of a pydantic ``ValidationError`` as one readable line:
    ``horizon: Input should be less than or equal to 365; colour: is not a known parameter``.
    ``subject`` names the whole input when a problem has no location (``params``).
    The API, the job and schedule services and the dashboard all use this one."""
    parts = []
    for item in error.errors()[:limit]:
        where = ".".join(str(part) for part in item.get("loc", ())) or subject
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        if item.get("type") == "extra_forbidden":
            message = "is not a known parameter"
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or f"invalid {subject}"
