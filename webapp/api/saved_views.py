"""The API of saved views (``core.views``): a page and its filters under a name, with a
relative period kept by name, and each user's default view.

Every signed-in role may keep private views; sharing with everyone or chosen users needs
the analyst role (403). Another user's view that is not shared with the caller is a 404,
as is a change of one (the answer does not tell whether it exists); a change of a view
shared with the caller (not theirs, and they are not an admin) is a 403.
``GET /views/{id}/resolve`` gives the page and the query string with the dates of a
relative period computed now, from the data's last day: a script passes that query to the
KPI endpoints, which add the caller's own data scope as they always do."""
from __future__ import annotations

from typing import Annotated, Literal

import dash
from pydantic import BaseModel, Field

from core import views
from webapp import services
from webapp.api.payloads import Strict
from webapp.api.routing import ApiError, endpoint
from webapp.security import current_db_user, db_session

ROLE = "viewer"
ERRORS = (400, 401, 403, 404)
_ID = Annotated[int, Field(ge=1, le=2**31 - 1)]
_PERIOD_HELP = ("A date preset kept relative (its dates are computed when the view is "
                "opened): " + ", ".join(views.PERIODS) + "; null keeps the dates of "
                "`filters`. With a period, start/end in `filters` are dropped.")


class ViewPath(Strict):
    view_id: _ID


class ViewChanges(Strict):
    """What changes (PATCH): only the fields given."""
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    page: Annotated[str, Field(max_length=100, description="The page path, e.g. /sales.")] \
        | None = None
    filters: Annotated[str, Field(max_length=4000, description=(
        "The filters as the dashboard's URL query string: country=GB&channel=wholesale "
        "(start/end only for fixed dates)."))] | None = None
    period: Annotated[str | None, Field(description=_PERIOD_HELP)] = None
    sharing: Literal["private", "everyone", "users"] | None = None
    shared_with: Annotated[list[_ID], Field(max_length=500, description=(
        "The user ids of sharing \"users\"."))] | None = None


class ViewRequest(ViewChanges):
    """A new saved view (POST)."""
    name: Annotated[str, Field(min_length=1, max_length=200)]
    page: Annotated[str, Field(max_length=100, description="The page path, e.g. /sales.")] = "/"


class ViewResponse(BaseModel):
    id: int
    name: str
    page: str
    filters: str
    period: str | None
    sharing: str
    shared_with: list[int]
    owner_id: int
    owner: str | None
    created_at: str | None
    updated_at: str | None
    editable: bool = Field(description="Whether you may change or delete it.")
    mine: bool


class ViewListResponse(BaseModel):
    views: list[ViewResponse] = Field(description="Yours first, then those shared with you, "
                                                  "each by name.")
    default_view_id: int | None


class ViewDeleted(BaseModel):
    deleted: int
    name: str


class ResolvedView(BaseModel):
    id: int
    page: str
    query: str = Field(description="The filters with the period's dates of today: pass it "
                                   "to /api/v1/kpis and the other analytics endpoints.")
    path: str = Field(description="The app path that opens the view (page?query).")
    start: str | None
    end: str | None


class DefaultViewRequest(Strict):
    view_id: Annotated[_ID | None, Field(description="A view you may open, or null to land "
                                                     "on the overview.")]


class DefaultViewResponse(BaseModel):
    default_view: ViewResponse | None


def _user():
    user = current_db_user()
    if user is None:
        raise ApiError(401, "Sign in first.")
    return user


def _check_page(page: str | None) -> None:
    """A view of a page the app does not have would open on "no page here"."""
    paths = sorted(page["path"] for page in dash.page_registry.values())
    if page is not None and paths:
        path = page.split("?", 1)[0].rstrip("/") or "/"
        if path not in paths:
            raise views.ViewError(f"page: there is no page {page}; use one of "
                                  f"{', '.join(paths)}")


def _visible(session, user, view_id: int):
    try:
        return views.get_view(session, user, view_id)
    except views.ViewNotFound:
        raise ApiError(404, f"There is no saved view {view_id}.") from None


@endpoint("GET", "/views", role=ROLE, response=ViewListResponse, errors=(401,),
          summary="Your saved views and those shared with you, and your default view.")
def get_views():
    session, user = db_session(), _user()
    default = views.default_for(session, user)
    return {"views": [views.view_to_dict(view, user) for view in views.list_views(session, user)],
            "default_view_id": default.id if default is not None else None}


@endpoint("POST", "/views", role=ROLE, body=ViewRequest, response=ViewResponse, success=201,
          errors=ERRORS,
          summary="Save a view: a page, its filters and a relative period under a name "
                  "unique among yours; private, or (analysts and admins) shared with "
                  "everyone or chosen users.")
def post_view(body: ViewRequest):
    session, user = db_session(), _user()
    _check_page(body.page)
    view = views.create_view(session, user, body.model_dump(exclude_unset=True))
    session.commit()
    return views.view_to_dict(view, user)


@endpoint("GET", "/views/{view_id}", role=ROLE, path_params=ViewPath, response=ViewResponse,
          errors=(401, 404), summary="A saved view you own or that is shared with you.")
def get_view(path: ViewPath):
    session, user = db_session(), _user()
    return views.view_to_dict(_visible(session, user, path.view_id), user)


@endpoint("PATCH", "/views/{view_id}", role=ROLE, path_params=ViewPath, body=ViewChanges,
          response=ViewResponse, errors=ERRORS,
          summary="Rename, re-save the filters/period or re-share a view (its owner or an "
                  "admin; 403 for a view only shared with you).")
def patch_view(path: ViewPath, body: ViewChanges):
    session, user = db_session(), _user()
    _visible(session, user, path.view_id)
    _check_page(body.page)
    view = views.update_view(session, user, path.view_id, body.model_dump(exclude_unset=True))
    session.commit()
    return views.view_to_dict(view, user)


@endpoint("DELETE", "/views/{view_id}", role=ROLE, path_params=ViewPath, response=ViewDeleted,
          errors=(401, 403, 404),
          summary="Delete a saved view (its owner or an admin); whoever had it as their "
                  "default lands on the overview again.")
def delete_view(path: ViewPath):
    session, user = db_session(), _user()
    view = _visible(session, user, path.view_id)
    name = view.name
    views.delete_view(session, user, view.id)
    session.commit()
    return {"deleted": path.view_id, "name": name}


@endpoint("GET", "/views/{view_id}/resolve", role=ROLE, path_params=ViewPath,
          response=ResolvedView, errors=(401, 404),
          summary="The page and the query string that open a view now (a relative period's "
                  "dates computed from the data's last day), to pass to the KPI endpoints.")
def resolve_view(path: ViewPath):
    session, user = db_session(), _user()
    view = _visible(session, user, path.view_id)
    page, filters = views.resolve(view, services.warehouse())
    query = filters.to_query()
    return {"id": view.id, "page": page, "query": query,
            "path": f"{page}?{query}" if query else page,
            "start": filters.start.isoformat() if filters.start else None,
            "end": filters.end.isoformat() if filters.end else None}


@endpoint("PUT", "/preferences/default-view", role=ROLE, body=DefaultViewRequest,
          response=DefaultViewResponse, errors=ERRORS,
          summary="The view the app opens when you sign in (one you may open), or null for "
                  "the overview.")
def put_default_view(body: DefaultViewRequest):
    session, user = db_session(), _user()
    if body.view_id is not None:
        _visible(session, user, body.view_id)
    view = views.set_default(session, user, body.view_id)
    session.commit()
    return {"default_view": views.view_to_dict(view, user) if view is not None else None}
