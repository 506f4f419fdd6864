"""Saved views service: a relative period computed when the view is opened (and moving with
the data), who sees a private, everyone or chosen-users view, who may change one, the
name/filters/sharing rules and the default view."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics import kpis
from analytics.filters import Filters, Scope
from core import db, views
from core.orm import SavedView, User
from core.views import ViewAccessDenied, ViewError, ViewNotFound
from tests.analytics.conftest import publish_lines
from tests.workers.support import add_user, settings_for, worker_environment


@pytest.fixture
def settings(tmp_path):
    return settings_for(worker_environment(tmp_path / "home"))


@pytest.fixture
def people(settings):
    return {
        "owner": add_user(settings, "owner@example.com", "analyst"),
        "admin": add_user(settings, "admin@example.com", "admin"),
        "viewer": add_user(settings, "viewer@example.com", "viewer"),
        "fr": add_user(settings, "fr@example.com", "viewer", ["FR"]),
        "other": add_user(settings, "other@example.com", "analyst"),
        "gone": add_user(settings, "gone@example.com", "analyst", active=False),
    }


@pytest.fixture
def session(settings, people):
    with db.session_scope(settings.database_url) as session:
        yield session


def _user(session, people, name) -> User:
    return session.get(User, people[name])


def _save(session, people, who="owner", **values) -> SavedView:
    return views.create_view(session, _user(session, people, who),
                             {"name": "UK wholesale", "page": "/sales", **values})


def _lines(last_day: str) -> list[dict]:
    """One GB line on 2011-01-04, one FR line and one GB line on ``last_day``."""
    return [
        {"invoice_id": "A1", "invoice_ts": "2011-01-04 10:00", "quantity": 1,
         "unit_price": 10.0},
        {"invoice_id": "A2", "invoice_ts": f"{last_day} 10:00", "quantity": 2,
         "unit_price": 5.0, "country": "France", "country_code": "FR"},
        {"invoice_id": "A3", "invoice_ts": f"{last_day} 11:00", "quantity": 1,
         "unit_price": 30.0},
    ]


# ----------------------------------------------------------------- relative periods
def test_a_relative_period_is_computed_when_opened_and_moves_with_the_data(
        session, people, warehouse):
    view = _save(session, people, filters="country=GB&start=2011-03-01&end=2011-03-31",
                 period="last_90")
    assert (view.filters, view.period) == ("country=GB", "last_90")  # the dates are not kept
    publish_lines(warehouse, _lines("2011-12-09"))
    page, filters = views.resolve(view, warehouse)
    # 2011-12-09 and the 89 days before: 22 (Sep 11…30, in Sep) + 31 + 30 + 9 = 90 days
    assert page == "/sales"
    assert (filters.start, filters.end) == (dt.date(2011, 9, 11), dt.date(2011, 12, 9))
    assert filters.countries == ("GB",)
    publish_lines(warehouse, _lines("2011-12-20"))  # a later load: the view moves with it
    _page, moved = views.resolve(view, warehouse)
    assert (moved.start, moved.end) == (dt.date(2011, 9, 22), dt.date(2011, 12, 20))
    assert views.resolved_path(view, warehouse) == (
        "/sales?start=2011-09-22&end=2011-12-20&country=GB")


def test_a_run_following_a_view_gets_its_dates_of_now_while_its_owner_may_open_it(
        session, people, duckdb_warehouse):
    view = _save(session, people, filters="country=GB", period="last_7", sharing="users",
                 shared_with=[people["other"]])
    publish_lines(duckdb_warehouse, _lines("2011-12-09"))
    other = _user(session, people, "other")
    assert views.query_for_run(session, other, view.id, duckdb_warehouse) == (
        "start=2011-12-03&end=2011-12-09&country=GB")
    views.update_view(session, _user(session, people, "owner"), view.id,
                      {"sharing": "private"})
    with pytest.raises(ViewNotFound):
        views.query_for_run(session, other, view.id, duckdb_warehouse)


def test_fixed_dates_stay_fixed_and_no_data_leaves_the_pages_default(
        session, people, duckdb_warehouse):
    fixed = _save(session, people, name="March", filters="start=2011-03-01&end=2011-03-31")
    relative = _save(session, people, name="Quarter", period="quarter_to_date")
    assert views.resolve(relative, duckdb_warehouse)[1] == Filters()  # no data version yet
    publish_lines(duckdb_warehouse, _lines("2011-12-09"))
    assert views.resolved_path(fixed, duckdb_warehouse) == (
        "/sales?start=2011-03-01&end=2011-03-31")
    assert views.resolved_path(relative, duckdb_warehouse) == (
        "/sales?start=2011-10-01&end=2011-12-09")


def test_a_shared_view_opened_by_a_scoped_user_shows_only_their_scope(
        session, people, duckdb_warehouse):
    view = _save(session, people, filters="country=GB", period="all_time", sharing="everyone")
    publish_lines(duckdb_warehouse, _lines("2011-12-09"))
    fr_user = _user(session, people, "fr")
    _page, filters = views.resolve(views.get_view(session, fr_user, view.id), duckdb_warehouse)
    everything = kpis.kpi_summary(duckdb_warehouse, filters, Scope())
    theirs = kpis.kpi_summary(duckdb_warehouse, filters, Scope.of(fr_user.countries))
    # GB lines: 10 on 2011-01-04 and 30 on 2011-12-09; the FR user's scope holds no GB line
    assert everything["revenue"].current == pytest.approx(40.0)
    assert not theirs["revenue"].current


# ----------------------------------------------------------------- sharing and access
def test_a_private_view_is_its_owners_alone(session, people):
    view = _save(session, people)
    owner, other, admin = (_user(session, people, n) for n in ("owner", "other", "admin"))
    assert [v.id for v in views.list_views(session, owner)] == [view.id]
    assert views.list_views(session, other) == []
    assert views.list_views(session, admin) == []  # an admin does not browse private views
    with pytest.raises(ViewNotFound):
        views.get_view(session, other, view.id)
    with pytest.raises(ViewNotFound):
        views.update_view(session, other, view.id, {"name": "Mine"})
    with pytest.raises(ViewNotFound):
        views.delete_view(session, other, view.id)
    assert views.get_view(session, admin, view.id).id == view.id
    views.delete_view(session, admin, view.id)  # an admin may remove anybody's
    assert session.get(SavedView, view.id) is None


def test_everyone_and_chosen_users_may_open_but_not_change(session, people):
    chosen = _save(session, people, name="For the viewer", sharing="users",
                   shared_with=[people["viewer"]])
    public = _save(session, people, name="For all", sharing="everyone")
    viewer, other = _user(session, people, "viewer"), _user(session, people, "other")
    assert [v.name for v in views.list_views(session, viewer)] == ["For all", "For the viewer"]
    assert [v.name for v in views.list_views(session, other)] == ["For all"]
    with pytest.raises(ViewNotFound):
        views.get_view(session, other, chosen.id)
    with pytest.raises(ViewAccessDenied, match="owner or an admin"):
        views.update_view(session, viewer, chosen.id, {"name": "Taken"})
    with pytest.raises(ViewAccessDenied):
        views.delete_view(session, other, public.id)
    mine = _save(session, people, who="viewer", name="Mine")
    assert [v.name for v in views.list_views(session, viewer)] == [
        "Mine", "For all", "For the viewer"]  # own first, then shared
    views.update_view(session, _user(session, people, "owner"), chosen.id,
                      {"sharing": "private"})
    assert [v.id for v in views.list_views(session, viewer)] == [mine.id, public.id]


def test_sharing_needs_the_analyst_role_and_active_users(session, people):
    with pytest.raises(ViewAccessDenied, match="analyst role"):
        _save(session, people, who="viewer", sharing="everyone")
    viewer_view = _save(session, people, who="viewer")
    with pytest.raises(ViewAccessDenied, match="analyst role"):
        views.update_view(session, _user(session, people, "viewer"), viewer_view.id,
                          {"sharing": "users", "shared_with": [people["owner"]]})
    with pytest.raises(ViewError, match=rf"shared_with: no active user {people['gone']}"):
        _save(session, people, sharing="users", shared_with=[people["gone"]])
    with pytest.raises(ViewError, match="shared_with: no active user 9999"):
        _save(session, people, sharing="users", shared_with=[9999])
    with pytest.raises(ViewError, match="needs their ids"):
        _save(session, people, sharing="users")
    everyone = _save(session, people, sharing="everyone", shared_with=[people["viewer"]])
    assert everyone.shared_with == []  # only "users" keeps a list


def test_names_filters_and_periods_are_checked(session, people):
    _save(session, people)
    with pytest.raises(ViewError, match="already have a view named 'UK wholesale'"):
        _save(session, people)
    _save(session, people, who="other")  # another owner may use the name
    with pytest.raises(ViewError, match="filters: start must be a date written YYYY-MM-DD"):
        _save(session, people, name="Bad", filters="start=yesterday")
    with pytest.raises(ViewError, match="min_price .* is above max_price"):
        _save(session, people, name="Bad", filters="min_price=9&max_price=1")
    with pytest.raises(ViewError, match="period: unknown period 'fortnight'"):
        _save(session, people, name="Bad", period="fortnight")
    with pytest.raises(ViewError, match="page: give a page path"):
        _save(session, people, name="Bad", page="https://evil.example/")
    with pytest.raises(ViewError, match="name"):
        _save(session, people, name="   ")
    second = _save(session, people, name="Second")
    with pytest.raises(ViewError, match="already have a view named"):
        views.update_view(session, _user(session, people, "owner"), second.id,
                          {"name": "UK wholesale"})


def test_a_racing_save_of_a_taken_name_meets_the_unique_key(session, people, monkeypatch):
    first = _save(session, people, name="Raced")
    # the race: another request saved "Raced" after this one's check
    monkeypatch.setattr(views, "_check_name", lambda *args, **kwargs: None)
    with pytest.raises(ViewError, match="already have a view named 'Raced'"):
        _save(session, people, name="Raced")
    with pytest.raises(ViewError, match="already have a view named 'Raced'"):
        views.update_view(session, _user(session, people, "owner"),
                          _save(session, people, name="Other").id, {"name": "Raced"})
    after = _save(session, people, name="After")  # the transaction goes on
    assert {v.name for v in session.query(SavedView)} == {"Raced", "Other", "After"}
    assert first.id != after.id


def test_update_resaves_filters_and_keeps_what_it_is_not_given(session, people):
    owner = _user(session, people, "owner")
    view = _save(session, people, filters="country=GB", period="last_90")
    views.update_view(session, owner, view.id, {"filters": "country=FR&channel=web"})
    assert (view.filters, view.period) == ("country=FR&channel=web", "last_90")
    views.update_view(session, owner, view.id,
                      {"filters": "start=2011-01-01&end=2011-01-31", "period": None})
    assert (view.filters, view.period) == ("start=2011-01-01&end=2011-01-31", None)
    views.update_view(session, owner, view.id, {"name": "January", "page": "/products"})
    assert (view.name, view.page) == ("January", "/products")


# ----------------------------------------------------------------- default view
def test_the_default_view_is_one_the_user_may_open(session, people):
    owner, viewer = _user(session, people, "owner"), _user(session, people, "viewer")
    private = _save(session, people)
    shared = _save(session, people, name="Shared", sharing="users",
                   shared_with=[people["viewer"]])
    assert views.default_for(session, viewer) is None
    with pytest.raises(ViewNotFound):
        views.set_default(session, viewer, private.id)
    views.set_default(session, viewer, shared.id)
    assert views.default_for(session, viewer).id == shared.id
    views.update_view(session, owner, shared.id, {"sharing": "private"})
    assert views.default_for(session, viewer) is None  # no longer shared: not opened
    views.set_default(session, owner, private.id)
    views.set_default(session, owner, None)
    assert views.default_for(session, owner) is None
    views.set_default(session, owner, private.id)
    views.delete_view(session, owner, private.id)
    session.expire_all()
    assert views.default_for(session, owner) is None
