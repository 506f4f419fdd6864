"""Who is asking, and may they? Sessions, API tokens, roles, data scopes, CSRF, headers.

Installed by ``init_security(app, settings)`` before the Dash app is mounted. One
``before_request`` guard checks every request:

* public: ``/login``, ``/forgot``, ``/reset/<token>``, ``/healthz``, ``/static/…``, Dash's JavaScript bundles
  (``/_dash-component-suites/…``), ``/assets/…`` and the favicon; everything else needs a
  signed-in user (a session cookie, or ``Authorization: Bearer <token>`` on ``/api/``);
* signed out: 401 JSON on ``/api/``, ``/_dash-…`` and ``/_reload-hash``; a redirect to
  ``/login`` for pages;
* roles (``core.orm.ROLES``, lowest first): a Dash page's role is its
  ``dash.register_page(..., role=...)`` and nothing else. A page path needs the role of the
  page it matches (``page_role``); a Dash callback needs the highest role of the pages its
  component ids belong to (``callback_role``), read from the callback as the server
  registered it as well as from the request. Every component id of a page starts with the
  page's prefix, its module's name (``pages/reports.py`` → ``reports-…``, see
  ``page_id_prefix``); the shell's ids start with ``shell-`` and are open to every role.
  Fail closed: a path or an id that belongs to no page needs the highest role. Flask views
  (admin, account) add ``role_required``. Too low a role: 403;
* sessions end when idle for ``settings.session_minutes`` or when the user's
  ``session_epoch`` changes (deactivation, role/scope/password change, sign-out: the
  session cookie is signed, not stored, so ending it on the server means refusing the
  epoch it carries; ``/logout`` signs out by POST only); Dash callbacks
  fired only by a ``dcc.Interval`` tick (``changedPropIds`` all ``….n_intervals``) are
  polling, not activity, so a page left open still times out;
* client address: ``request.remote_addr``, or with ``settings.trusted_proxies`` = N > 0
  the address Werkzeug's ProxyFix takes from the N-th X-Forwarded-For entry from the right
  (X-Forwarded-Proto likewise); with 0 those headers are ignored;
* CSRF: every unsafe request carries a flask-wtf token, except Dash callbacks (JSON only,
  and a same-origin check on Origin / Sec-Fetch-Site / Referer) and token-authenticated API
  calls (a Bearer header is not sent by browsers on their own);
* Dash callback bodies: at most ``CALLBACK_BODY_LIMIT``, or an upload's size for
  ``LARGE_CALLBACK_ROLE``, decided from Content-Length before the body is read;
* after sign-in only a same-origin path is followed (``safe_next``).

The Content-Security-Policy allows scripts from 'self' plus the SHA-256 hashes of the inline
scripts Dash renders (``dash.Dash.csp_hashes``: the renderer start-up line and any inline
clientside callbacks); Dash's ``_dash-config`` block is ``application/json`` and never
executed. No 'unsafe-eval' (the bundled plotly.js and Dash renderer only call
``new Function`` as a fallback that modern browsers never reach; dash-ag-grid needs it only
for string expressions in column definitions, which we do not use). Styles allow
'unsafe-inline', because plotly.js injects ``<style>`` elements for its charts.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import dash
from flask import (Flask, Response, current_app, g, has_app_context, jsonify, redirect,
                   render_template, request, session, url_for)
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from analytics.filters import Scope
from core import tokens
from core.orm import ROLE_RANK, ROLES, User
from core.settings import Settings

log = logging.getLogger(__name__)

login_manager = LoginManager()
csrf = CSRFProtect()

#: The lowest role (every signed-in user) and the highest, which is what a page path or a
#: callback id that belongs to no registered page needs (fail closed).
LOWEST_ROLE, HIGHEST_ROLE = ROLES[0], ROLES[-1]
#: Component ids of the shell (navbar, filter sidebar, router: ``webapp.dashboard.shell``)
#: start with this prefix; its callbacks are open to every signed-in user (the router
#: checks the role of the page it renders itself).
SHELL_ID_PREFIX = "shell"
#: Ids of Dash's own pages router (``_pages_location``…): it needs the role of the page of
#: its ``pathname``.
DASH_ROUTER_ID_PREFIX = "_pages_"
PUBLIC_PREFIXES = ("/static/", "/_dash-component-suites/", "/assets/")
PUBLIC_PATHS = frozenset({"/login", "/forgot", "/healthz", "/_favicon.ico"})
_RESET_PATH = re.compile(r"^/reset/[A-Za-z0-9_\-]{1,200}$")
JSON_PREFIXES = ("/api/", "/_dash-", "/_reload-hash")
DASH_CALLBACK_PATH = "/_dash-update-component"
#: The property a dcc.Interval tick changes: callbacks fired only by it are polling.
POLLING_PROPERTY = "n_intervals"
PAGES_LOCATION_ID = "_pages_location"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: A Dash callback carries ids, filters and small stores; a larger body is a file upload
#: (the Data page's dcc.Upload sends the file inside the callback), which needs
#: LARGE_CALLBACK_ROLE (the Data page is an admin page; a test holds the two together).
#: Both are checked before the body is read.
CALLBACK_BODY_LIMIT = 8 * 2**20
LARGE_CALLBACK_ROLE = HIGHEST_ROLE
SESSION_COOKIE_NAME = "shoplens_session"
MAX_NEXT_LENGTH = 2000
#: C0 controls, DEL, C1 controls and backslashes never belong in a ``next`` path.
_UNSAFE_NEXT_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
_ENCODED_SLASH_AT_START = re.compile(r"^/(%2f|%5c)", re.IGNORECASE)
NO_DATA = Scope(frozenset())


class Principal(UserMixin):
    """The signed-in user as the web layer sees it (a detached copy of the User row)."""

    def __init__(self, user: User, *, via_token: bool = False):
        self.id = user.id
        self.email = user.email
        self.name = user.name
        self.role = user.role
        self.countries = user.countries
        self.session_epoch = user.session_epoch
        self.must_change_password = user.must_change_password
        self.via_token = via_token

    def get_id(self) -> str:
        """Session cookie value: the epoch makes old cookies invalid after a bump."""
        return f"{self.id}:{self.session_epoch}"

    def has_role(self, needed: str) -> bool:
        return role_allows(self.role, needed)

    @property
    def scope(self) -> Scope:
        return Scope.of(self.countries)


class Anonymous(AnonymousUserMixin):
    role = None
    email = None

    def has_role(self, _needed: str) -> bool:
        return False

    @property
    def scope(self) -> Scope:
        return NO_DATA


# ---------------------------------------------------------------------- public helpers
def db_session() -> Session:
    """The app-database session of this request (closed at the end of the request)."""
    if "shoplens_db" not in g:
        g.shoplens_db = current_app.extensions["shoplens.sessions"]()
    return g.shoplens_db


def current_db_user() -> User | None:
    """The signed-in user's row in this request's session (for services that change
    state), or None when signed out."""
    if not current_user.is_authenticated:
        return None
    return db_session().get(User, current_user.id)


def current_scope() -> Scope:
    """The data the signed-in (or token) user may see; nothing at all when signed out."""
    return current_user.scope if current_user.is_authenticated else NO_DATA


def user_has_role(role: str) -> bool:
    """True when the signed-in (or token) user has ``role`` or a higher one."""
    return bool(current_user.is_authenticated and current_user.has_role(role))


def role_required(role: str) -> Callable:
    """Decorator for Flask views: 401/redirect when signed out, 403 when the role is low."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return _unauthenticated()
            if not current_user.has_role(role):
                return _forbidden(f"This needs the {role} role.")
            return view(*args, **kwargs)
        wrapped.required_role = role
        return wrapped
    return decorate


