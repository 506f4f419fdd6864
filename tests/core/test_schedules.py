"""Report schedules: timing worked out on a calendar, permissions, and the beat tick making
one job per recipient under that recipient's own scope."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import db, jobs, schedules
from core.orm import Job, Notification, ReportSchedule, User
from core.schedules import ScheduleAccessDenied, ScheduleError, ScheduleInput, next_run_at
from tests.workers.support import add_user, settings_for, wait_for, worker_environment


def _timing(**values) -> ScheduleInput:
    return ScheduleInput(name="t", recipients=["a@example.com"], **values)


# 2024-05-15 is a Wednesday.
WEDNESDAY_NOON = dt.datetime(2024, 5, 15, 12, 0)


@pytest.mark.parametrize("values, expected", [
    ({"frequency": "daily", "time_of_day": "13:30"}, dt.datetime(2024, 5, 15, 13, 30)),
    ({"frequency": "daily", "time_of_day": "12:00"}, dt.datetime(2024, 5, 16, 12, 0)),
    ({"frequency": "daily", "time_of_day": "07:00"}, dt.datetime(2024, 5, 16, 7, 0)),
    ({"frequency": "weekly", "weekday": 0, "time_of_day": "07:00"},
     dt.datetime(2024, 5, 20, 7, 0)),
    ({"frequency": "weekly", "weekday": 2, "time_of_day": "18:00"},
     dt.datetime(2024, 5, 15, 18, 0)),
    ({"frequency": "weekly", "weekday": 2, "time_of_day": "06:00"},
     dt.datetime(2024, 5, 22, 6, 0)),
    ({"frequency": "monthly", "day_of_month": 1, "time_of_day": "07:00"},
     dt.datetime(2024, 6, 1, 7, 0)),
    ({"frequency": "monthly", "day_of_month": 28, "time_of_day": "00:00"},
     dt.datetime(2024, 5, 28, 0, 0)),
])
def test_next_run_is_the_first_matching_time_strictly_after(values, expected):
    assert next_run_at(_timing(**values), WEDNESDAY_NOON) == expected


def test_monthly_runs_across_a_year_end():
    schedule = _timing(frequency="monthly", day_of_month=15, time_of_day="09:15")
    assert next_run_at(schedule, dt.datetime(2024, 12, 15, 9, 15)) == \
        dt.datetime(2025, 1, 15, 9, 15)


@pytest.fixture
def settings(tmp_path):
    return settings_for(worker_environment(tmp_path / "home"))


@pytest.fixture
def people(settings):
    return {
        "admin": add_user(settings, "admin@example.com", "admin"),
        "analyst": add_user(settings, "analyst@example.com", "analyst", ["FR"]),
        "german": add_user(settings, "german@example.com", "viewer", ["DE"]),
        "viewer": add_user(settings, "viewer@example.com", "viewer"),
        "gone": add_user(settings, "gone@example.com", "viewer", active=False),
    }


def _user(session, people, name) -> User:
    return session.get(User, people[name])


def test_analysts_schedule_for_themselves_admins_for_anyone(settings, people):
    with db.session_scope(settings.database_url) as session:
        analyst = _user(session, people, "analyst")
        admin = _user(session, people, "admin")
        with pytest.raises(ScheduleAccessDenied, match="for themselves only"):
            schedules.create_schedule(session, analyst, {
                "name": "x", "recipients": ["analyst@example.com", "viewer@example.com"]})
        with pytest.raises(ScheduleAccessDenied, match="analyst or admin"):
            schedules.create_schedule(session, _user(session, people, "viewer"), {
                "name": "x", "recipients": ["viewer@example.com"]})
        with pytest.raises(ScheduleError, match="active users of Shoplens: gone@example.com"):
            schedules.create_schedule(session, admin, {
                "name": "x", "recipients": ["gone@example.com"]})
        with pytest.raises(ScheduleError, match="unknown@example.com"):
            schedules.create_schedule(session, admin, {
                "name": "x", "recipients": ["unknown@example.com"]})
        with pytest.raises(ScheduleError, match="time_of_day: must be a time"):
            schedules.create_schedule(session, admin, {
                "name": "x", "recipients": ["viewer@example.com"], "time_of_day": "25:00"})
        with pytest.raises(ScheduleError, match="start must be a date"):
            schedules.create_schedule(session, admin, {
                "name": "x", "recipients": ["viewer@example.com"], "filters": "start=soon"})

        own = schedules.create_schedule(session, analyst, {
            "name": "Mine", "recipients": [" Analyst@example.com "], "frequency": "daily",
            "time_of_day": "06:30", "filters": "country=fr&start=2011-01-01"},
            now=WEDNESDAY_NOON)
        assert own.recipients == ["analyst@example.com"]
        assert own.filters == "start=2011-01-01&country=FR"
        assert own.next_run_at == dt.datetime(2024, 5, 16, 6, 30)
        others = schedules.create_schedule(session, admin, {
            "name": "Team", "recipients": ["viewer@example.com"]}, now=WEDNESDAY_NOON)
        assert (others.frequency, others.weekday) == ("weekly", 0)

        assert schedules.list_schedules(session, analyst) == [own]
        assert schedules.list_schedules(session, admin) == [own, others]
        with pytest.raises(ScheduleAccessDenied):
            schedules.update_schedule(session, analyst, others.id, {"name": "mine now"})
        schedules.update_schedule(session, analyst, own.id,
                                  {"frequency": "monthly", "day_of_month": 3},
                                  now=WEDNESDAY_NOON)
        assert own.next_run_at == dt.datetime(2024, 6, 3, 6, 30)
        schedules.update_schedule(session, admin, own.id, {"is_active": False})
        assert own.next_run_at is None
        schedules.delete_schedule(session, admin, others.id)
        assert session.get(ReportSchedule, others.id) is None
        assert schedules.describe(own) == "on day 3 of every month at 06:30 UTC"


def test_the_tick_makes_one_job_per_recipient_in_their_own_scope(settings, people):
    with db.session_scope(settings.database_url) as session:
        admin = _user(session, people, "admin")
        schedule = schedules.create_schedule(session, admin, {
            "name": "Weekly sales", "format": "xlsx", "frequency": "weekly", "weekday": 2,
            "time_of_day": "12:30", "filters": "start=2011-01-01&end=2011-01-31",
            "recipients": ["analyst@example.com", "german@example.com",
                           "viewer@example.com"]}, now=WEDNESDAY_NOON)
        schedule_id = schedule.id
        session.get(User, people["viewer"]).is_active = False  # left after scheduling

    assert schedules.run_due_schedules(settings, now=dt.datetime(2024, 5, 15, 12, 29)) == []
    job_ids = schedules.run_due_schedules(settings, now=dt.datetime(2024, 5, 15, 12, 31))
    assert len(job_ids) == 2
    assert schedules.run_due_schedules(settings, now=dt.datetime(2024, 5, 15, 12, 32)) == []

    with db.session_scope(settings.database_url) as session:
        made = {session.get(User, job.user_id).email: job
                for job in (session.get(Job, job_id) for job_id in job_ids)}
        assert set(made) == {"analyst@example.com", "german@example.com"}
        assert made["analyst@example.com"].scope == ["FR"]
        assert made["german@example.com"].scope == ["DE"]
        for job in made.values():
            assert (job.kind, job.status, job.schedule_id) == (
                "scheduled_report", "queued", schedule_id)
            assert job.params == {"filters": {"start": "2011-01-01", "end": "2011-01-31"},
                                  "options": {"format": "xlsx", "schedule_id": schedule_id,
                                              "title": "Weekly sales", "email": True,
                                              "period_days": 7}}
        schedule = session.get(ReportSchedule, schedule_id)
        assert schedule.last_run_at == dt.datetime(2024, 5, 15, 12, 31)
        assert schedule.next_run_at == dt.datetime(2024, 5, 22, 12, 30)

        sent = schedules.send_now(session, _user(session, people, "admin"), schedule_id)
        assert [job.user_id for job in sent] == [people["analyst"], people["german"]]
        assert schedule.next_run_at == dt.datetime(2024, 5, 22, 12, 30)


# ----------------------------------------------------------------- time zones (issue 13)
def _zoned(zone: str, **values) -> ScheduleInput:
    return ScheduleInput(name="t", recipients=["a@example.com"], timezone=zone, **values)


# Europe/London: GMT (UTC+0) in winter, BST (UTC+1) from 31 Mar 2024 01:00 UTC to
# 27 Oct 2024 01:00 UTC. America/New_York: EST (UTC−5), EDT (UTC−4) from 10 Mar 2024 07:00
# UTC to 3 Nov 2024 06:00 UTC.
@pytest.mark.parametrize("zone, values, after, expected", [
    # a daily 07:00 London run: 06:00 UTC in summer, 07:00 UTC in winter
    ("Europe/London", {"frequency": "daily"}, dt.datetime(2024, 7, 1, 12),
     dt.datetime(2024, 7, 2, 6)),
    ("Europe/London", {"frequency": "daily"}, dt.datetime(2024, 1, 15, 12),
     dt.datetime(2024, 1, 16, 7)),
    # weekly Monday 07:00 London across the autumn change: 21 Oct in BST, 28 Oct in GMT
    ("Europe/London", {"weekday": 0}, dt.datetime(2024, 10, 20),
     dt.datetime(2024, 10, 21, 6)),
    ("Europe/London", {"weekday": 0}, dt.datetime(2024, 10, 21, 6),
     dt.datetime(2024, 10, 28, 7)),
    # 01:30 on 31 Mar 2024 does not exist in London (01:00 → 02:00): the next valid
    # minute, 02:00 BST = 01:00 UTC
    ("Europe/London", {"frequency": "daily", "time_of_day": "01:30"},
     dt.datetime(2024, 3, 30, 12), dt.datetime(2024, 3, 31, 1, 0)),
    # New York 07:00: EDT in summer (11:00 UTC), EST in winter (12:00 UTC)
    ("America/New_York", {"frequency": "daily"}, dt.datetime(2024, 7, 1, 12),
     dt.datetime(2024, 7, 2, 11)),
    ("America/New_York", {"frequency": "daily"}, dt.datetime(2024, 12, 1, 13),
     dt.datetime(2024, 12, 2, 12)),
    # 02:30 on 10 Mar 2024 does not exist in New York: 03:00 EDT = 07:00 UTC
    ("America/New_York", {"frequency": "daily", "time_of_day": "02:30"},
     dt.datetime(2024, 3, 9, 12), dt.datetime(2024, 3, 10, 7, 0)),
    # 01:30 on 3 Nov 2024 happens twice in New York: once, at the first (EDT, 05:30 UTC)…
    ("America/New_York", {"frequency": "daily", "time_of_day": "01:30"},
     dt.datetime(2024, 11, 2, 12), dt.datetime(2024, 11, 3, 5, 30)),
    # … and not again at the second (06:30 UTC): the next run is 4 Nov 01:30 EST
    ("America/New_York", {"frequency": "daily", "time_of_day": "01:30"},
     dt.datetime(2024, 11, 3, 5, 30), dt.datetime(2024, 11, 4, 6, 30)),
    # late evening in New York is already the next day in UTC: at Tuesday 01:00 UTC it is
    # still Monday 20:00 EST there, and Monday's 22:00 EST is Tuesday 03:00 UTC
    ("America/New_York", {"weekday": 0, "time_of_day": "22:00"},
     dt.datetime(2024, 1, 16, 1), dt.datetime(2024, 1, 16, 3)),
])
def test_next_run_follows_the_schedules_time_zone_across_dst(zone, values, after, expected):
    assert next_run_at(_zoned(zone, **values), after) == expected


def test_an_unknown_time_zone_is_refused_by_name(settings, people):
    with db.session_scope(settings.database_url) as session:
        with pytest.raises(ScheduleError, match="timezone: unknown time zone 'Mars/Olympus'"):
            schedules.create_schedule(session, _user(session, people, "admin"), {
                "name": "x", "recipients": ["viewer@example.com"],
                "timezone": "Mars/Olympus"})
        made = schedules.create_schedule(session, _user(session, people, "admin"), {
            "name": "x", "recipients": ["viewer@example.com"], "timezone": "Europe/London"},
            now=dt.datetime(2024, 7, 1))
        assert schedules.describe(made) == "every Monday at 07:00 Europe/London"
        shown = schedules.schedule_to_dict(made)
        assert shown["next_run_at"] == "2024-07-01T06:00:00Z"
        assert shown["next_run_local"] == "2024-07-01T07:00+01:00"


# ----------------------------------------------------------------- external recipients
EXTERNAL = {"name": "For the agency", "recipients": [],
            "external_recipients": ["Agency@Partner.example"], "external_scope": ["FR", "DE"]}


def test_only_admins_add_external_recipients_with_an_explicit_scope(settings, people):
    with db.session_scope(settings.database_url) as session:
        admin, analyst = (_user(session, people, name) for name in ("admin", "analyst"))
        with pytest.raises(ScheduleAccessDenied,
                           match="only admins can send reports outside Shoplens"):
            schedules.create_schedule(session, analyst, {
                **EXTERNAL, "recipients": ["analyst@example.com"], "external_scope": ["FR"]})
        with pytest.raises(ScheduleError, match="external_scope: pick the data"):
            schedules.create_schedule(session, admin, {**EXTERNAL, "external_scope": None})
        with pytest.raises(ScheduleError, match="not an e-mail address"):
            schedules.create_schedule(session, admin, {**EXTERNAL,
                                                       "external_recipients": ["agency"]})
        with pytest.raises(ScheduleError, match="viewer@example.com: a user of Shoplens"):
            schedules.create_schedule(session, admin, {
                **EXTERNAL, "external_recipients": ["viewer@example.com"]})
        with pytest.raises(ScheduleAccessDenied, match="beyond what external recipients "
                                                       "see \\(DE, FR\\): country GB"):
            schedules.create_schedule(session, admin, {**EXTERNAL, "filters": "country=GB"})
        with pytest.raises(ScheduleError, match="Atlantis"):
            schedules.create_schedule(session, admin, {**EXTERNAL,
                                                       "external_scope": ["Atlantis"]})
        made = schedules.create_schedule(session, admin, {**EXTERNAL,
                                                          "filters": "country=France"})
        assert made.external_recipients == ["agency@partner.example"]
        assert made.external_scope == ["DE", "FR"]
        assert schedules.external_scope_label(made) == "External recipients see: DE, FR"
        everything = schedules.create_schedule(session, admin, {**EXTERNAL,
                                                                "external_scope": "all"})
        assert everything.external_scope is None
        assert schedules.schedule_to_dict(everything)["external_scope"] == "all"
        # a change of another field keeps "all" (stored as None) picked
        schedules.update_schedule(session, admin, everything.id, {"name": "renamed"})
        assert everything.external_scope is None and everything.external_recipients


def test_a_run_makes_one_job_per_recipient_and_external_address(settings, people):
    with db.session_scope(settings.database_url) as session:
        admin = _user(session, people, "admin")
        schedule = schedules.create_schedule(session, admin, {
            "name": "Both", "format": "both", "frequency": "daily", "time_of_day": "12:30",
            "timezone": "Europe/Paris", "recipients": ["analyst@example.com"],
            "external_recipients": ["agency@partner.example"], "external_scope": ["DE"]},
            now=WEDNESDAY_NOON)
        schedule_id = schedule.id
        # 12:30 in Paris (CEST, UTC+2) is 10:30 UTC: the next is on Thursday
        assert schedule.next_run_at == dt.datetime(2024, 5, 16, 10, 30)

    job_ids = schedules.run_due_schedules(settings, now=dt.datetime(2024, 5, 16, 10, 31))
    assert len(job_ids) == 2
    with db.session_scope(settings.database_url) as session:
        made = [session.get(Job, job_id) for job_id in job_ids]
        by_recipient = {job.params.get("recipient", job.user.email): job for job in made}
        analyst = by_recipient["analyst@example.com"]
        agency = by_recipient["agency@partner.example"]
        assert (analyst.user_id, analyst.scope) == (people["analyst"], ["FR"])
        assert "recipient" not in analyst.params
        assert (agency.user_id, agency.scope) == (people["admin"], ["DE"])
        assert analyst.params["options"]["format"] == "both"
        assert analyst.idempotency_key == \
            f"schedule:{schedule_id}:20240516T1030:analyst@example.com"
        assert agency.idempotency_key == \
            f"schedule:{schedule_id}:20240516T1030:agency@partner.example"


def test_a_run_started_twice_makes_one_job_per_recipient(settings, people):
    with db.session_scope(settings.database_url) as session:
        schedule = schedules.create_schedule(session, _user(session, people, "admin"), {
            "name": "Daily", "frequency": "daily", "time_of_day": "12:30",
            "recipients": ["analyst@example.com", "german@example.com"]},
            now=WEDNESDAY_NOON)
        schedule_id = schedule.id
    first = schedules.run_due_schedules(settings, now=dt.datetime(2024, 5, 15, 12, 31))
    assert len(first) == 2
    # a second tick that claims the same run again (e.g. the first one's move of
    # next_run_at was lost): the keys exist, nothing is made twice
    with db.session_scope(settings.database_url) as session:
        session.get(ReportSchedule, schedule_id).next_run_at = dt.datetime(2024, 5, 15, 12, 30)
    assert schedules.run_due_schedules(settings, now=dt.datetime(2024, 5, 15, 12, 33)) == []
    with db.session_scope(settings.database_url) as session:
        assert session.query(Job).filter_by(schedule_id=schedule_id).count() == 2
        # a racing writer that passed the existence check: the unique key refuses the
        # second row in a savepoint, and the rest of the transaction goes on
        recipient = _user(session, people, "analyst")
        key = schedules.run_key(schedule_id, dt.datetime(2024, 5, 15, 12, 30),
                                "analyst@example.com")
        session.execute(sa.update(Job).where(Job.idempotency_key == key)
                        .values(idempotency_key=key + "-hidden"))
        session.flush()
        again = jobs.add_scheduled_report(session, recipient, schedule_id, "pdf", "",
                                          idempotency_key=key)
        assert again is not None  # the key was free
        assert jobs.add_scheduled_report(session, recipient, schedule_id, "pdf", "",
                                         idempotency_key=key) is None
        session.rollback()
    with db.session_scope(settings.database_url) as session:
        assert session.query(Job).filter_by(schedule_id=schedule_id).count() == 2
        # send now twice in one minute: one job per recipient
        admin = _user(session, people, "admin")
        now = dt.datetime(2024, 5, 15, 13, 0, 5)
        assert len(schedules.send_now(session, admin, schedule_id, now=now)) == 2
        assert schedules.send_now(session, admin, schedule_id,
                                  now=now.replace(second=40)) == []


# ----------------------------------------------------------------- the runs rendered
def _render(settings, job_id: str) -> Job:
    """Run the job's runner in this process, as the worker would (start, run, finish)."""
    spec = jobs.start_job(settings, job_id, worker="test")
    outcome = jobs.kind_of(spec.kind).load_runner()(settings, spec)
    jobs.finish_job(settings, job_id, **outcome)
    with db.session_scope(settings.database_url) as session:
        return session.get(Job, job_id)


