"""Dashboards: pages users compose from any page's charts, KPI cards and tables.

A dashboard (``core.orm.Dashboard``) belongs to its owner; it has filters (a query string,
``analytics.filters.Filters``) and a relative ``period`` (a date preset such as
``last_30``, kept by name so that "last 30 days" moves with the data), and tiles
(``DashboardTile``): a registered panel at a position, of size S (a third of the row), M
(half) or L (the whole row), that follows the dashboard's filters or has its own.

Sharing: ``private`` (the owner only), ``everyone`` (every signed-in user) or ``users``
(the ids in ``shared_with``). Whoever opens a shared dashboard sees every tile under THEIR
OWN data scope and role (a tile above their role says so instead of drawing); only the
owner or an admin may change it (``DashboardAccessDenied``, 403). A dashboard the actor may
not see is ``DashboardNotFound`` (404), so ids do not reveal what exists.

The panels are declared in ``core.panels`` (their data step; ``webapp.dashboard.panels``
draws them with Dash), which registers each panel's id, title and minimum role with
``register_panel`` when it is imported (this module imports it last), and the services
check tiles against that registry. The caller commits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics.errors import AccessDenied, InvalidInput, NotFound, format_validation_error
from analytics.filters import FilterError, Filters, Scope
from core import audit
from core.orm import ROLES, Dashboard, DashboardTile, Job, ReportSchedule, User

#: Tiles on one dashboard, at most: each draws on every visit.
MAX_TILES = 24
#: Dashboards one user may own.
MAX_DASHBOARDS = 100
#: Tile sizes: S a third of a row, M half, L the whole row.
SIZES = ("S", "M", "L")
SHARING = ("private", "everyone", "users")
#: The relative periods a dashboard or a tile may keep, by name, with their words: the
#: filter sidebar's date presets (``webapp.dashboard.presets.PRESETS`` is this table).
PERIOD_LABELS: dict[str, str] = {
    "last_7": "Last 7 days",
    "last_30": "Last 30 days",
    "last_90": "Last 90 days",
    "month_to_date": "Month to date",
    "quarter_to_date": "Quarter to date",
    "year_to_date": "Year to date",
    "last_12_months": "Last 12 months",
    "all_time": "All time",
}
PERIODS = tuple(PERIOD_LABELS)
_LAST_N = re.compile(r"last_[1-9][0-9]{0,3}")


class DashboardError(InvalidInput):
    """The dashboard or tile is invalid or the change is refused; the message says why."""


class DashboardAccessDenied(AccessDenied, DashboardError):
    """The actor may see this dashboard but not change it, or may not pin this panel."""


class DashboardNotFound(NotFound, DashboardError):
    """No dashboard (or tile) with this id that the actor may see."""


# ----------------------------------------------------------------- panel registry
@dataclass(frozen=True)
class PanelRule:
    """What the services need of a panel: its id, title and the least role that sees it."""
    id: str
    title: str
    role: str


_PANELS: dict[str, PanelRule] = {}


def register_panel(panel_id: str, title: str, role: str) -> PanelRule:
    """Declare a pinnable panel (``webapp.dashboard.panels`` calls this once per panel)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} for panel {panel_id!r}")
    rule = PanelRule(panel_id, title, role)
    _PANELS[panel_id] = rule
    return rule


def panel_rule(panel_id: str) -> PanelRule:
    """The registered panel ``panel_id``, or a DashboardError naming the known ones."""
    rule = _PANELS.get(panel_id)
    if rule is None:
        known = ", ".join(sorted(_PANELS)) or "none registered"
        raise DashboardError(f"unknown panel {panel_id!r}: pin one of {known}")
    return rule


def known_panels() -> list[PanelRule]:
    return list(_PANELS.values())


def may_see_panel(user: User, panel_id: str) -> bool:
    rule = _PANELS.get(panel_id)
    return rule is not None and user.has_role(rule.role)


