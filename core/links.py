"""Signed links back to the exact view an e-mail is about (``PUBLIC_URL/go/<token>``).

An alert or report e-mail links to the page with the rule's (the report's) filters and
period. The link is a token signed with SECRET_KEY (itsdangerous, salt "view-link") holding
the page path, its query and the user it was made for; it expires (90 days by default).

A link is a bookmark, not a key: it never signs anybody in and never widens anything.
Following it needs a signed-in user (``webapp.links`` sends a signed-out one to the sign-in
page and back), only app-internal page paths are followed (never an open redirect), and the
page applies the *viewer's* data scope as always, so a link made for another user opens
under the viewer's own scope.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from analytics.errors import InvalidInput
from core.settings import Settings

SALT = "view-link"
EXPIRES_DAYS = 90


class LinkInvalid(InvalidInput):
    """The link is damaged, was not made by this Shoplens, or has expired."""


@dataclass(frozen=True)
class View:
    """What a signed link points at."""
    path: str
    query: str
    user_id: int | None

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=SALT)


def view_link(settings: Settings, path: str, query: str, user_id: int | None, *,
              expires_days: int = EXPIRES_DAYS) -> str:
    """The absolute signed link to ``path?query`` (made for ``user_id``). The expiry is
    checked when the link is followed (``expires_days`` is kept in the token)."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"a view link needs an app path starting with one '/', not {path!r}")
    token = _serializer(settings).dumps({"path": path, "query": query or "", "user": user_id,
                                         "days": int(expires_days)})
    return f"{settings.public_url}/go/{token}"


def read_token(settings: Settings, token: str, now: dt.datetime | None = None) -> View:
    """The view a token points at; LinkInvalid when it is damaged, foreign or expired."""
    serializer = _serializer(settings)
    try:
        data, signed_at = serializer.loads(token, return_timestamp=True)
    except SignatureExpired:
        raise LinkInvalid("This link has expired. Open Shoplens and find the view again.") \
            from None
    except BadSignature:
        raise LinkInvalid("This link is not valid: it was damaged or not made by this "
                          "Shoplens.") from None
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        raise LinkInvalid("This link is not valid: it was damaged or not made by this "
                          "Shoplens.")
    days = data.get("days", EXPIRES_DAYS)
    now = now or dt.datetime.now(dt.UTC)
    if not isinstance(days, int) or now - signed_at > dt.timedelta(days=days):
        raise LinkInvalid("This link has expired. Open Shoplens and find the view again.")
    user = data.get("user")
    return View(path=data["path"], query=str(data.get("query") or ""),
                user_id=user if isinstance(user, int) else None)
