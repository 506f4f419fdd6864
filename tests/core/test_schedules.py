"""Report schedules: timing worked out on a calendar, permissions, and the beat tick making
one job per recipient under that recipient's own scope."""
from __future__ import annotations

import datetime as dt

import pytest

from core import db, schedules
from core.orm import Job, ReportSchedule, User
from core.schedules import ScheduleAccessDenied, ScheduleError, ScheduleInput, next_run_at
from tests.workers.support import add_user, settings_for, worker_environment


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
                                              "title": "Weekly sales", "email": True}}
        schedule = session.get(ReportSchedule, schedule_id)
        assert schedule.last_run_at == dt.datetime(2024, 5, 15, 12, 31)
        assert schedule.next_run_at == dt.datetime(2024, 5, 22, 12, 30)

        sent = schedules.send_now(session, _user(session, people, "admin"), schedule_id)
        assert [job.user_id for job in sent] == [people["analyst"], people["german"]]
        assert schedule.next_run_at == dt.datetime(2024, 5, 22, 12, 30)
