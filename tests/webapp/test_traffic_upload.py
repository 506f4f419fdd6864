"""The Data page's "Traffic and ad spend" upload: an analyst is refused (by the guard and by
the job's role), an admin's upload is stored, and the ``ads_load`` / ``sessions_load`` jobs
run by the worker's own function load a Google Ads report and a GA4 export beside the
orders; a bad line fails the job with its reason unless forced, and the page then shows the
lines loaded, rejected with their reasons, and the warnings."""
from __future__ import annotations

import pytest

from core import db, jobs, users
from tests.data import test_traffic as files
from tests.webapp.conftest import make_app
from tests.webapp.test_alerts_page import _call
from tests.webapp.test_data_upload import data_url, text_of
from workers import handlers

NEGATIVE = files.GOOGLE_ADS.replace("2024-01-02,Brand - UK,Search,GBP,1000,40,20.00",
                                    "2024-01-02,Brand - UK,Search,GBP,1000,40,-20.00")


@pytest.fixture(scope="module")
def app(web_settings):
    app = make_app(web_settings, files.ORDERS)
    yield app
    app.extensions["shoplens.warehouse"].dispose()


@pytest.fixture
def settings(app):
    settings = app.extensions["shoplens.settings"]
    settings.uploads.mkdir(parents=True, exist_ok=True)
    return settings


def upload(client, filename: str, text: str):
    return _call(client, [("data-traffic-path", "data"), ("data-traffic-status", "children")],
                 [{"id": "data-traffic-upload", "property": "contents",
                   "value": data_url(text.encode())}], "data-traffic-upload.contents",
                 [{"id": "data-traffic-upload", "property": "filename", "value": filename}])


def run(settings, kind: str, options: dict, email: str = "admin@example.com") -> str:
    """Submit the job as ``email`` and run it as a worker does; its id."""
    with db.session_scope(settings.database_url) as session:
        user = users.get_user(session, email)
        job_id = jobs.submit_job(session, user, kind, options, settings=settings).id
    handlers.run_job(settings, job_id)
    return job_id


def job_of(settings, job_id: str) -> dict:
    with db.session_scope(settings.database_url) as session:
        user = users.get_user(session, "admin@example.com")
        return jobs.job_to_dict(jobs.get_job(session, user, job_id, with_result=True),
                                with_result=True)


def test_an_analyst_is_refused(signed_in, settings):
    response = upload(signed_in("analyst@example.com"), "ads.csv", files.GOOGLE_ADS)
    assert response.status_code == 403
    (settings.uploads / "ads.csv").write_text(files.GOOGLE_ADS)
    with db.session_scope(settings.database_url) as session:
        analyst = users.get_user(session, "analyst@example.com")
        with pytest.raises(Exception, match="admin"):
            jobs.submit_job(session, analyst, "ads_load",
                            {"path": "ads.csv", "format": "google-ads"}, settings=settings)


def test_an_admin_uploads_and_loads_ad_spend_and_sessions(signed_in, settings):
    client = signed_in("admin@example.com")
    response = upload(client, "google.csv", files.GOOGLE_ADS)
    assert response.status_code == 200, response.text
    stored = response.json["response"]["data-traffic-path"]["data"]
    assert stored and stored.endswith("google.csv"), response.json
    assert "Uploaded google.csv" in text_of(
        response.json["response"]["data-traffic-status"]["children"])
    job_id = run(settings, "ads_load", {"path": stored, "format": "google-ads"})
    job = job_of(settings, job_id)
    assert job["status"] == "done", job
    result = job["result"]
    assert (result["lines_loaded"], result["lines_rejected"]) == (3, 0)
    assert result["totals"]["spend"] == 75.0
    shown = _call(client, [("data-traffic-result", "children")],
                  [{"id": "data-sessions-job", "property": "data", "value": None},
                   {"id": "data-ads-job", "property": "data",
                    "value": {"id": job_id, "status": "done"}}], "data-ads-job.data")
    assert shown.status_code == 200, shown.text
    text = text_of(shown.json["response"]["data-traffic-result"]["children"])
    assert "ad spend (google-ads)" in text and "Lines loaded" in text

    (settings.uploads / "ga4.csv").write_text(files.GA4)
    job = job_of(settings, run(settings, "sessions_load", {"path": "ga4.csv"}))
    assert job["status"] == "done", job
    assert job["result"]["totals"]["sessions"] == 3000


def test_a_bad_line_fails_the_job_unless_forced(signed_in, settings):
    (settings.uploads / "negative.csv").write_text(NEGATIVE)
    failed = job_of(settings, run(settings, "ads_load",
                                  {"path": "negative.csv", "format": "google-ads"}))
    assert failed["status"] == "failed" and "negative spend" in failed["error"]
    forced = job_of(settings, run(settings, "ads_load", {"path": "negative.csv",
                                                         "format": "google-ads",
                                                         "force": True}))
    assert forced["status"] == "done", forced
    assert forced["result"]["rejected_by_reason"] == {"negative spend": 1}
    assert forced["result"]["rejected_lines"][0]["reason"] == "negative spend"


def test_bad_options_are_refused_naming_the_field(settings):
    with db.session_scope(settings.database_url) as session:
        admin = users.get_user(session, "admin@example.com")
        with pytest.raises(Exception, match="format"):
            jobs.submit_job(session, admin, "ads_load", {"path": "negative.csv",
                                                         "format": "tiktok"},
                            settings=settings)
        with pytest.raises(Exception, match="uploads folder"):
            jobs.submit_job(session, admin, "sessions_load", {"path": "/etc/passwd"},
                            settings=settings)


def test_the_page_builds_the_job_options_and_refuses_a_bad_mapping():
    from webapp.dashboard import context
    from webapp.dashboard.pages.data import traffic_options
    assert traffic_options("x.csv", "meta-ads", None, True) == {
        "path": "x.csv", "format": "meta-ads", "force": True}
    mapping = '{"columns": {"date": "Day", "sessions": "Visits"}}'
    assert traffic_options("x.csv", "generic", mapping)["mapping"] == {
        "columns": {"date": "Day", "sessions": "Visits"}}
    for text, words in ((None, "needs its column mapping"), ("{", "not valid JSON"),
                        ("[1]", "must be a JSON object")):
        with pytest.raises(context.Unavailable, match=words):
            traffic_options("x.csv", "generic", text)
