"""``flask schedules …`` through Flask's CLI runner: create, list, pause, resume, send now
and delete, acting as the oldest admin or ``--as`` a user; refusals exit 1 with the engine's
message."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from core import db
from core.orm import Job, ReportSchedule


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, ok: bool = True):
        result = runner.invoke(args=["schedules", *args])
        assert (result.exit_code == 0) == ok, result.output
        return result.output
    return run


def _created_id(output: str) -> int:
    return int(re.search(r"Created:\s+(\d+)", output).group(1))


def _schedule(app, schedule_id: int) -> ReportSchedule | None:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        schedule = session.get(ReportSchedule, schedule_id)
        if schedule is not None:
            session.expunge(schedule)
        return schedule


def test_create_list_pause_resume_send_now_delete(app, cli):
    out = cli("create", "Friday lighting", "--to", "gb@example.com", "--to",
              "admin@example.com", "--format", "xlsx", "--every", "weekly", "--on", "fri",
              "--at", "18:15", "--filters", "country=GB")
    assert "every Friday at 18:15 UTC" in out and "owner: admin@example.com" in out
    schedule_id = _created_id(out)
    made = _schedule(app, schedule_id)
    assert made.recipients == ["gb@example.com", "admin@example.com"]
    assert made.weekday == 4 and made.next_run_at.weekday() == 4

    listing = cli("list")
    assert "Friday lighting" in listing and "Mail:" in listing
    assert str(app.extensions["shoplens.settings"].outbox) in listing

    assert "paused" in cli("pause", str(schedule_id))
    assert _schedule(app, schedule_id).next_run_at is None
    assert "active" in cli("resume", str(schedule_id))
    assert _schedule(app, schedule_id).next_run_at is not None

    sent = cli("send-now", str(schedule_id))
    assert "Started 2 report job(s)" in sent
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        found = session.scalars(sa.select(Job).where(Job.schedule_id == schedule_id)).all()
        assert sorted((job.user.email, str(job.scope)) for job in found) == [
            ("admin@example.com", "None"), ("gb@example.com", "['GB']")]
    assert "gb@example.com" in cli("list", "--runs")

    assert "Deleted schedule" in cli("delete", str(schedule_id))
    assert _schedule(app, schedule_id) is None
    assert "no report schedule" in cli("delete", str(schedule_id), ok=False)


def test_monthly_and_daily(app, cli):
    monthly = _created_id(cli("create", "Month", "--every", "monthly", "--on", "15"))
    assert _schedule(app, monthly).day_of_month == 15
    daily = cli("create", "Day", "--every", "daily", "--at", "06:00")
    assert "every day at 06:00 UTC" in daily


@pytest.mark.parametrize("args, message", [
    (["--every", "hourly"], "frequency"),
    (["--at", "7pm"], "time_of_day"),
    (["--every", "weekly", "--on", "someday"], "weekday"),
    (["--every", "monthly", "--on", "31"], "day_of_month"),
    (["--to", "nobody@example.com"], "nobody@example.com"),
    (["--to", "fr@example.com", "--filters", "country=GB"], "fr@example.com"),
    (["--as", "viewer@example.com"], "analyst"),
    (["--as", "ghost@example.com"], "ghost@example.com"),
    (["--as", "analyst@example.com", "--to", "viewer@example.com"], "themselves"),
])
def test_bad_input_exits_1_with_a_message(cli, args, message):
    out = cli("create", "Bad", *args, ok=False)
    assert "Error:" in out and message in out


def test_an_analyst_acts_on_their_own_schedules_only(app, cli):
    mine = _created_id(cli("create", "Mine", "--as", "analyst@example.com"))
    theirs = _created_id(cli("create", "Theirs", "--as", "gb@example.com"))
    listing = cli("list", "--as", "analyst@example.com")
    assert "Mine" in listing and "Theirs" not in listing
    assert "another user" in cli("pause", str(theirs), "--as", "analyst@example.com",
                                 ok=False)
    assert "paused" in cli("pause", str(mine), "--as", "analyst@example.com")


def test_before_any_data_a_country_outside_a_recipients_scope_is_still_refused(tmp_path):
    from core import users
    from core.settings import load_settings
    from webapp import create_app
    settings = load_settings({"SHOPLENS_HOME": str(tmp_path / "home")})
    app = create_app({"TESTING": True}, settings=settings)
    try:
        with db.session_scope(settings.database_url) as session:
            users.create_user(session, "cli", "boss@example.com", role="admin",
                              password="a long enough passphrase")
            users.create_user(session, "cli", "fr@example.com", role="viewer",
                              countries="FR", password="a long enough passphrase")
        runner = app.test_cli_runner()
        refused = runner.invoke(args=["schedules", "create", "GB to FR", "--to",
                                      "fr@example.com", "--filters", "country=United Kingdom"])
        assert refused.exit_code == 1 and "fr@example.com" in refused.output
        assert "United Kingdom" in refused.output
        ok = runner.invoke(args=["schedules", "create", "FR to FR", "--to", "fr@example.com",
                                 "--filters", "country=France"])
        assert ok.exit_code == 0, ok.output
    finally:
        app.extensions["shoplens.warehouse"].dispose()


# ---------------------------------------------------------------------- issue 13, part 2
def test_time_zone_formats_and_external_recipients(app, cli):
    out = cli("create", "Agency", "--format", "both", "--timezone", "Europe/London",
              "--every", "daily", "--at", "07:00", "--external", "Agency@Partner.example",
              "--external", "ops@partner.example", "--external-scope", "FR,DE")
    assert "every day at 07:00 Europe/London" in out
    assert "external: agency@partner.example, ops@partner.example (External recipients " \
           "see: DE, FR)" in out and "to: —" in out
    made = _schedule(app, _created_id(out))
    assert (made.format, made.timezone, made.external_scope) == (
        "both", "Europe/London", ["DE", "FR"])
    everything = _schedule(app, _created_id(cli(
        "create", "All", "--external", "x@partner.example", "--external-scope", "all")))
    assert everything.external_recipients == ["x@partner.example"]
    assert everything.external_scope is None
    assert "Started 2 report job(s)" in cli("send-now", str(made.id))


@pytest.mark.parametrize("args, message", [
    (["--timezone", "Mars/Base"], "timezone: unknown time zone 'Mars/Base'"),
    (["--external", "x@partner.example"], "external_scope"),
    (["--external", "not-an-address", "--external-scope", "all"], "not an e-mail address"),
    (["--external", "x@partner.example", "--external-scope", "FR", "--filters",
      "country=GB"], "GB"),
    (["--as", "analyst@example.com", "--external", "x@partner.example",
      "--external-scope", "all"], "only admins can send reports outside Shoplens"),
    (["--format", "docx"], "docx"),
])
def test_bad_new_fields_exit_1_with_a_message(cli, args, message):
    out = cli("create", "Bad", *args, ok=False)
    assert message in out


def test_a_viewer_switches_their_digest_with_the_cli(app, cli):
    assert cli("digest", "off", "--as", "viewer@example.com") == "Weekly digest off.\n"
    on = cli("digest", "on", "--as", "viewer@example.com", "--timezone", "Asia/Tokyo")
    assert "Weekly digest on:" in on and "every Monday at 07:00 Asia/Tokyo" in on
    assert "[DIGEST, active]" in on
    off = cli("digest", "off", "--as", "viewer@example.com")
    assert "[DIGEST, paused]" in off
    assert "timezone" in cli("digest", "on", "--as", "viewer@example.com", "--timezone",
                             "Nowhere", ok=False)
    # the viewer still cannot make a report schedule
    assert "analyst" in cli("create", "Report", "--as", "viewer@example.com", ok=False)


def test_create_following_a_saved_view(app, cli):
    from core import views
    from core.orm import User
    import sqlalchemy as sa

    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        admin = session.scalars(sa.select(User).where(User.email == "admin@example.com")).one()
        view_id = views.create_view(session, admin, {"name": "UK wholesale", "page": "/",
                                                     "filters": "country=GB",
                                                     "period": "last_90"}).id
    schedule_id = _created_id(cli("create", "Follows", "--view", str(view_id)))
    assert _schedule(app, schedule_id).saved_view_id == view_id
    out = cli("create", "Both", "--view", str(view_id), "--filters", "country=GB", ok=False)
    assert "not both" in out
    assert "no saved view 999" in cli("create", "Ghost", "--view", "999", ok=False)


def test_create_a_schedule_sending_a_dashboard(app, cli):
    """``--dashboard ID``: the dashboard as a PDF; a recipient who cannot open it is
    refused by name, and the listing shows a recipient it was unshared from later."""
    from core import dashboards
    from core.orm import User

    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        admin = session.scalars(sa.select(User).where(User.email == "admin@example.com")).one()
        gb = session.scalars(sa.select(User).where(User.email == "gb@example.com")).one()
        board = dashboards.create_dashboard(session, admin, {
            "name": "Lighting desk", "sharing": "users", "shared_with": [gb.id]})
        board_id = board.id
    refused = cli("create", "Desk", "--dashboard", str(board_id), "--to", "fr@example.com",
                  ok=False)
    assert "fr@example.com cannot open the dashboard “Lighting desk”" in refused
    out = cli("create", "Desk", "--dashboard", str(board_id), "--to", "gb@example.com",
              "--every", "daily", "--at", "06:30")
    made = _schedule(app, _created_id(out))
    assert (made.dashboard_id, made.format, made.recipients) == (board_id, "pdf",
                                                                 ["gb@example.com"])
    assert f"dashboard: {board_id}" in out and "PROBLEM" not in out
    with db.session_scope(settings.database_url) as session:
        admin = session.scalars(sa.select(User).where(User.email == "admin@example.com")).one()
        dashboards.update_dashboard(session, admin, board_id, {"sharing": "private"})
    assert "PROBLEM: The dashboard “Lighting desk” is no longer shared with " \
           "gb@example.com" in cli("list")
