"""Notes on the timeline: who writes, who reads (scoped like the data), who changes."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics.filters import Scope
from core import annotations, users
from core.annotations import AnnotationAccessDenied, AnnotationError, AnnotationNotFound

D = dt.date


@pytest.fixture
def people(session, cheap_hashing):
    def make(email, role, countries=None):
        user, _password = users.create_user(session, "cli", email, role=role,
                                            countries=countries, password="x" * 16 + "A1!")
        return user
    out = {"admin": make("admin@example.com", "admin"),
           "fr": make("fr@example.com", "analyst", ["FR"]),
           "de": make("de@example.com", "analyst", ["DE"]),
           "frde": make("frde@example.com", "viewer", ["FR", "DE"]),
           "all": make("all@example.com", "analyst"),
           "viewer": make("viewer@example.com", "viewer")}
    session.flush()
    return out


def scope_of(user) -> Scope:
    return Scope.of(user.countries)


def test_a_note_is_seen_within_the_scope_it_was_written_under(session, people):
    fr_note = annotations.create(session, people["fr"], D(2025, 12, 1), None, "FR price change")
    shop_note = annotations.create(session, people["all"], D(2025, 12, 3), D(2025, 12, 5),
                                   "site outage")
    assert fr_note.countries == ["FR"] and shop_note.countries is None

    def seen(user):
        return [row.text for row in annotations.listed(session, scope_of(user))]

    assert seen(people["de"]) == ["site outage"]                   # FR's note hidden
    assert seen(people["admin"]) == ["FR price change", "site outage"]   # all data
    assert seen(people["frde"]) == ["FR price change", "site outage"]
    assert seen(people["viewer"]) == ["FR price change", "site outage"]


def test_listing_keeps_notes_that_touch_the_period(session, people):
    annotations.create(session, people["all"], D(2025, 11, 28), D(2025, 12, 2), "range")
    annotations.create(session, people["all"], D(2025, 12, 10), None, "later")
    annotations.create(session, people["all"], D(2025, 11, 1), None, "earlier")
    rows = annotations.listed(session, Scope(), D(2025, 12, 1), D(2025, 12, 9))
    assert [row.text for row in rows] == ["range"]      # 28 Nov – 2 Dec overlaps


def test_viewers_cannot_write(session, people):
    with pytest.raises(AnnotationAccessDenied):
        annotations.create(session, people["viewer"], D(2025, 12, 1), None, "hello")


@pytest.mark.parametrize("start, end, text, message", [
    (D(2025, 12, 2), D(2025, 12, 1), "x", "end (2025-12-01) is before start (2025-12-02)"),
    (D(2025, 12, 2), None, "   ", "text must not be empty"),
    (D(2025, 12, 2), None, "x" * 501, "at most 500 characters"),
    ("2025-12-02", None, "x", "start must be a date"),
])
def test_bad_notes_are_refused_naming_the_field(session, people, start, end, text, message):
    with pytest.raises(AnnotationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        annotations.create(session, people["all"], start, end, text)


def test_only_the_writer_or_an_admin_who_sees_it_changes_a_note(session, people):
    note = annotations.create(session, people["fr"], D(2025, 12, 1), None, "FR price change")
    for other in ("de", "all"):
        with pytest.raises(AnnotationNotFound):
            annotations.update(session, people[other], note.id, {"text": "mine"},
                               scope=scope_of(people[other]))
        with pytest.raises(AnnotationNotFound):
            annotations.delete(session, people[other], note.id, scope=scope_of(people[other]))
    changed = annotations.update(session, people["fr"], note.id,
                                 {"end": D(2025, 12, 4), "text": "FR prices up 5 %"},
                                 scope=scope_of(people["fr"]))
    assert (changed.end_date, changed.text) == (D(2025, 12, 4), "FR prices up 5 %")
    annotations.update(session, people["admin"], note.id, {"end": None}, scope=Scope())
    assert note.end_date is None
    annotations.delete(session, people["admin"], note.id, scope=Scope())
    assert annotations.listed(session, Scope()) == []


# ------------------------------------------------------------------ in the reports
@pytest.fixture
def shop(tmp_path):
    from analytics.warehouse import Warehouse
    from tests.workers.support import publish_tiny_shop
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse'}")
    publish_tiny_shop(warehouse)
    yield warehouse
    warehouse.dispose()


def test_reports_list_the_notes_their_scope_may_see(session, people, shop, settings,
                                                    tmp_path):
    import shutil
    import subprocess

    import openpyxl

    from analytics.filters import Filters
    from core.reports import render_report
    from tests.workers.support import TINY_PERIOD

    annotations.create(session, people["fr"], D(2011, 3, 2), D(2011, 3, 4), "FR price change")
    annotations.create(session, people["de"], D(2011, 3, 3), None, "DE outage")
    annotations.create(session, people["all"], D(2011, 4, 10), None, "after the period")
    session.commit()
    march = Filters.from_query(TINY_PERIOD + "&compare=last_year")
    pdf = render_report(shop, march, Scope.of(["FR"]), "pdf", tmp_path / "pdf",
                        app_database_url=settings.database_url)
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is needed"
    text = subprocess.run(["pdftotext", "-layout", str(pdf.path), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "Notes" in text
    assert "2011-03-02 – 2011-03-04: FR price change" in text
    assert "DE outage" not in text and "after the period" not in text
    assert "(the same days last year)" in text and "Last year" in text
    book = openpyxl.load_workbook(render_report(
        shop, march, Scope.of(["FR"]), "xlsx", tmp_path / "xlsx",
        app_database_url=settings.database_url).path)
    rows = list(book["Notes"].iter_rows(values_only=True))
    assert rows[0] == ("From", "To", "Note")
    assert [(r[0].date(), r[1].date(), r[2]) for r in rows[1:]] == [
        (D(2011, 3, 2), D(2011, 3, 4), "FR price change")]
    assert book["Summary KPIs"].cell(2, 2).value  # the cover rows are there