# ----------------------------------------------------------------- inputs
def _filters_text(value) -> str:
    try:
        parsed = value if isinstance(value, Filters) else Filters.from_query(
            value if isinstance(value, dict) else str(value or ""))
    except FilterError as exc:
        raise ValueError(str(exc)) from None
    return parsed.to_query()


def _period(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in PERIODS and not _LAST_N.fullmatch(str(value)):
        raise ValueError(f"unknown period {value!r}: use one of {', '.join(PERIODS)} "
                         "(or last_N for the last N days)")
    return value


class _WithPeriod(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)
    filters: Annotated[str, pydantic.Field(max_length=4000)] = ""
    period: str | None = None

    @pydantic.field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value) -> str:
        return _filters_text(value)

    @pydantic.field_validator("period")
    @classmethod
    def _known_period(cls, value: str | None) -> str | None:
        return _period(value)

    @pydantic.model_validator(mode="after")
    def _one_period(self):
        parsed = Filters.from_query(self.filters)
        if self.period and (parsed.start or parsed.end):
            raise ValueError("give a relative period or start/end dates in the filters, "
                             "not both")
        return self


class DashboardInput(_WithPeriod):
    """What a user sets on a dashboard."""
    name: Annotated[str, pydantic.Field(min_length=1, max_length=200)]
    sharing: Literal["private", "everyone", "users"] = "private"
    shared_with: list[int] = []

    @pydantic.model_validator(mode="after")
    def _sharing(self) -> "DashboardInput":
        if self.sharing == "users" and not self.shared_with:
            raise ValueError("sharing with chosen users needs their ids in shared_with")
        if self.sharing != "users" and self.shared_with:
            raise ValueError("shared_with lists the users of sharing \"users\"; set sharing "
                             "to users, or leave shared_with empty")
        self.shared_with = sorted(set(self.shared_with))
        return self


class TileInput(_WithPeriod):
    """What a user sets on a tile (its panel is chosen once, when it is added)."""
    title: Annotated[str | None, pydantic.Field(max_length=200)] = None
    size: Literal["S", "M", "L"] = "M"
    follow_dashboard: bool = True

    @pydantic.field_validator("title")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


def _parse(model: type[pydantic.BaseModel], data: dict, subject: str):
    if not isinstance(data, dict):
        raise DashboardError(f"the {subject} must be a JSON object")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise DashboardError(format_validation_error(exc, subject=subject)) from None


def _check_scope(filters: str, actor: User) -> None:
    """Refuse a country filter outside the actor's data scope (it would show nothing to
    them, and it would name data they may not see to those they share with)."""
    scope = Scope.of(actor.countries)
    if scope.is_all:
        return
    outside = sorted(code for code in Filters.from_query(filters).countries
                     if len(code) == 2 and code.isupper() and code not in scope.countries)
    if outside:
        raise DashboardAccessDenied(f"the country filter {', '.join(outside)} is outside "
                                    f"your data scope ({scope})")


def _check_users(session: Session, user_ids: list[int]) -> None:
    if not user_ids:
        return
    found = set(session.scalars(sa.select(User.id).where(User.id.in_(user_ids))))
    missing = sorted(set(user_ids) - found)
    if missing:
        raise DashboardError(f"shared_with: no user {', '.join(map(str, missing))}")


# ----------------------------------------------------------------- access
def can_edit(actor: User, dashboard: Dashboard) -> bool:
    return actor.has_role("admin") or dashboard.owner_id == actor.id


def can_view(actor: User, dashboard: Dashboard) -> bool:
    if can_edit(actor, dashboard) or dashboard.sharing == "everyone":
        return True
    return dashboard.sharing == "users" and actor.id in (dashboard.shared_with or [])


