"""A dashboard scheduled as a PDF: its content built in core (no webapp) on the tiny shop of
``tests.workers.support`` with the numbers worked out by hand, who may schedule it for whom,
a run through the schedule runner to the outbox with each recipient's own scoped numbers in
the PDF, and a dashboard unshared or deleted later.

The tiny shop, March 2011 (``TINY_PERIOD``): net revenue all 28 (FR 13, DE 15), orders 3
(FR 2: A1 A3, DE 1: A2). The previous period, 29 Jan – 28 Feb, has B1 only: FR 10, 1 order.
So France's revenue changes by +3 (+30 %), its orders by +1 (+100 %)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from analytics.filters import Scope
from analytics.warehouse import Warehouse
from core import annotations, dashboard_content, dashboards, db, mail, panels, schedules
from core.reports.dashboard_pdf import render_dashboard_pdf
from core.orm import Dashboard, Job, Notification, ReportSchedule, User
from core.schedules import ScheduleAccessDenied, ScheduleError
from tests.workers.support import (TINY_PERIOD, add_user, publish_tiny_shop, run_job_here,
                                   settings_for, worker_environment)

RUN_AT = dt.datetime(2024, 5, 16, 5, 0)  # 06:00 in London (BST)
TILES = ("overview-kpi-revenue", "overview-kpi-orders", "geography-map")


@pytest.fixture
def settings(tmp_path):
    settings = settings_for(worker_environment(tmp_path / "home"))
    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    warehouse.dispose()
    return settings


@pytest.fixture
def people(settings):
    return {"admin": add_user(settings, "admin@example.com", "admin"),
            "french": add_user(settings, "french@example.com", "analyst", ["FR"]),
            "german": add_user(settings, "german@example.com", "viewer", ["DE"])}


def _board(settings, people, sharing="private", shared_with=()) -> int:
    with db.session_scope(settings.database_url) as session:
        admin = session.get(User, people["admin"])
        board = dashboards.create_dashboard(session, admin, {
            "name": "Morning", "filters": TINY_PERIOD, "sharing": sharing,
            "shared_with": [people[name] for name in shared_with]})
        for panel in TILES:
            dashboards.add_tile(session, admin, board.id, panel)
        return board.id


def _schedule(session, actor: User, dashboard_id: int, recipients: list[str], **extra):
    return schedules.create_schedule(session, actor, {
        "name": "Morning PDF", "frequency": "daily", "time_of_day": "06:00",
        "timezone": "Europe/London", "dashboard_id": dashboard_id,
        "recipients": recipients, **extra}, now=RUN_AT - dt.timedelta(hours=1))


def _pdf_text(path) -> str:
    import pypdf
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


# ---------------------------------------------------------------------- content in core
def test_the_content_of_a_dashboard_is_built_in_core_under_the_readers_scope(settings,
                                                                              people):
    board_id = _board(settings, people)
    warehouse = Warehouse(settings.warehouse_url)
    try:
        with db.session_scope(settings.database_url) as session:
            board = session.get(Dashboard, board_id)
            admin = session.get(User, people["admin"])
            everything = dashboard_content.print_content(board, admin, Scope(), warehouse)
            france = dashboard_content.print_content(board, admin, Scope.of(["FR"]),
                                                     warehouse)
    finally:
        warehouse.dispose()
    assert [tile.title for tile in france.tiles] == ["Revenue (net)", "Orders",
                                                     "Revenue by country"]
    revenue, orders, countries = everything.tiles
    assert (revenue.value, orders.value) == ("£28.00", "3")
    assert countries.rows == [["Germany", "£15.00", "1"], ["France", "£13.00", "2"]]
    revenue, orders, countries = france.tiles
    assert (revenue.value, orders.value) == ("£13.00", "2")
    assert revenue.change.startswith("+£3.00") and "+30" in revenue.change
    assert orders.change.startswith("+1") and "+100" in orders.change
    assert countries.rows == [["France", "£13.00", "2"]]
    assert france.scope == "FR"
    assert france.view == "1–31 Mar 2011"   # the dashboard's dates, in words


def test_the_pdf_lists_and_marks_the_notes_its_reader_may_see(settings, people, tmp_path):
    """A note by the French analyst (scope FR) shows to the French reader and to an admin,
    not to the German one; a note outside March shows to nobody; the time chart marks it."""
    board_id = _board(settings, people)
    with db.session_scope(settings.database_url) as session:
        french = session.get(User, people["french"])
        annotations.create(session, french, dt.date(2011, 3, 10), None, "Price change")
        annotations.create(session, french, dt.date(2011, 5, 1), None, "Outside March")
        dashboards.add_tile(session, session.get(User, people["admin"]), board_id,
                            "overview-trend")
    warehouse = Warehouse(settings.warehouse_url)
    try:
        with db.session_scope(settings.database_url) as session:
            board, admin = session.get(Dashboard, board_id), session.get(User, people["admin"])
            printed = {name: dashboard_content.print_content(board, admin, scope, warehouse)
                       for name, scope in (("all", Scope()), ("FR", Scope.of(["FR"])),
                                           ("DE", Scope.of(["DE"])))}
    finally:
        warehouse.dispose()
    assert printed["all"].notes == printed["FR"].notes == [("10 Mar 2011", "Price change")]
    assert printed["DE"].notes == []
    trend = printed["FR"].tiles[-1]
    assert [note.text for note in trend.marks] == ["Price change"]
    assert all(not tile.marks for tile in printed["FR"].tiles[:-1])   # not on KPIs, maps
    path = render_dashboard_pdf(printed["FR"], tmp_path / "board.pdf")
    text = " ".join(_pdf_text(path).split())
    assert "Notes 10 Mar 2011: Price change" in text and "Outside March" not in text


def test_every_chart_a_panel_draws_has_its_pdf_traces(settings):
    """Each chart panel names a figure builder the PDF can redraw (``chart_traces``)."""
    warehouse = Warehouse(settings.warehouse_url)
    try:
        view = panels.make_view(warehouse, TINY_PERIOD, Scope())
        drawn = 0
        for panel in panels.PANELS.values():
            content = panel.content(view)
            if content.chart is None:
                continue
            traces, _barmode, _money = dashboard_content.chart_traces(content.chart)
            assert traces and any(t.x or t.y or t.z or t.values for t in traces), panel.id
            drawn += 1
    finally:
        warehouse.dispose()
    assert drawn >= 5


def test_a_tile_above_the_readers_role_says_so(settings, people, monkeypatch):
    model = panels.Panel("test-analyst-only", "Churn model", "kpi", "customers", "analyst",
                         lambda view: panels.Content("kpi", kpi={"value": "1", "change": ""}))
    monkeypatch.setitem(panels.PANELS, model.id, model)
    monkeypatch.setitem(dashboards._PANELS, model.id,
                        dashboards.PanelRule(model.id, model.title, model.role))
    board_id = _board(settings, people, sharing="everyone")
    warehouse = Warehouse(settings.warehouse_url)
    try:
        with db.session_scope(settings.database_url) as session:
            dashboards.add_tile(session, session.get(User, people["admin"]), board_id,
                                model.id)
            board = session.get(Dashboard, board_id)
            german = session.get(User, people["german"])
            printed = dashboard_content.print_content(board, german, Scope.of(["DE"]),
                                                      warehouse)
    finally:
        warehouse.dispose()
    assert printed.tiles[-1].message == "This tile needs the analyst role."
    assert printed.tiles[0].value == "£15.00"


# ---------------------------------------------------------------------- who may schedule
def test_every_recipient_must_be_able_to_open_the_dashboard(settings, people):
    board_id = _board(settings, people, sharing="users", shared_with=["french"])
    with db.session_scope(settings.database_url) as session:
        admin = session.get(User, people["admin"])
        with pytest.raises(ScheduleAccessDenied, match="german@example.com cannot open the "
                                                       "dashboard “Morning”"):
            _schedule(session, admin, board_id, ["french@example.com", "german@example.com"])
        with pytest.raises(ScheduleError, match="no dashboard 999"):
            _schedule(session, admin, 999, ["french@example.com"])
        with pytest.raises(ScheduleError, match="sent as a PDF, not as Excel"):
            _schedule(session, admin, board_id, ["french@example.com"], format="xlsx")
        with pytest.raises(ScheduleError, match="keeps its own filters"):
            _schedule(session, admin, board_id, ["french@example.com"], filters="country=FR")
        with pytest.raises(ScheduleError, match="users of Shoplens only"):
            _schedule(session, admin, board_id, ["french@example.com"],
                      external_recipients=["agency@partner.example"], external_scope="all")
        # an analyst it is shared with may schedule it for themselves
        french = session.get(User, people["french"])
        made = _schedule(session, french, board_id, ["french@example.com"])
        assert made.dashboard_id == board_id and made.owner_id == people["french"]
        # a viewer cannot create report schedules at all (the existing rule)
        german = session.get(User, people["german"])
        with pytest.raises(ScheduleAccessDenied, match="analyst or admin role"):
            _schedule(session, german, board_id, ["german@example.com"])


def test_an_analyst_cannot_schedule_a_dashboard_they_cannot_open(settings, people):
    board_id = _board(settings, people)  # private: the admin's
    with db.session_scope(settings.database_url) as session:
        french = session.get(User, people["french"])
        with pytest.raises(ScheduleError, match="no dashboard .* the schedule's owner may"):
            _schedule(session, french, board_id, ["french@example.com"])


# ---------------------------------------------------------------------- a real run
def test_a_run_mails_each_recipient_the_dashboard_with_their_own_numbers(settings, people):
    board_id = _board(settings, people, sharing="everyone")
    with db.session_scope(settings.database_url) as session:
        schedule_id = _schedule(session, session.get(User, people["admin"]), board_id,
                                ["admin@example.com", "french@example.com",
                                 "german@example.com"]).id
    job_ids = schedules.run_due_schedules(settings, now=RUN_AT)
    assert len(job_ids) == 3
    done = {}
    for job_id in job_ids:
        job = run_job_here(settings, job_id)
        assert (job.kind, job.status) == ("dashboard_report", "done"), job.error
        done[job.user_id] = job
    expected = {"admin": ("£28.00", None), "french": ("£13.00", "£28.00"),
                "german": ("£15.00", "£28.00")}
    for name, (revenue, absent) in expected.items():
        job = done[people[name]]
        text = _pdf_text(job.result_path)
        for title in ("Morning", "Revenue (net)", "Orders", "Revenue by country"):
            assert title in text, (name, title)
        assert revenue in text, name
        if absent:
            assert absent not in text, name  # their own scope's numbers only
        assert job.result["dashboard"] == "Morning" and job.schedule_id == schedule_id
    with db.session_scope(settings.database_url) as session:
        # the bell of the German viewer (no Reports page) leads to the Dashboards page
        note = session.scalars(sa.select(Notification).where(
            Notification.user_id == people["german"])).one()
        assert (note.title, note.link) == ("Dashboard PDF ready", "/dashboards")
    # the delivery ledger sends it like any schedule's report: to the outbox here
    with db.session_scope(settings.database_url) as session:
        french_job = session.get(Job, done[people["french"]].id)
        delivery_id = mail.create_delivery(session, french_job, "french@example.com").id
    sent = mail.deliver(settings, delivery_id)
    assert sent.status == "sent"
    [eml] = settings.outbox.glob("*.eml")
    message = mail.read_eml(eml)
    assert message["Subject"] == "Morning PDF (dashboard “Morning”): 1–31 Mar 2011"
    assert "Here is your Shoplens dashboard “Morning” (PDF)." in \
        message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename().endswith(".pdf")


def test_a_dashboard_unshared_or_deleted_later_fails_the_run_with_the_reason(settings,
                                                                             people):
    board_id = _board(settings, people, sharing="everyone")
    with db.session_scope(settings.database_url) as session:
        admin = session.get(User, people["admin"])
        schedule_id = _schedule(session, admin, board_id,
                                ["french@example.com", "german@example.com"]).id
        dashboards.update_dashboard(session, admin, board_id,
                                    {"sharing": "users", "shared_with": [people["french"]]})
        problem = schedules.schedule_to_dict(session.get(ReportSchedule, schedule_id))
        assert problem["dashboard_name"] == "Morning"
        assert "no longer shared with german@example.com" in problem["dashboard_problem"]
        made = schedules.send_now(session, admin, schedule_id, now=RUN_AT)
        job_of = {job.user_id: job.id for job in made}
    french, german = run_job_here(settings, job_of[people["french"]]), \
        run_job_here(settings, job_of[people["german"]])
    assert french.status == "done"
    assert german.status == "failed"
    assert german.error == ("The dashboard “Morning” is no longer shared with "
                            "german@example.com; share it again, or remove them from the "
                            "schedule's recipients.")

    # a run queued before the dashboard was deleted fails saying so; the schedule goes
    # with the dashboard, its past runs stay
    with db.session_scope(settings.database_url) as session:
        admin = session.get(User, people["admin"])
        [queued] = schedules.send_now(session, admin, schedule_id,
                                      now=RUN_AT + dt.timedelta(minutes=1))[:1]
        queued_id = queued.id
        assert dashboards.delete_dashboard(session, admin, board_id) == 1
    with db.session_scope(settings.database_url) as session:
        assert session.get(ReportSchedule, schedule_id) is None
        kept = session.scalars(sa.select(Job).where(Job.kind == "dashboard_report")).all()
        assert len(kept) == 4 and all(job.schedule_id is None for job in kept)
    failed = run_job_here(settings, queued_id)
    assert failed.status == "failed"
    assert failed.error == f"The dashboard {board_id} was deleted; it can no longer be sent."
    assert Path(french.result_path).is_file()
