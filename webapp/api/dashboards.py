"""The API of dashboards (``core.dashboards``; docs/dashboards.md): a user's dashboards and
those shared with them, their tiles, the panels that can be pinned, and a dashboard as a
PDF. Every signed-in role has dashboards.

Access: another user's private dashboard is answered 404, as if it did not exist; a
dashboard shared with the caller is readable (GET, the PDF) but changing it is 403 (only
its owner or an admin may). Whoever reads a dashboard reads it under THEIR OWN data scope
and role: the PDF of a shared dashboard shows the reader's numbers, and a tile above the
reader's role prints as such instead of its content."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from flask import Response
from pydantic import BaseModel, Field

from core import dashboard_content, dashboards
from core.orm import Dashboard, User
from core.reports.dashboard_pdf import render_dashboard_pdf
from webapp import security, services
from webapp.api import payloads
from webapp.api.payloads import Strict
from webapp.api.routing import ApiError, endpoint
from webapp.security import current_db_user, db_session

ROLE = "viewer"

# ---------------------------------------------------------------------- models
Size = Literal["S", "M", "L"]
Sharing = Literal["private", "everyone", "users"]
_FILTERS = Field("", description="Filters as a query string (country=FR&category=Toys), with "
                                 "start and end dates, or without them and a `period`. They "
                                 "may only narrow your data scope.")
_PERIOD = Field(None, description="A relative period, kept by name so that it moves with the "
                                  "data: " + ", ".join(dashboards.PERIODS) + " (or last_N).")
_SHARING = Field("private", description="private (you), everyone (every signed-in user) or "
                                        "users (the ids in shared_with). Readers see it "
                                        "under their own data scope and cannot change it.")


class DashboardPath(Strict):
    dashboard_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class TilePath(DashboardPath):
    tile_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class DashboardRequest(Strict):
    """A new dashboard."""
    name: Annotated[str, Field(min_length=1, max_length=200)]
    filters: Annotated[str, Field(max_length=4000)] = _FILTERS
    period: Annotated[str, Field(max_length=30)] | None = _PERIOD
    sharing: Sharing = _SHARING
    shared_with: list[Annotated[int, Field(ge=1)]] = Field(
        [], max_length=500, description="User ids (with sharing = users).")


class DashboardPatch(Strict):
    """The fields to change (owner or admin)."""
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    filters: Annotated[str, Field(max_length=4000)] | None = None
    period: Annotated[str, Field(max_length=30)] | None = None
    sharing: Sharing | None = None
    shared_with: list[Annotated[int, Field(ge=1)]] | None = Field(None, max_length=500)


class TileRequest(Strict):
    """A panel to pin (``GET /panels`` lists them) at the end of the dashboard."""
    panel: Annotated[str, Field(min_length=1, max_length=100)]
    title: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="Shown instead of the panel's title.")
    size: Size = Field("M", description="S: a third of a row, M: half, L: the whole row.")
    follow_dashboard: bool = Field(True, description="Draw with the dashboard's filters; "
                                                     "false: with the tile's own.")
    filters: Annotated[str, Field(max_length=4000)] = _FILTERS
    period: Annotated[str, Field(max_length=30)] | None = _PERIOD


class TilePatch(Strict):
    """The fields to change; ``move`` up/down swaps with the neighbour, ``position`` (0 =
    first) places the tile; the other tiles keep their order."""
    title: Annotated[str, Field(max_length=200)] | None = None
    size: Size | None = None
    follow_dashboard: bool | None = None
    filters: Annotated[str, Field(max_length=4000)] | None = None
    period: Annotated[str, Field(max_length=30)] | None = None
    move: Literal["up", "down"] | None = None
    position: Annotated[int, Field(ge=0, le=dashboards.MAX_TILES)] | None = None


class TileResponse(BaseModel):
    id: int
    position: int
    panel: str
    title: str
    size: str
    follow_dashboard: bool
    filters: str
    period: str | None


class DashboardResponse(BaseModel):
    id: int
    name: str
    owner_id: int
    filters: str
    period: str | None
    sharing: str
    shared_with: list[int]
    editable: bool = Field(description="Whether you may change it (owner or admin).")
    created_at: str | None
    tiles: list[TileResponse]


class DashboardListResponse(BaseModel):
    dashboards: list[DashboardResponse]


class PanelResponse(BaseModel):
    id: str = Field(description="The page's component id, e.g. overview-trend.")
    title: str
    kind: Literal["chart", "kpi", "table"]
    page: str
    role: str = Field(description="The least role that sees it.")
    description: str


class PanelListResponse(BaseModel):
    panels: list[PanelResponse]


# ---------------------------------------------------------------------- endpoints
def _user() -> User:
    user = current_db_user()
    if user is None:
        raise ApiError(401, "Sign in first.")
    return user


def _answer(dashboard: Dashboard, user: User) -> dict:
    return dashboards.dashboard_to_dict(dashboard, user)


def _saved(dashboard: Dashboard, user: User) -> dict:
    db = db_session()
    db.commit()
    db.refresh(dashboard)
    return _answer(dashboard, user)


@endpoint("GET", "/panels", role=ROLE, response=PanelListResponse, errors=(401,),
          summary="The charts, KPI cards and tables you may pin to a dashboard.")
def get_panels():
    from webapp.dashboard import panels
    user = _user()
    return {"panels": [{"id": panel.id, "title": panel.title, "kind": panel.kind,
                        "page": panel.page, "role": panel.role,
                        "description": panel.description}
                       for panel in panels.visible_to(user.role)]}


@endpoint("GET", "/dashboards", role=ROLE, response=DashboardListResponse, errors=(401,),
          summary="Your dashboards and those shared with you.")
def get_dashboards():
    user = _user()
    return {"dashboards": [_answer(board, user)
                           for board in dashboards.list_dashboards(db_session(), user)]}


@endpoint("POST", "/dashboards", role=ROLE, body=DashboardRequest, response=DashboardResponse,
          success=201, errors=(400, 401, 403),
          summary="Create a dashboard (its filters and relative period, who it is shared "
                  "with).")
def post_dashboard(body: DashboardRequest):
    user = _user()
    dashboard = dashboards.create_dashboard(db_session(), user, body.model_dump())
    return _saved(dashboard, user)


@endpoint("GET", "/dashboards/{dashboard_id}", role=ROLE, path_params=DashboardPath,
          response=DashboardResponse, errors=(401, 404),
          summary="One dashboard with its tiles (yours, or shared with you).")
def get_dashboard(path: DashboardPath):
    user = _user()
    return _answer(dashboards.get_dashboard(db_session(), user, path.dashboard_id), user)


@endpoint("PATCH", "/dashboards/{dashboard_id}", role=ROLE, path_params=DashboardPath,
          body=DashboardPatch, response=DashboardResponse, errors=(400, 401, 403, 404),
          summary="Rename, re-filter or re-share a dashboard (owner or admin; a reader it "
                  "is shared with gets 403).")
def patch_dashboard(path: DashboardPath, body: DashboardPatch):
    user = _user()
    changes = body.model_dump(exclude_unset=True)
    dashboard = dashboards.update_dashboard(db_session(), user, path.dashboard_id, changes)
    return _saved(dashboard, user)


@endpoint("DELETE", "/dashboards/{dashboard_id}", role=ROLE, path_params=DashboardPath,
          response=payloads.Deleted, errors=(401, 403, 404),
          summary="Delete a dashboard, its tiles and the schedules that e-mail it (owner "
                  "or admin; their past runs stay in the ledger).")
def delete_dashboard(path: DashboardPath):
    db = db_session()
    dashboards.delete_dashboard(db, _user(), path.dashboard_id)
    db.commit()
    return {"deleted": path.dashboard_id}


@endpoint("POST", "/dashboards/{dashboard_id}/tiles", role=ROLE, path_params=DashboardPath,
          body=TileRequest, response=TileResponse, success=201,
          errors=(400, 401, 403, 404),
          summary=f"Pin a panel at the end of the dashboard (at most {dashboards.MAX_TILES} "
                  "tiles; a panel above your role is refused).")
def post_tile(path: DashboardPath, body: TileRequest):
    user = _user()
    db = db_session()
    tile = dashboards.add_tile(db, user, path.dashboard_id, body.panel, filters=body.filters,
                               title=body.title, size=body.size,
                               follow_dashboard=body.follow_dashboard, period=body.period)
    db.commit()
    return dashboards.tile_to_dict(tile)


@endpoint("PATCH", "/dashboards/{dashboard_id}/tiles/{tile_id}", role=ROLE,
          path_params=TilePath, body=TilePatch, response=TileResponse,
          errors=(400, 401, 403, 404),
          summary="Change a tile: title, size, its own filters, following the dashboard, "
                  "or its place (move up/down, position).")
def patch_tile(path: TilePath, body: TilePatch):
    user = _user()
    db = db_session()
    tile = dashboards.update_tile(db, user, path.dashboard_id, path.tile_id,
                                  body.model_dump(exclude_unset=True))
    db.commit()
    return dashboards.tile_to_dict(tile)


@endpoint("DELETE", "/dashboards/{dashboard_id}/tiles/{tile_id}", role=ROLE,
          path_params=TilePath, response=payloads.Deleted, errors=(401, 403, 404),
          summary="Remove a tile; the tiles after it move up.")
def delete_tile(path: TilePath):
    db = db_session()
    dashboards.remove_tile(db, _user(), path.dashboard_id, path.tile_id)
    db.commit()
    return {"deleted": path.tile_id}


@endpoint("GET", "/dashboards/{dashboard_id}/pdf", role=ROLE, path_params=DashboardPath,
          media_type="application/pdf", errors=(401, 404),
          summary="The dashboard as a PDF under your data scope: charts as images, KPI "
                  "values and tables as text.")
def get_dashboard_pdf(path: DashboardPath):
    user = _user()
    dashboard = dashboards.get_dashboard(db_session(), user, path.dashboard_id)
    content = print_content(dashboard, user)
    with tempfile.TemporaryDirectory(prefix="shoplens-dashboard-") as folder:
        file = render_dashboard_pdf(content, Path(folder) / "dashboard.pdf")
        data = file.read_bytes()
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in dashboard.name)[:60]
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition":
                             f'attachment; filename="{name or "dashboard"}.pdf"'})


def print_content(dashboard: Dashboard, user: User):
    """What the PDF shows (``core.dashboard_content``): each tile under the caller's scope
    and role."""
    return dashboard_content.print_content(dashboard, user, security.current_scope(),
                                           services.warehouse(), services.locale())