def list_dashboards(session: Session, actor: User) -> list[Dashboard]:
    """The actor's own dashboards and those shared with them, by name (``shared_with`` is
    a JSON list, read in Python: portable across SQLite and PostgreSQL)."""
    if not actor.is_active:
        return []
    rows = session.scalars(sa.select(Dashboard).where(sa.or_(
        Dashboard.owner_id == actor.id, Dashboard.sharing != "private"))
        .order_by(Dashboard.name, Dashboard.id))
    return [row for row in rows if row.owner_id == actor.id or can_view(actor, row)]


def get_dashboard(session: Session, actor: User, dashboard_id: int) -> Dashboard:
    """The dashboard for whoever may see it (owner, admin, those it is shared with)."""
    found = session.get(Dashboard, dashboard_id) if isinstance(dashboard_id, int) else None
    if found is None or not actor.is_active or not can_view(actor, found):
        raise DashboardNotFound(f"no dashboard {dashboard_id}")
    return found


def editable_dashboard(session: Session, actor: User, dashboard_id: int) -> Dashboard:
    """The dashboard for its owner or an admin; a viewer it is shared with gets a 403."""
    found = get_dashboard(session, actor, dashboard_id)
    if not can_edit(actor, found):
        raise DashboardAccessDenied("only this dashboard's owner or an admin can change it")
    return found


# ----------------------------------------------------------------- dashboards
def create_dashboard(session: Session, actor: User, data: dict) -> Dashboard:
    """A new dashboard owned by the actor. The caller commits."""
    if not actor.is_active:
        raise DashboardAccessDenied("this account is deactivated")
    values = _parse(DashboardInput, data, "dashboard")
    _check_scope(values.filters, actor)
    _check_users(session, values.shared_with)
    owned_count = session.scalar(sa.select(sa.func.count()).select_from(Dashboard)
                                 .where(Dashboard.owner_id == actor.id))
    if owned_count >= MAX_DASHBOARDS:
        raise DashboardError(f"you have {MAX_DASHBOARDS} dashboards, the most one user may "
                             "have: delete one first")
    dashboard = Dashboard(owner_id=actor.id, **values.model_dump())
    session.add(dashboard)
    session.flush()
    audit.record(session, "dashboard_changed", actor=actor, target=str(dashboard.id),
                 detail={"change": "created", "name": dashboard.name})
    return dashboard


def update_dashboard(session: Session, actor: User, dashboard_id: int,
                     changes: dict) -> Dashboard:
    """Rename, re-filter or re-share a dashboard (owner or admin). The caller commits."""
    dashboard = editable_dashboard(session, actor, dashboard_id)
    if not isinstance(changes, dict):
        raise DashboardError("the dashboard must be a JSON object")
    current = {name: getattr(dashboard, name) for name in DashboardInput.model_fields}
    current["shared_with"] = list(current["shared_with"] or [])
    if "sharing" in changes and "shared_with" not in changes:
        current["shared_with"] = []        # re-sharing forgets the chosen users …
    elif changes.get("shared_with") and "sharing" not in changes:
        current["sharing"] = "users"       # … and choosing users shares with them
    values = _parse(DashboardInput, {**current, **changes}, "dashboard")
    if values.filters != dashboard.filters:
        _check_scope(values.filters, actor)
    _check_users(session, values.shared_with)
    for name, value in values.model_dump().items():
        setattr(dashboard, name, value)
    audit.record(session, "dashboard_changed", actor=actor, target=str(dashboard.id),
                 detail={"change": "updated", "fields": sorted(changes)})
    session.flush()
    return dashboard