def _pdf_text(path) -> str:
    import pypdf
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def test_each_recipient_gets_both_files_under_their_own_scope(settings, people):
    from analytics.warehouse import Warehouse
    from core.orm import Notification
    from tests.workers.support import TINY_PERIOD, publish_tiny_shop

    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)  # revenue: all £28.00, FR £13.00, DE £15.00 (by hand)
    warehouse.dispose()
    with db.session_scope(settings.database_url) as session:
        schedule = schedules.create_schedule(session, _user(session, people, "admin"), {
            "name": "March", "format": "both", "frequency": "daily", "time_of_day": "06:00",
            "timezone": "Europe/London", "filters": TINY_PERIOD,
            "recipients": ["analyst@example.com", "admin@example.com"],
            "external_recipients": ["agency@partner.example"], "external_scope": ["DE"]},
            now=WEDNESDAY_NOON)
        schedule_id = schedule.id
    # 06:00 in London on 16 May (BST) is 05:00 UTC
    job_ids = schedules.run_due_schedules(settings, now=dt.datetime(2024, 5, 16, 5, 0))
    assert len(job_ids) == 3
    done = {}
    for job_id in job_ids:
        job = _render(settings, job_id)
        assert job.status == "done", job.error
        done[job.params.get("recipient") or job.user_id] = job
    french, admin, agency = (done[people["analyst"]], done[people["admin"]],
                             done["agency@partner.example"])
    for job, revenue, absent in ((french, "£13.00", "£28.00"), (admin, "£28.00", None),
                                 (agency, "£15.00", "£28.00")):
        pdf, xlsx = (Path(path) for path in job.result["attachments"])
        assert (pdf.suffix, xlsx.suffix) == (".pdf", ".xlsx")
        assert pdf.is_file() and xlsx.is_file() and Path(job.result_path) == pdf
        assert job.result["format"] == "both" and job.message == "PDF and XLSX report ready"
        text = _pdf_text(pdf)
        assert revenue in text
        if absent:
            assert absent not in text  # the FR (or DE) report holds its own numbers only
    assert agency.user_id == people["admin"] and agency.scope == ["DE"]
    with db.session_scope(settings.database_url) as session:
        notes = session.query(Notification).filter_by(kind="job").all()
        # the recipients' own jobs told them; the external one (the admin's, for the
        # audit trail) told nobody
        assert sorted((n.user_id, n.title, n.ref) for n in notes) == sorted([
            (people["analyst"], "Scheduled report ready", f"job:{french.id}"),
            (people["admin"], "Scheduled report ready", f"job:{admin.id}")])
        assert session.get(ReportSchedule, schedule_id).last_run_at is not None


