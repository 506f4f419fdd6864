"""The Reports page's schedule callbacks through the real Dash endpoint: an analyst creates a
schedule of the page's filters for themselves only, acts on their own schedules only (the
user is checked server-side, whatever id the browser sends), a viewer is refused by the
guard, and the list shows the next run and the newest deliveries with their state."""
from __future__ import annotations

import json

import sqlalchemy as sa

from core import db
from core.orm import Delivery, Job, ReportSchedule
from tests.webapp.test_data_upload import text_of

FORM = [("reports-sched-name", "value"), ("reports-sched-format", "value"),
        ("reports-sched-frequency", "value"), ("reports-sched-weekday", "value"),
        ("reports-sched-day", "value"), ("reports-sched-time", "value"),
        ("reports-sched-recipients", "value"), ("shell-url", "search"),
        ("reports-sched-keep-dates", "value"), ("reports-sched-timezone", "value"),
        ("reports-sched-external", "value"), ("reports-sched-external-scope", "value"),
        ("reports-sched-view", "value"), ("reports-sched-what", "value")]


def create(client, *, name="Weekly GB", recipients,
           search="?start=2011-03-01&end=2011-03-03&country=GB", frequency="weekly",
           time="08:00", keep_dates=False, timezone="UTC", external=None, external_scope=None,
           format="xlsx", view=None, what="report"):
    values = [name, format, frequency, "2", 1, time, recipients, search, keep_dates,
              timezone, external, external_scope, view, what]
    return client.post("/_dash-update-component", json={
        "output": "reports-sched-status.children",
        "outputs": {"id": "reports-sched-status", "property": "children"},
        "inputs": [{"id": "reports-sched-create", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["reports-sched-create.n_clicks"],
        "state": [{"id": id_, "property": prop, "value": value}
                  for (id_, prop), value in zip(FORM, values)]})


def act(client, action: str, schedule_id: int):
    if action == "delete":
        trigger = {"id": schedule_id, "type": "reports-sched-delete"}
        inputs = [[], [{"id": trigger, "property": "submit_n_clicks", "value": 1}]]
        changed = json.dumps(trigger, sort_keys=True, separators=(",", ":")) + \
            ".submit_n_clicks"
    else:
        trigger = {"action": action, "id": schedule_id, "type": "reports-sched-action"}
        inputs = [[{"id": trigger, "property": "n_clicks", "value": 1}], []]
        changed = json.dumps(trigger, sort_keys=True, separators=(",", ":")) + ".n_clicks"
    return client.post("/_dash-update-component", json={
        "output": "reports-sched-action-status.children",
        "outputs": {"id": "reports-sched-action-status", "property": "children"},
        "inputs": inputs, "changedPropIds": [changed]})


def listing(client) -> str:
    response = client.post("/_dash-update-component", json={
        "output": "reports-schedules.children",
        "outputs": {"id": "reports-schedules", "property": "children"},
        "inputs": [{"id": "shell-url", "property": "pathname", "value": "/reports"},
                   {"id": "reports-sched-status", "property": "children", "value": None},
                   {"id": "reports-sched-action-status", "property": "children",
                    "value": None},
                   {"id": "reports-digest-status", "property": "children", "value": None}],
        "changedPropIds": ["shell-url.pathname"]})
    assert response.status_code == 200, response.text
    return json.dumps(response.json["response"]["reports-schedules"]["children"])


def answer(response, output: str) -> str:
    assert response.status_code == 200, response.text
    assert "sideUpdate" not in response.json
    return text_of(response.json["response"][output]["children"])


def _rows(app, name: str) -> list[ReportSchedule]:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        found = session.scalars(sa.select(ReportSchedule).where(ReportSchedule.name == name)
                                .order_by(ReportSchedule.id)).all()
        for row in found:
            session.expunge(row)
        return list(found)


def test_an_analyst_schedules_the_pages_filters_for_themselves(app, signed_in):
    analyst = signed_in("gb@example.com")
    status = answer(create(analyst, name="GB weekly", recipients=["gb@example.com"]),
                    "reports-sched-status")
    assert status.startswith("Created") and "every Wednesday at 08:00 UTC" in status
    (row,) = _rows(app, "GB weekly")
    assert row.filters == "country=GB" and row.recipients == ["gb@example.com"]
    assert row.format == "xlsx" and row.next_run_at.weekday() == 2

    # a preset period is fixed dates in the URL: kept only when asked, or a weekly report
    # would show the same days forever
    answer(create(analyst, name="GB fixed", recipients=["gb@example.com"], keep_dates=True),
           "reports-sched-status")
    assert _rows(app, "GB fixed")[0].filters == "start=2011-03-01&end=2011-03-03&country=GB"

    others = answer(create(analyst, name="To others", recipients=["viewer@example.com"]),
                    "reports-sched-status")
    assert "Not created" in others and "themselves" in others
    bad = answer(create(analyst, name="Bad time", recipients=["gb@example.com"],
                        time="25:00"), "reports-sched-status")
    assert "Not created" in bad and "time_of_day" in bad
    assert _rows(app, "To others") == [] and _rows(app, "Bad time") == []


def test_a_filter_beyond_a_recipients_scope_is_refused(app, signed_in):
    admin = signed_in("admin@example.com")
    refused = answer(create(admin, name="FR gets GB", recipients=["fr@example.com"]),
                     "reports-sched-status")
    assert "Not created" in refused and "fr@example.com" in refused
    assert _rows(app, "FR gets GB") == []


def test_actions_check_the_user_server_side(app, signed_in):
    analyst = signed_in("analyst@example.com")
    answer(create(analyst, name="Analyst's", recipients=["analyst@example.com"],
                  search=""), "reports-sched-status")
    (mine,) = _rows(app, "Analyst's")
    other = signed_in("gb@example.com")
    refused = answer(act(other, "pause", mine.id), "reports-sched-action-status")
    assert "another user" in refused
    assert answer(act(other, "delete", mine.id), "reports-sched-action-status") == refused
    assert _rows(app, "Analyst's")[0].is_active

    assert answer(act(analyst, "pause", mine.id), "reports-sched-action-status") == \
        "Paused “Analyst's”."
    assert _rows(app, "Analyst's")[0].next_run_at is None
    assert "Resumed" in answer(act(analyst, "resume", mine.id), "reports-sched-action-status")

    sent = answer(act(analyst, "send", mine.id), "reports-sched-action-status")
    assert "1 report(s)" in sent
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        job = session.scalars(sa.select(Job).where(Job.schedule_id == mine.id)).one()
        session.add(Delivery(job_id=job.id, recipient="analyst@example.com", status="failed",
                             attempts=1, last_error="ConnectionRefusedError: no relay"))
    shown = listing(analyst)
    assert "Analyst's" in shown and "next run" in shown
    assert "failed" in shown and "ConnectionRefusedError: no relay" in shown
    assert "GB weekly" not in shown          # gb@'s schedule is not the analyst's
    assert "GB weekly" in listing(signed_in("admin@example.com"))

    assert "Deleted" in answer(act(analyst, "delete", mine.id), "reports-sched-action-status")
    assert _rows(app, "Analyst's") == []


def test_a_viewer_is_refused_by_the_guard(signed_in):
    viewer = signed_in("viewer@example.com")
    assert create(viewer, recipients=["viewer@example.com"]).status_code == 403
    assert act(viewer, "send", 1).status_code == 403


def form(client, search: str, keep_dates: bool = False) -> dict:
    outputs = [("reports-sched-recipients", "options"), ("reports-sched-recipients", "value"),
               ("reports-sched-recipients", "disabled"), ("reports-sched-filters", "children"),
               ("reports-sched-mail", "children"), ("reports-sched-view", "options"),
               ("reports-sched-what", "options"), ("reports-sched-what", "value")]
    response = client.post("/_dash-update-component", json={
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": "shell-url", "property": "pathname", "value": "/reports"},
                   {"id": "shell-url", "property": "search", "value": search},
                   {"id": "reports-sched-keep-dates", "property": "value",
                    "value": keep_dates}],
        "changedPropIds": ["shell-url.search"]})
    assert response.status_code == 200, response.text
    return {f"{i}.{p}": value for (i, p), value in zip(
        outputs, [response.json["response"][i][p] for i, p in outputs])}


def test_the_form_offers_analysts_themselves_and_admins_every_active_user(app, signed_in):
    search = "?start=2011-03-01&end=2011-03-03&country=GB"
    mine = form(signed_in("gb@example.com"), search)
    assert [o["value"] for o in mine["reports-sched-recipients.options"]] == ["gb@example.com"]
    assert mine["reports-sched-recipients.disabled"] is True
    assert "country=GB; each run covers the data's latest day, 7 days or 30 days" in \
        mine["reports-sched-filters.children"]
    outbox = str(app.extensions["shoplens.settings"].outbox)
    assert outbox in mine["reports-sched-mail.children"]
    admin = form(signed_in("admin@example.com"), search, keep_dates=True)
    offered = {o["value"] for o in admin["reports-sched-recipients.options"]}
    assert {"admin@example.com", "viewer@example.com", "fr@example.com"} <= offered
    assert admin["reports-sched-recipients.disabled"] is False
    assert "start=2011-03-01&end=2011-03-03" in admin["reports-sched-filters.children"]


# ---------------------------------------------------------------------- issue 13, part 2
def digest_switch(client, enabled: bool, timezone: str = "Europe/London"):
    return client.post("/_dash-update-component", json={
        "output": "reports-digest-status.children",
        "outputs": {"id": "reports-digest-status", "property": "children"},
        "inputs": [{"id": "reports-digest", "property": "value", "value": enabled}],
        "changedPropIds": ["reports-digest.value"],
        "state": [{"id": "reports-digest-timezone", "property": "value",
                   "value": timezone}]})


def test_time_zone_format_and_external_recipients_from_the_form(app, signed_in):
    admin = signed_in("admin@example.com")
    made = answer(create(admin, name="Agency", recipients=[], format="both",
                         search="?country=France", timezone="America/New_York",
                         external="agency@partner.example; ops@partner.example",
                         external_scope="FR"), "reports-sched-status")
    assert made.startswith("Created") and "every Wednesday at 08:00 America/New_York" in made
    (row,) = _rows(app, "Agency")
    assert (row.format, row.timezone) == ("both", "America/New_York")
    assert row.external_recipients == ["agency@partner.example", "ops@partner.example"]
    assert row.external_scope == ["FR"]
    shown = listing(admin)
    assert "External recipients see: FR" in shown and "America/New_York" in shown
    assert "agency@partner.example" in shown

    unpicked = answer(create(admin, name="No scope", recipients=[],
                             external="x@partner.example"), "reports-sched-status")
    assert "Not created" in unpicked and "external_scope" in unpicked
    wider = answer(create(admin, name="Wider", recipients=[], external="x@partner.example",
                          external_scope="DE"), "reports-sched-status")
    assert "Not created" in wider and "GB" in wider  # the page's filter is country=GB
    zone = answer(create(admin, name="Zone", recipients=["admin@example.com"],
                         timezone="Atlantis/Capital"), "reports-sched-status")
    assert "Not created" in zone and "unknown time zone" in zone
    analyst = signed_in("analyst@example.com")
    outside = answer(create(analyst, name="Outside", recipients=["analyst@example.com"],
                            external="me@home.example", external_scope="all"),
                     "reports-sched-status")
    assert "Not created" in outside and "only admins can send reports outside" in outside
    assert [_rows(app, name) for name in ("No scope", "Wider", "Zone", "Outside")] == \
        [[], [], [], []]


def test_the_weekly_digest_switch(app, signed_in):
    analyst = signed_in("gb@example.com")
    on = answer(digest_switch(analyst, True, "Europe/Berlin"), "reports-digest-status")
    assert on == "Your weekly digest is on: every Monday at 07:00 Europe/Berlin."
    (row,) = _rows(app, "Weekly digest")
    assert (row.format, row.recipients, row.is_active) == ("digest", ["gb@example.com"], True)
    assert "Weekly digest" in listing(analyst)
    off = answer(digest_switch(analyst, False), "reports-digest-status")
    assert off == "Your weekly digest is off."
    assert _rows(app, "Weekly digest")[0].is_active is False
    bad = answer(digest_switch(analyst, True, "Nowhere/Land"), "reports-digest-status")
    assert "Not changed" in bad and "timezone" in bad
    # the page is the analysts': viewers use the API or the CLI for their digest
    assert digest_switch(signed_in("viewer@example.com"), True).status_code == 403


def test_a_schedule_can_follow_a_saved_view_the_user_may_open(app, signed_in):
    """The form offers the user's views and those shared with them; following one keeps
    no page filters (the view's are read at each run); another user's private view is
    refused."""
    from core import views
    from core.orm import User

    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        gb = session.scalars(sa.select(User).where(User.email == "gb@example.com")).one()
        admin = session.scalars(sa.select(User).where(User.email == "admin@example.com")).one()
        mine = views.create_view(session, gb, {"name": "GB last 30", "page": "/",
                                               "filters": "country=GB", "period": "last_30"})
        private = views.create_view(session, admin, {"name": "Admin's", "page": "/",
                                                     "filters": ""})
        session.flush()
        mine_id, private_id = mine.id, private.id
    analyst = signed_in("gb@example.com")
    offered = form(analyst, "")["reports-sched-view.options"]
    assert [(o["label"], o["value"]) for o in offered] == [("GB last 30", mine_id)]
    refused = create(analyst, name="Not mine", recipients=["gb@example.com"],
                     view=private_id)
    assert "no saved view" in text_of(refused.json["response"]["reports-sched-status"][
        "children"])
    made = create(analyst, name="Following", recipients=["gb@example.com"], view=mine_id)
    assert made.status_code == 200, made.text
    assert "Created “Following”" in str(made.json)
    with db.session_scope(settings.database_url) as session:
        row = session.scalars(sa.select(ReportSchedule).where(
            ReportSchedule.name == "Following")).one()
        assert (row.saved_view_id, row.filters) == (mine_id, "")


def test_the_form_schedules_a_dashboard_the_user_may_open_as_a_pdf(app, signed_in):
    """"What: dashboard …" lists the dashboards the user may open (the Dashboards page's
    "Schedule as PDF" link chooses one); another user's private one is refused."""
    from core import dashboards
    from core.orm import User

    with db.session_scope(app.extensions["shoplens.settings"].database_url) as session:
        gb = session.query(User).filter_by(email="gb@example.com").one()
        admin = session.query(User).filter_by(email="admin@example.com").one()
        mine = dashboards.create_dashboard(session, gb, {"name": "GB morning"})
        dashboards.add_tile(session, gb, mine.id, "overview-kpi-revenue")
        private = dashboards.create_dashboard(session, admin, {"name": "Board only"})
        mine_id, private_id = mine.id, private.id
    analyst = signed_in("gb@example.com")
    shown = form(analyst, f"?schedule_dashboard={mine_id}")
    assert shown["reports-sched-what.value"] == str(mine_id)
    assert [o["label"] for o in shown["reports-sched-what.options"]] == [
        "Standard report", "Dashboard: GB morning"]
    assert form(analyst, f"?schedule_dashboard={private_id}")["reports-sched-what.value"] \
        == "report"  # not one they may open: not offered, not chosen
    status = answer(create(analyst, name="GB morning PDF", recipients=["gb@example.com"],
                           what=str(mine_id)), "reports-sched-status")
    assert "the dashboard as a PDF" in status
    [row] = _rows(app, "GB morning PDF")
    assert (row.dashboard_id, row.format, row.filters) == (mine_id, "pdf", "")
    refused = answer(create(analyst, name="Not mine", recipients=["gb@example.com"],
                            what=str(private_id)), "reports-sched-status")
    assert "Not created" in refused and f"no dashboard {private_id}" in refused
    listed = json.loads(listing(analyst))  # the listing's JSON, quotes as themselves
    assert "Sends the dashboard “GB morning” as a PDF" in json.dumps(listed,
                                                                    ensure_ascii=False)


def test_choosing_a_dashboard_switches_off_the_fields_it_does_not_use(signed_in):
    outputs = [("reports-sched-format", "disabled"), ("reports-sched-view", "disabled"),
               ("reports-sched-keep-dates", "disabled"), ("reports-sched-external", "disabled"),
               ("reports-sched-external-scope", "disabled"),
               ("reports-sched-what-note", "children")]
    analyst = signed_in("gb@example.com")

    def choose(what):
        response = analyst.post("/_dash-update-component", json={
            "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": "reports-sched-what", "property": "value", "value": what}],
            "changedPropIds": ["reports-sched-what.value"]})
        assert response.status_code == 200, response.text
        return [response.json["response"][i][p] for i, p in outputs]
    *switched, note = choose("7")
    assert switched == [True] * 5 and "its own filters" in note
    *switched, note = choose("report")
    assert switched == [False] * 5 and note == ""
    viewer = signed_in("viewer@example.com")  # the guard: the Reports page is for analysts
    assert viewer.post("/_dash-update-component", json={
        "output": "reports-sched-what-note.children",
        "outputs": {"id": "reports-sched-what-note", "property": "children"},
        "inputs": [{"id": "reports-sched-what", "property": "value", "value": "7"}],
        "changedPropIds": ["reports-sched-what.value"]}).status_code == 403