def delete_dashboard(session: Session, actor: User, dashboard_id: int) -> int:
    """Delete the dashboard, its tiles and the schedules that send it (their past runs
    stay in the jobs and the delivery ledger, unlinked); returns how many schedules went.
    The caller commits."""
    dashboard = editable_dashboard(session, actor, dashboard_id)
    sending = schedules_sending(session, dashboard.id)
    for schedule in sending:  # the foreign key would cascade, but past jobs refer to it
        session.execute(sa.update(Job).where(Job.schedule_id == schedule.id)
                        .values(schedule_id=None))
        audit.record(session, "schedule_changed", actor=actor, target=str(schedule.id),
                     detail={"change": "deleted", "name": schedule.name,
                             "reason": f"its dashboard {dashboard.id} was deleted"})
        session.delete(schedule)
    audit.record(session, "dashboard_changed", actor=actor, target=str(dashboard.id),
                 detail={"change": "deleted", "name": dashboard.name,
                         "schedules_deleted": len(sending)})
    session.delete(dashboard)
    session.flush()
    return len(sending)


# ----------------------------------------------------------------- sent as a PDF
def schedules_sending(session: Session, dashboard_id: int) -> list[ReportSchedule]:
    """The report schedules that send this dashboard as a PDF."""
    return list(session.scalars(sa.select(ReportSchedule).where(
        ReportSchedule.dashboard_id == dashboard_id).order_by(ReportSchedule.id)))


def blind_readers(dashboard: Dashboard, readers: list[User]) -> list[User]:
    """Those of ``readers`` who may not open ``dashboard`` (inactive, or not shared with)."""
    return [reader for reader in readers
            if not reader.is_active or not can_view(reader, dashboard)]


def authorize_report(session: Session, user: User, options: dict) -> None:
    """A user asking for a dashboard's PDF as a job (``dashboard_report``) must be able to
    open it: else DashboardNotFound (404), as for the page and the synchronous PDF."""
    get_dashboard(session, user, options.get("dashboard_id"))


# ----------------------------------------------------------------- tiles
def _tiles(dashboard: Dashboard) -> list[DashboardTile]:
    return sorted(dashboard.tiles, key=lambda tile: (tile.position, tile.id or 0))


def _renumber(tiles: list[DashboardTile]) -> None:
    for position, tile in enumerate(tiles):
        tile.position = position


def get_tile(session: Session, actor: User, dashboard_id: int, tile_id: int, *,
             edit: bool = True) -> DashboardTile:
    dashboard = (editable_dashboard if edit else get_dashboard)(session, actor, dashboard_id)
    for tile in dashboard.tiles:
        if tile.id == tile_id:
            return tile
    raise DashboardNotFound(f"no tile {tile_id} on dashboard {dashboard_id}")


def add_tile(session: Session, actor: User, dashboard_id: int, panel: str, *,
             filters: str = "", title: str | None = None, size: str = "M",
             follow_dashboard: bool = True, period: str | None = None) -> DashboardTile:
    """Pin ``panel`` at the end of the dashboard. ``filters``/``period`` are the tile's
    own, used when ``follow_dashboard`` is false. The caller commits."""
    dashboard = editable_dashboard(session, actor, dashboard_id)
    rule = panel_rule(panel)
    if not actor.has_role(rule.role):
        raise DashboardAccessDenied(f"the panel {rule.title!r} needs the {rule.role} role")
    values = _parse(TileInput, {"filters": filters, "title": title, "size": size,
                                "follow_dashboard": follow_dashboard, "period": period},
                    "tile")
    _check_scope(values.filters, actor)
    tiles = _tiles(dashboard)
    if len(tiles) >= MAX_TILES:
        raise DashboardError(f"a dashboard holds at most {MAX_TILES} tiles: remove one first")
    tile = DashboardTile(panel=rule.id, position=len(tiles), **values.model_dump())
    dashboard.tiles.append(tile)
    session.flush()
    audit.record(session, "dashboard_changed", actor=actor, target=str(dashboard.id),
                 detail={"change": "tile_added", "panel": rule.id})
    return tile