def test_viewers_switch_their_own_weekly_digest_on_and_off(settings, people):
    from analytics.warehouse import Warehouse
    from core.orm import Notification
    from tests.workers.support import publish_tiny_shop

    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    warehouse.dispose()
    with db.session_scope(settings.database_url) as session:
        german = _user(session, people, "german")
        with pytest.raises(ScheduleError, match="timezone: unknown time zone"):
            schedules.set_digest(session, german, True, timezone="Nowhere/Town")
        assert schedules.set_digest(session, german, False) is None
        digest = schedules.set_digest(session, german, True, now=WEDNESDAY_NOON)
        assert (digest.format, digest.recipients, digest.owner_id) == (
            "digest", ["german@example.com"], people["german"])
        assert schedules.describe(digest) == "every Monday at 07:00 Europe/London"
        assert digest.next_run_at == dt.datetime(2024, 5, 20, 6, 0)  # BST
        # a viewer may not widen it into a report schedule or send it to others
        with pytest.raises(ScheduleAccessDenied, match="analyst or admin"):
            schedules.update_schedule(session, german, digest.id, {"format": "pdf"})
        with pytest.raises(ScheduleAccessDenied):
            schedules.update_schedule(session, german, digest.id,
                                      {"recipients": ["viewer@example.com"]})
        off = schedules.set_digest(session, german, False)
        assert off.id == digest.id and off.is_active is False and off.next_run_at is None
        again = schedules.set_digest(session, german, True, timezone="America/New_York",
                                     now=WEDNESDAY_NOON)
        assert again.id == digest.id and again.next_run_at == dt.datetime(2024, 5, 20, 11)
        [job] = schedules.send_now(session, german, digest.id)
        job_id = job.id
        assert (job.kind, job.scope) == ("digest", ["DE"])
    job = _render(settings, job_id)
    assert job.status == "done" and job.result_path is None
    email = job.result["email"]
    # the tiny shop's last week (9–15 Mar 2011) in Germany: A2, £15.00
    assert email["subject"].startswith("Weekly digest: Revenue (net) £15.00")
    assert "Data: DE" in email["text"] and "France" not in email["text"]
    assert Path(email["images"]["daily-revenue"]).is_file()
    with db.session_scope(settings.database_url) as session:
        [note] = session.query(Notification).filter_by(user_id=people["german"]).all()
        assert (note.title, note.ref) == ("Weekly digest ready", f"job:{job_id}")