def client_ip() -> str | None:
    """The caller's address: ``remote_addr``, which ProxyFix sets from X-Forwarded-For when
    ``settings.trusted_proxies`` > 0 (see ``init_security``)."""
    return request.remote_addr


def json_error(status: int, message: str) -> Response:
    """The JSON error shape of the API and the callback guard."""
    response = jsonify({"error": {"status": status, "message": message}})
    response.status_code = status
    return response


def role_allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` (None when signed out) is ``needed`` or a higher one; a role that
    is not in ``ROLES`` allows nothing and is allowed by nobody but the highest."""
    if role not in ROLE_RANK:
        return False
    return ROLE_RANK[role] >= ROLE_RANK.get(needed, ROLE_RANK[HIGHEST_ROLE])


def declared_role(page: dict) -> str:
    """The role a registered Dash page needs: its ``register_page(..., role=...)``, the
    lowest when it declares none (Dash's default: a page for everybody; a test checks that
    every page of ours declares one), the highest when it is not a known role."""
    role = page.get("role") or LOWEST_ROLE
    return role if role in ROLE_RANK else HIGHEST_ROLE


def page_id_prefix(page: dict) -> str:
    """The prefix of a registered page's component ids: the last part of its module's name
    (``webapp.dashboard.pages.reports`` → ``reports``, ids ``reports-pdf``…; underscores
    become hyphens)."""
    return str(page.get("module") or "").rsplit(".", 1)[-1].replace("_", "-")


def find_page(path: str) -> dict | None:
    """The registered Dash page a path (query string allowed) opens, or None."""
    path = "/" + (path or "/").split("?", 1)[0].strip("/")
    for page in dash.page_registry.values():
        if _page_matches(page, path):
            return page
    return None


def page_role(path: str) -> str:
    """The role a page path needs: that of the registered page it opens, the highest when
    it opens none (fail closed)."""
    page = find_page(path)
    return declared_role(page) if page is not None else HIGHEST_ROLE


def id_owner(component_id: Any) -> dict | str | None:
    """What a Dash component id belongs to: the registered page whose prefix it carries
    (the longest that fits), ``SHELL_ID_PREFIX`` for the shell and Dash's router, or None.

    A pattern-matching id (a dict, or its JSON text as in ``callback_map``) belongs to the
    owner of its ``type``."""
    name = _id_name(component_id)
    if name is None:
        return None
    if _has_prefix(name, SHELL_ID_PREFIX) or name.startswith(DASH_ROUTER_ID_PREFIX):
        return SHELL_ID_PREFIX
    owner, longest = None, 0
    for page in dash.page_registry.values():
        prefix = page_id_prefix(page)
        if prefix and len(prefix) > longest and _has_prefix(name, prefix):
            owner, longest = page, len(prefix)
    return owner


def id_role(component_id: Any) -> str:
    """The role a callback touching ``component_id`` needs: its page's, the lowest for the
    shell, the highest for an id of no page (fail closed: a page whose ids miss its prefix
    is refused, never opened)."""
    owner = id_owner(component_id)
    if owner is None:
        return HIGHEST_ROLE
    return LOWEST_ROLE if owner == SHELL_ID_PREFIX else declared_role(owner)


def callback_role(body: Any) -> tuple[str, str | None]:
    """The role a Dash callback request needs: the highest ``id_role`` of the ids of its
    outputs, inputs and state (those of the request, and those the server registered for
    its output, so a request cannot hide an input), and, for Dash's pages router, the role
    of the page it would render. Returns (role, page path or None)."""
    needed = LOWEST_ROLE
    for component_id in _callback_ids(body):
        needed = _higher(needed, id_role(component_id))
    page = _pages_router_path(body)
    if page is not None:
        needed = _higher(needed, page_role(page))
    return needed, page


# ---------------------------------------------------------------------- installation
def init_security(app: Flask, settings: Settings) -> None:
    """Session cookie settings, flask-login, CSRF, the request guard and security headers."""
    secure = settings.production or settings.public_url.startswith("https://")
    # Flask's defaults already hold SESSION_COOKIE_NAME ("session"), so setdefault would
    # never apply ours; create_app applies the caller's configuration after this.
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_SECURE=secure, SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure, REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=settings.session_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_CHECK_DEFAULT=False,     # the guard decides which requests need the token
        WTF_CSRF_TIME_LIMIT=None,         # valid as long as the session
        PREFERRED_URL_SCHEME="https" if secure else "http",
    )
    app.extensions["shoplens.secure_cookies"] = secure
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.anonymous_user = Anonymous
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_session_user)
    login_manager.unauthorized_handler(_unauthenticated)
    csrf.init_app(app)
    app.before_request(_guard)
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_db_session)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.context_processor(lambda: {"user_has_role": user_has_role})


def _load_session_user(cookie_id: str) -> Principal | None:
    """flask-login's loader for the session cookie: the user must exist, be active and
    have the same session epoch as when the cookie was made."""
    try:
        user_id, epoch = (int(part) for part in str(cookie_id).split(":", 1))
    except ValueError:
        return None
    user = db_session().get(User, user_id)
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return Principal(user)


def _close_db_session(_error=None) -> None:
    db = g.pop("shoplens_db", None)
    if db is not None:
        db.close()


# ---------------------------------------------------------------------- the guard
def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or bool(
        _RESET_PATH.match(path))


def _wants_json(path: str) -> bool:
    return path.startswith(JSON_PREFIXES)


def _guard():
    path = request.path
    if _is_public(path):
        if request.method in UNSAFE_METHODS:
            csrf.protect()
        return None
    bearer = _bearer_token()
    if bearer is not None and path.startswith("/api/"):
        user = tokens.authenticate_token(db_session(), bearer)
        if user is None:
            return json_error(401, "The API token is unknown, revoked or expired, or its "
                                   "user is deactivated.")
        g._login_user = Principal(user, via_token=True)  # flask-login's per-request user
    elif not current_user.is_authenticated:
        return _unauthenticated()
    elif _session_idle_expired():
        logout_user()
        session.clear()
        return _unauthenticated("Your session ended after a period of inactivity: sign in "
                                "again.")
    if path == DASH_CALLBACK_PATH and request.method == "POST":
        refusal = _callback_body_refusal()
        if refusal is not None:
            return refusal
    if not current_user.via_token:
        session.permanent = True
        if not _is_polling():
            session["seen"] = int(time.time())
        if current_user.must_change_password and not _may_skip_password_change(path):
            if _wants_json(path):
                return json_error(403, "Change your password first (Account → Password).")
            return redirect(url_for("auth.change_password", next=request.full_path))
    if request.method in UNSAFE_METHODS:
        if path == DASH_CALLBACK_PATH:
            refusal = _same_origin_refusal()
            if refusal:
                return json_error(403, refusal)
        elif path == LOGOUT_PATH and _provably_same_origin():
            pass  # sign-out from our own page: its form's token may be a layout's older one
        elif not current_user.via_token:
            csrf.protect()
    if path == DASH_CALLBACK_PATH and request.method == "POST":
        return _check_callback()
    if request.method == "GET" and not _wants_json(path) and not _is_flask_view():
        needed = page_role(path)
        if not current_user.has_role(needed):
            return _forbidden(f"This page needs the {needed} role.")
    return None


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def _session_idle_expired() -> bool:
    seen = session.get("seen")
    settings = current_app.extensions["shoplens.settings"]
    return seen is None or time.time() - float(seen) > settings.session_minutes * 60


def largest_callback_body() -> int:
    """The largest Dash callback body anybody may send: a file of the Data page's largest
    upload (``uploads.MAX_BYTES``), base64-encoded as dcc.Upload sends it, plus room for
    its name and the callback's ids."""
    from webapp.dashboard.uploads import MAX_BYTES
    return 4 * math.ceil(MAX_BYTES / 3) + 2**20


def _callback_body_refusal() -> Response | None:
    """A 413 for a Dash callback body that is too large, decided from its Content-Length
    before a byte of it is read: above CALLBACK_BODY_LIMIT only LARGE_CALLBACK_ROLE may
    send one (uploads), and nobody more than ``largest_callback_body()``. A body without a
    Content-Length is cut off at the same size when it is read."""
    allowed = largest_callback_body() if current_user.has_role(LARGE_CALLBACK_ROLE) else \
        CALLBACK_BODY_LIMIT
    request.max_content_length = allowed
    length = request.content_length
    if length is not None and length > allowed:
        return json_error(413, f"The callback request is larger than "
                               f"{allowed // 2**20} MB.")
    return None


def _is_polling() -> bool:
    """A Dash callback fired only by dcc.Interval ticks: the page asks, not the user."""
    if request.path != DASH_CALLBACK_PATH or request.method != "POST":
        return False
    body = request.get_json(silent=True)
    changed = body.get("changedPropIds") if isinstance(body, dict) else None
    if not isinstance(changed, list) or not changed:
        return False
    return all(isinstance(prop, str) and prop.rsplit(".", 1)[-1] == POLLING_PROPERTY
               for prop in changed)


def _may_skip_password_change(path: str) -> bool:
    return path in ("/account/password", "/logout")


def _is_flask_view() -> bool:
    """Flask views (not Dash's index and catch-all) check their own roles with
    role_required; Dash's page routes are checked here by ``page_role``."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return False
    module = getattr(view, "__module__", "") or ""
    return not (module == "dash" or module.startswith("dash."))


def _check_callback():
    if not request.is_json:
        return json_error(400, "Dash callbacks are JSON requests.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "The callback request is not a JSON object.")
    needed, page = callback_role(body)
    if not current_user.has_role(needed):
        what = f"the page {page}" if page and page_role(page) == needed else "this view"
        return json_error(403, f"{what.capitalize()} needs the {needed} role.")
    return None


LOGOUT_PATH = "/logout"


def _provably_same_origin() -> bool:
    """The browser says the request comes from our own pages (Sec-Fetch-Site same-origin,
    or an Origin of ours); a request without those headers proves nothing."""
    if request.headers.get("Sec-Fetch-Site") == "same-origin":
        return True
    origin = request.headers.get("Origin")
    return bool(origin) and origin != "null" and _same_origin_refusal() is None


def _same_origin_refusal() -> str | None:
    """Why a Dash callback looks cross-site, or None. Browsers send Origin (or
    Sec-Fetch-Site) with every fetch POST; a JSON body cannot be sent cross-site without a
    CORS preflight, which we never grant."""
    allowed = {request.host.lower()}
    public = urlsplit(current_app.extensions["shoplens.settings"].public_url).netloc
    if public:
        allowed.add(public.lower())
    site = request.headers.get("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        return "Cross-site callback requests are refused."
    for header in ("Origin", "Referer"):
        value = request.headers.get(header)
        if value:
            if value == "null" or urlsplit(value).netloc.lower() not in allowed:
                return "Cross-site callback requests are refused."
            return None
    return None


def _unauthenticated(message: str = "Sign in first."):
    if _wants_json(request.path):
        return json_error(401, message)
    if request.path == "/logout":  # signed out already: nothing to come back to
        return redirect(url_for("auth.login"))
    return redirect(url_for("auth.login", next=safe_next(request.full_path)))


def _forbidden(message: str):
    if _wants_json(request.path):
        return json_error(403, message)
    return Response(render_template("error.html", status=403, message=message), 403)


def _csrf_failed(error: CSRFError):
    message = "The form expired or did not come from this site; reload it and try again."
    if _wants_json(request.path):
        return json_error(400, f"CSRF check failed: {error.description}")
    return Response(render_template("error.html", status=400, message=message), 400)


def safe_next(target: str | None) -> str:
    r"""Where to go after sign-in: ``target`` when it is a same-origin absolute path (with
    its query), else "/". Refused: anything not starting with one "/", a second "/" or a
    backslash (browsers read ``/\host`` and ``//host`` as another host), the same encoded
    right after the first "/", any control character (browsers drop tabs and line breaks,
    so ``/\t/host`` becomes ``//host``; a line break in a header is an error), and anything
    ``urlsplit`` reads a scheme or host from."""
    target = (target or "/").rstrip("?") or "/"
    if len(target) > MAX_NEXT_LENGTH or _UNSAFE_NEXT_CHARACTER.search(target):
        return "/"
    if not target.startswith("/") or target.startswith("//") or \
            _ENCODED_SLASH_AT_START.match(target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target



# ---------------------------------------------------------------------- callback ids
def _higher(first: str, second: str) -> str:
    return first if role_allows(first, second) else second


def _has_prefix(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + "-")


def _id_name(component_id: Any) -> str | None:
    """The text of an id that carries its prefix: the id itself, or a pattern-matching
    id's ``type``; None when there is none."""
    if isinstance(component_id, str) and component_id.startswith("{"):
        try:
            component_id = json.loads(component_id)
        except ValueError:
            return component_id
    if isinstance(component_id, dict):
        component_id = component_id.get("type")
    return component_id if isinstance(component_id, str) else None


def _walk_ids(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        if "id" in node and "property" in node:
            yield node["id"]
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _walk_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_ids(item)


def _callback_ids(body: dict) -> Iterator[Any]:
    for key in ("outputs", "inputs", "state"):
        yield from _walk_ids(body.get(key))
    output = body.get("output")
    if isinstance(output, str):
        registered = _registered_callback(output)
        for key in ("inputs", "state"):
            for dependency in registered.get(key) or ():
                yield dependency.get("id")
        for part in output.strip(".").split("..."):
            part = part.strip(".")
            if not part:
                continue
            name = part.rsplit(".", 1)[0]
            if name.startswith("{"):
                try:
                    yield json.loads(name)
                except ValueError:
                    yield name
            else:
                yield name


def _registered_callback(output: str) -> dict:
    """The callback the server registered for an ``output`` key (Dash dispatches by that
    key alone, whatever ids the request names), or {} when there is none. Callbacks
    declared with ``dash.callback`` wait in Dash's global map until the app's first
    request copies them."""
    if not has_app_context():
        return {}
    dash_app = current_app.extensions.get("shoplens.dash")
    if dash_app is None:
        return {}
    from dash import _callback  # the global map of dash.callback, not exported
    return (dash_app.callback_map.get(output)
            or getattr(_callback, "GLOBAL_CALLBACK_MAP", {}).get(output) or {})


def _pages_router_path(body: dict) -> str | None:
    for item in _walk_items(body.get("inputs")):
        if item.get("id") == PAGES_LOCATION_ID and item.get("property") == "pathname":
            value = item.get("value")
            return value if isinstance(value, str) else "/"
    return None


def _walk_items(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        if "id" in node and "property" in node:
            yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _walk_items(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_items(item)


def _page_matches(page: dict, path: str) -> bool:
    page_path = "/" + str(page.get("path") or "").strip("/")
    if page_path == path:
        return True
    template = page.get("path_template")
    if template:
        pattern = re.sub(r"<[^/>]+>", "[^/]+", "/" + template.strip("/"))
        return re.fullmatch(pattern, path) is not None
    return False


# ---------------------------------------------------------------------- headers
def content_security_policy(script_hashes: list[str] | tuple[str, ...] = ()) -> str:
    """The CSP header value (see the module docstring for the choices)."""
    scripts = " ".join(["'self'", *script_hashes])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https://*.tile.openstreetmap.org",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _dash_script_hashes() -> tuple[str, ...]:
    dash_app = current_app.extensions.get("shoplens.dash")
    if dash_app is None:
        return ()
    cache = current_app.extensions.setdefault("shoplens.csp_cache", {})
    key = (len(getattr(dash_app, "_inline_scripts", ())), len(dash.page_registry))
    if cache.get("key") != key:
        cache["hashes"] = tuple(dash_app.csp_hashes())
        cache["key"] = (len(getattr(dash_app, "_inline_scripts", ())),
                        len(dash.page_registry))
    return cache["hashes"]


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy",
                       content_security_policy(_dash_script_hashes()))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.extensions.get("shoplens.secure_cookies"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if current_user and getattr(current_user, "is_authenticated", False) and \
            "Cache-Control" not in headers and not request.path.startswith(PUBLIC_PREFIXES):
        headers["Cache-Control"] = "no-store"
    return response