def update_tile(session: Session, actor: User, dashboard_id: int, tile_id: int,
                changes: dict) -> DashboardTile:
    """Change a tile's title, size, own filters/period or whether it follows the
    dashboard; ``position`` moves it (0 = first), ``move`` "up"/"down" by one."""
    tile = get_tile(session, actor, dashboard_id, tile_id)
    if not isinstance(changes, dict):
        raise DashboardError("the tile must be a JSON object")
    changes = dict(changes)
    move = changes.pop("move", None)
    position = changes.pop("position", None)
    if changes:
        current = {name: getattr(tile, name) for name in TileInput.model_fields}
        values = _parse(TileInput, {**current, **changes}, "tile")
        if values.filters != (tile.filters or ""):
            _check_scope(values.filters, actor)
        for name, value in values.model_dump().items():
            setattr(tile, name, value)
    if move is not None:
        if move not in ("up", "down"):
            raise DashboardError(f"move: use up or down, not {move!r}")
        move_tile(session, actor, dashboard_id, tile_id, move)
    if position is not None:
        if isinstance(position, bool) or not isinstance(position, int):
            raise DashboardError("position: give a whole number (0 is the first tile)")
        _place(tile, position)
    session.flush()
    return tile


def _place(tile: DashboardTile, position: int) -> None:
    tiles = [other for other in _tiles(tile.dashboard) if other is not tile]
    position = max(0, min(position, len(tiles)))
    tiles.insert(position, tile)
    _renumber(tiles)


def move_tile(session: Session, actor: User, dashboard_id: int, tile_id: int,
              direction: str) -> DashboardTile:
    """Swap a tile with its neighbour ("up": earlier, "down": later); at an end it stays."""
    tile = get_tile(session, actor, dashboard_id, tile_id)
    if direction not in ("up", "down"):
        raise DashboardError(f"move: use up or down, not {direction!r}")
    tiles = _tiles(tile.dashboard)
    index = tiles.index(tile)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(tiles):
        tiles[index], tiles[other] = tiles[other], tiles[index]
    _renumber(tiles)
    session.flush()
    return tile


def remove_tile(session: Session, actor: User, dashboard_id: int, tile_id: int) -> None:
    tile = get_tile(session, actor, dashboard_id, tile_id)
    dashboard = tile.dashboard
    dashboard.tiles.remove(tile)
    _renumber(_tiles(dashboard))
    audit.record(session, "dashboard_changed", actor=actor, target=str(dashboard.id),
                 detail={"change": "tile_removed", "panel": tile.panel})
    session.flush()


def tile_view(dashboard: Dashboard, tile: DashboardTile) -> tuple[str, str | None]:
    """(filters query, period) the tile draws with: the dashboard's, or its own."""
    if tile.follow_dashboard:
        return dashboard.filters or "", dashboard.period
    return tile.filters or "", tile.period


# ----------------------------------------------------------------- JSON
def tile_to_dict(tile: DashboardTile) -> dict:
    rule = _PANELS.get(tile.panel)
    return {"id": tile.id, "position": tile.position, "panel": tile.panel,
            "title": tile.title or (rule.title if rule else tile.panel), "size": tile.size,
            "follow_dashboard": tile.follow_dashboard, "filters": tile.filters or "",
            "period": tile.period}


def dashboard_to_dict(dashboard: Dashboard, actor: User | None = None) -> dict:
    out = {"id": dashboard.id, "name": dashboard.name, "owner_id": dashboard.owner_id,
           "filters": dashboard.filters or "", "period": dashboard.period,
           "sharing": dashboard.sharing, "shared_with": list(dashboard.shared_with or []),
           "tiles": [tile_to_dict(tile) for tile in _tiles(dashboard)],
           "created_at": dashboard.created_at.isoformat() + "Z" if dashboard.created_at
           else None}
    if actor is not None:
        out["editable"] = can_edit(actor, dashboard)
    return out


# The panels' declarations register themselves here (``core.panels``): imported last, so
# that every process that checks tiles (the web, a worker, the CLI) knows them, whichever
# of the two modules it imports first.
from core import panels as _panels  # noqa: E402,F401