def test_a_failed_or_lost_job_tells_its_user_but_not_for_an_external_address(settings, people):
    from core.orm import Notification

    with db.session_scope(settings.database_url) as session:
        schedule = schedules.create_schedule(session, _user(session, people, "admin"), {
            "name": "Failing", "recipients": ["analyst@example.com"],
            "external_recipients": ["agency@partner.example"], "external_scope": "all"})
        made = schedules.send_now(session, _user(session, people, "admin"), schedule.id)
        own, external = sorted(made, key=lambda job: "recipient" in job.params)
        own_id, external_id = own.id, external.id
    for job_id in (own_id, external_id):
        jobs.fail_job(settings, job_id, "The warehouse is gone.\nTraceback …")
    with db.session_scope(settings.database_url) as session:
        notes = session.query(Notification).all()
        assert [(n.user_id, n.kind, n.title, n.body, n.link, n.ref) for n in notes] == [
            (people["analyst"], "job", "Scheduled report failed", "The warehouse is gone.",
             "/reports", f"job:{own_id}")]
        # a job whose worker died for good is failed by the reaper: its user hears too
        lost = jobs.add_scheduled_report(session, _user(session, people, "analyst"),
                                         schedule.id, "pdf", "")
        lost.status, lost.attempts = "running", jobs.MAX_ATTEMPTS
        lost.heartbeat_at = dt.datetime(2000, 1, 1)
        lost_id = lost.id
    assert jobs.reap_stale_jobs(settings, max_silence=1) == {"requeued": [],
                                                             "failed": [lost_id]}
    with db.session_scope(settings.database_url) as session:
        titles = [n.ref for n in session.query(Notification).filter_by(
            title="Scheduled report failed")]
        assert titles == [f"job:{own_id}", f"job:{lost_id}"]


