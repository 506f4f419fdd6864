"""``GET /go/<token>``: follow a signed view link from an e-mail (``core.links``).

The request guard (``webapp.security``) runs first: a signed-out visitor goes to the
sign-in page with ``next=`` this link and comes back here. A damaged, foreign or expired
token is a 400 page saying so. Only the paths of the app's own pages (the Dash page
registry) are followed, so a link can never send anybody elsewhere (no open redirect); the
page then applies the viewer's own role and data scope as always (a link made for another
user opens under the viewer's scope, never the link's).
"""
from __future__ import annotations

import dash
from flask import Blueprint, Response, current_app, redirect, render_template

from core import links
from webapp.security import safe_next

bp = Blueprint("links", __name__)


def page_paths() -> frozenset[str]:
    """The paths of the app's pages: the only places a link may lead."""
    return frozenset(page["path"] for page in dash.page_registry.values())


def _refused(message: str) -> Response:
    return Response(render_template("error.html", status=400, message=message), 400)


@bp.route("/go/<token>")
def follow(token: str):
    settings = current_app.extensions["shoplens.settings"]
    try:
        view = links.read_token(settings, token)
    except links.LinkInvalid as exc:
        return _refused(exc.message)
    if view.path not in page_paths() or safe_next(view.target) != view.target:
        return _refused("This link does not lead to a page of Shoplens.")
    return redirect(view.target)
