"""``GET /healthz``: is this web process able to serve? For load balancers and container
health checks, so it is public and says nothing an outsider could use: the status and the
current data version, or 503 when the app database or the warehouse cannot be read (the
reason goes to the log only)."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify

from core.orm import User
from webapp import services
from webapp.security import db_session

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    """``{"status": "ok", "data_version": N}`` (N is null before the first data load), or
    ``{"status": "unavailable"}`` with 503."""
    try:
        db_session().execute(sa.select(User.id).limit(1))
        data_version = services.warehouse().current_version()
    except Exception:  # any failure means "do not send traffic here"; the log says which
        log.exception("health check failed")
        response = jsonify({"status": "unavailable"})
        response.status_code = 503
    else:
        response = jsonify({"status": "ok", "data_version": data_version})
    response.headers["Cache-Control"] = "no-store"
    return response