def test_a_scoped_admin_cannot_show_outsiders_more_than_they_see(settings, people):
    scoped = add_user(settings, "frenchadmin@example.com", "admin", ["FR", "DE"])
    with db.session_scope(settings.database_url) as session:
        admin = session.get(User, scoped)
        for wider in ("all", ["FR", "GB"]):
            with pytest.raises(ScheduleAccessDenied, match="cannot see more than you; your "
                                                           "data scope is DE, FR"):
                schedules.create_schedule(session, admin, {**EXTERNAL,
                                                           "external_scope": wider})
        made = schedules.create_schedule(session, admin, {**EXTERNAL,
                                                          "external_scope": ["FR"]})
        assert schedules.external_run_scope(made) == schedules.Scope.of(["FR"])
        # the admin's scope narrowed since: the run shows outsiders the overlap only
        made.external_scope = ["FR", "DE"]
        admin.scope.countries = ["DE"]
        session.flush()
        assert schedules.external_run_scope(made) == schedules.Scope.of(["DE"])


def test_two_writers_racing_for_one_run_on_postgresql_make_one_job(tmp_path, postgres_database):
    """Two ticks insert the same run's job at once: the second waits on the unique key,
    is refused when the first commits, and its transaction goes on (the savepoint) to
    commit the rest of its work."""
    import threading

    settings = settings_for(worker_environment(tmp_path / "home",
                                               DATABASE_URL=postgres_database))
    analyst = add_user(settings, "analyst@example.com", "analyst", ["FR"])
    with db.session_scope(settings.database_url) as session:
        schedule = schedules.create_schedule(session, session.get(User, analyst), {
            "name": "Race", "recipients": ["analyst@example.com"]})
        schedule_id = schedule.id
    key = schedules.run_key(schedule_id, dt.datetime(2024, 5, 20, 6), "analyst@example.com")

    first = db.session_factory(settings.database_url)()
    made_first = jobs.add_scheduled_report(first, first.get(User, analyst), schedule_id,
                                           "pdf", "", idempotency_key=key)
    assert made_first is not None  # inserted, not committed: the key is held
    outcome = {}

    def second_writer():
        with db.session_scope(settings.database_url) as session:
            outcome["job"] = jobs.add_scheduled_report(
                session, session.get(User, analyst), schedule_id, "pdf", "",
                idempotency_key=key)
            session.get(ReportSchedule, schedule_id).name = "Race, second writer"

    def waiting_on_a_lock() -> bool:
        with db.get_engine(settings.database_url).connect() as conn:
            return bool(conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar())

    racer = threading.Thread(target=second_writer)
    racer.start()
    wait_for(waiting_on_a_lock, timeout=30, what="the second writer to wait on the key")
    assert racer.is_alive()
    first.commit()
    first.close()
    racer.join(timeout=30)
    assert not racer.is_alive() and outcome == {"job": None}
    with db.session_scope(settings.database_url) as session:
        assert session.query(Job).filter_by(idempotency_key=key).count() == 1
        assert session.get(ReportSchedule, schedule_id).name == "Race, second writer"


def test_a_schedule_following_a_saved_view_reads_its_filters_at_each_run(settings, people):
    """The view (Germany, all time, kept relative) is read when the job runs: the admin's
    report holds DE's £15.00, not the shop's £28.00. A view the owner may not open, or
    filters beside a view, are refused; a view deleted later fails the run with the
    reason instead of falling back to all the data."""
    from analytics.warehouse import Warehouse
    from core import views
    from tests.workers.support import publish_tiny_shop

    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    warehouse.dispose()
    with db.session_scope(settings.database_url) as session:
        admin = _user(session, people, "admin")
        view = views.create_view(session, admin, {"name": "Germany", "page": "/",
                                                  "filters": "country=DE",
                                                  "period": "all_time"})
        private = views.create_view(session, _user(session, people, "analyst"), {
            "name": "Mine", "page": "/", "filters": "country=FR"})
        session.flush()
        view_id, private_id = view.id, private.id
        base = {"name": "Germany weekly", "format": "pdf", "frequency": "daily",
                "recipients": ["admin@example.com"]}
        with pytest.raises(schedules.ScheduleError, match="not both"):
            schedules.create_schedule(session, admin, {**base, "saved_view_id": view_id,
                                                       "filters": "country=FR"})
        with pytest.raises(schedules.ScheduleError, match="no saved view"):
            schedules.create_schedule(session, _user(session, people, "analyst"), {
                **base, "recipients": ["analyst@example.com"],
                "saved_view_id": view_id + private_id + 100})
        schedule = schedules.create_schedule(session, admin, {**base,
                                                              "saved_view_id": view_id})
        assert schedules.schedule_to_dict(schedule)["saved_view_id"] == view_id
        [job] = schedules.send_now(session, admin, schedule.id)
        job_id = job.id
    text = _pdf_text(_render(settings, job_id).result_path)
    assert "£15.00" in text and "£28.00" not in text
    with db.session_scope(settings.database_url) as session:
        admin = _user(session, people, "admin")
        [job] = schedules.send_now(session, admin, schedule.id,
                                   now=dt.datetime(2030, 1, 1, 12, 0))
        job_id = job.id
        # a view deleted: the schedule is paused and its owner told, rather than sending
        # the report of all the data from then on
        views.delete_view(session, admin, view_id)
    with db.session_scope(settings.database_url) as session:
        paused = session.get(ReportSchedule, schedule.id)
        assert (paused.saved_view_id, paused.is_active, paused.next_run_at) == (None, False,
                                                                                None)
        [note] = session.scalars(sa.select(Notification).where(
            Notification.kind == "schedule")).all()
        assert note.user_id == people["admin"] and "paused" in note.title
    # a run made before the deletion fails with the reason, never on all the data
    spec = jobs.start_job(settings, job_id, worker="test")
    with pytest.raises(jobs.JobError, match="deleted or is no longer shared"):
        jobs.kind_of(spec.kind).load_runner()(settings, spec)


@pytest.mark.parametrize("frequency, period_label", [
    ("daily", "15 Mar 2011 – 15 Mar 2011"), ("weekly", "9 Mar 2011 – 15 Mar 2011"),
    ("monthly", "14 Feb 2011 – 15 Mar 2011")])
def test_a_run_without_dates_covers_its_own_cadence(settings, people, frequency,
                                                    period_label):
    """The tiny shop's last day is 15 Mar 2011: a daily report covers that day, a weekly
    one the 7 days to it (from 9 Mar), a monthly one the 30 days to it (from 14 Feb)."""
    from analytics.warehouse import Warehouse
    from tests.workers.support import publish_tiny_shop

    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    warehouse.dispose()
    with db.session_scope(settings.database_url) as session:
        admin = _user(session, people, "admin")
        schedule = schedules.create_schedule(session, admin, {
            "name": "Cadence", "format": "pdf", "frequency": frequency,
            "recipients": ["admin@example.com"]})
        [job] = schedules.send_now(session, admin, schedule.id)
        job_id = job.id
    assert _render(settings, job_id).result["period_label"] == period_label
