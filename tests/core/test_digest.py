"""The weekly digest (core.digest) on hand-made data: the KPIs of the last 7 days and
their change worked out by hand, the planted mover named first in numbers and words, the
recipient's scope, the anomaly monitor's unusual day with its explanation, the forecast in
words, and the e-mail (plain text, escaped HTML with inline styles, the chart as a PNG)."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics.filters import Filters, Scope
from analytics.warehouse import Warehouse
from core import digest as digests
from tests.analytics.conftest import publish_lines
from tests.workers.support import settings_for, worker_environment

DAY = dt.date(2011, 3, 1)
# Per day, one order per country (customer = the country), one product each:
#   GB  Lamp   (Lighting) 300 a day both weeks
#   FR  Candle (Candles)  200 a day in the previous week (1–7 Mar), 50 in the week (8–14)
#   DE  Mug    (Kitchen)  100 a day, then 80
# Week 8–14 Mar: revenue 7 × (300 + 50 + 80) = 3,010; previous 7 × 600 = 4,200.
# Change −1,190 (−28.3 %). Orders 21 and 21 (no change); customers 3 and 3;
# AOV 3,010 / 21 = 143.33 against 200.00 (−56.67, −28.3 %).
# Movers: France/Candle/Candles 1,400 → 350 (−1,050), Germany/Mug/Kitchen 700 → 560
# (−140); GB did not move and is not listed.
COUNTRIES = {"GB": ("United Kingdom", "P1", "Lamp", "Lighting", 300, 300),
             "FR": ("France", "P2", "Candle", "Candles", 200, 50),
             "DE": ("Germany", "P3", "Mug", "Kitchen", 100, 80)}
TODAY = dt.date(2011, 3, 20)


def _lines(days: int = 14) -> list[dict]:
    rows = []
    for offset in range(days):
        day = DAY + dt.timedelta(days=offset)
        for code, (country, product, description, category, before, after) in \
                COUNTRIES.items():
            rows.append({"invoice_id": f"{code}{offset:02d}", "invoice_ts": f"{day} 10:00",
                         "customer_id": f"C-{code}", "product_id": product,
                         "description": description, "category": category,
                         "country": country, "country_code": code, "quantity": 1.0,
                         "unit_price": before if offset < 7 else after})
    return rows


@pytest.fixture
def warehouse(tmp_path):
    settings = settings_for(worker_environment(tmp_path / "home"))
    warehouse = Warehouse(settings.warehouse_url)
    yield warehouse
    warehouse.dispose()


def test_the_week_against_the_week_before_and_the_planted_mover(warehouse, tmp_path):
    publish_lines(warehouse, _lines())
    digest = digests.gather_digest(warehouse, Filters(), Scope(), today=TODAY)
    assert (digest.start, digest.end) == (dt.date(2011, 3, 8), dt.date(2011, 3, 14))
    assert (digest.previous_start, digest.previous_end) == (DAY, dt.date(2011, 3, 7))
    revenue = digest.kpis["revenue"]
    assert (revenue.current, revenue.previous) == (pytest.approx(3010), pytest.approx(4200))
    assert revenue.rel_change == pytest.approx(-1190 / 4200)
    assert (digest.kpis["orders"].current, digest.kpis["orders"].previous) == (21, 21)
    assert digest.kpis["customers"].current == 3
    assert digest.kpis["aov"].current == pytest.approx(3010 / 21)
    assert digest.actions == []  # no sessions or ad spend: nothing to act on
    lines = {line["name"]: line for line in digest.kpi_lines()}
    assert lines["revenue"]["value"] == "£3,010"
    assert lines["revenue"]["change"].startswith("−£1,190 (−28.3%")
    assert lines["aov"]["value"] == "£143.33"

    for dimension, label in (("country", "France"), ("product", "Candle"),
                             ("category", "Candles")):
        first, second = digest.movers[dimension]
        assert (first.label, first.previous, first.current) == (label, 1400, 350)
        assert first.change == pytest.approx(-1050)
        assert second.change == pytest.approx(-140)
    assert "Countries: France fell most. France: £1,400 → £350 (−£1,050); Germany: £700 " \
           "→ £560 (−£140)." in digest.mover_sentences()
    assert digest.anomalies == []  # two weeks are too short for the monitor's 28 days
    assert digest.forecast.startswith("No forecast this week: ")

    email = digests.digest_email(digest, tmp_path)
    assert email["subject"] == ("Weekly digest: Revenue (net) £3,010 (−£1,190 (−28.3%)) in "
                                "the week to 14 Mar 2011")
    assert "Week 8 Mar 2011 – 14 Mar 2011, compared with 1 Mar 2011 – 7 Mar 2011" \
        in email["text"]
    assert "  Revenue (net): £3,010 (−£1,190 (−28.3%); was £4,200)" in email["text"]
    assert "France: £1,400 → £350 (−£1,050)" in email["html"]
    assert 'style="' in email["html"] and "<style" not in email["html"]
    [(cid, path)] = email["images"].items()
    assert f'src="cid:{cid}"' in email["html"]
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_under_the_recipients_scope_and_with_escaped_names(warehouse, tmp_path):
    rows = _lines()
    for row in rows:
        if row["country_code"] == "FR":
            row["description"] = "<b>Candle</b> & co"
    publish_lines(warehouse, rows)
    french = digests.gather_digest(warehouse, Filters(), Scope.of(["FR"]), today=TODAY,
                                   title="Digest <FR>")
    assert (french.kpis["revenue"].current, french.kpis["revenue"].previous) == (350, 1400)
    assert [m.label for m in french.movers["country"]] == ["France"]
    email = digests.digest_email(french, tmp_path)
    assert "Digest &lt;FR&gt;" in email["html"] and "<FR>" not in email["html"]
    assert "&lt;b&gt;Candle&lt;/b&gt; &amp; co" in email["html"]
    assert "<b>Candle</b> & co" in email["text"]
    assert "Germany" not in email["text"] and "United Kingdom" not in email["text"]
    # the schedule's own dates are ignored: a digest is always about the latest week
    dated = digests.gather_digest(warehouse, Filters.from_query("start=2011-03-01&"
                                                                "end=2011-03-02"),
                                  Scope(), today=TODAY, forecast=False)
    assert (dated.start, dated.end) == (dt.date(2011, 3, 8), dt.date(2011, 3, 14))


def test_the_last_day_is_left_out_while_it_is_today(warehouse):
    publish_lines(warehouse, _lines())
    digest = digests.gather_digest(warehouse, Filters(), Scope(), today=dt.date(2011, 3, 14),
                                   forecast=False)
    assert (digest.start, digest.end) == (dt.date(2011, 3, 7), dt.date(2011, 3, 13))


def test_no_data_no_digest(warehouse):
    with pytest.raises(digests.DigestError, match="no data has been loaded yet"):
        digests.gather_digest(warehouse, Filters(), Scope(), today=TODAY)


def test_the_unusual_day_is_explained_and_the_forecast_said_in_words(warehouse):
    # The alerts' anomaly data (tests/core/test_alerts.py), 70 days long (a forecast needs
    # 8 weeks): from 1 Mar, GB 300–312 and France 200–206 a day; on the last day (9 May)
    # France sells 20 and GB 309: £329. A week before: GB 312, France 204. The drop,
    # −187, is France's −184 (98 %).
    rows = []
    for offset in range(70):
        day = DAY + dt.timedelta(days=offset)
        gb = 300 + ((offset * 7) % 5) * 3
        fr = 20 if offset == 69 else 200 + ((offset * 3) % 4) * 2
        for country, code, amount in (("United Kingdom", "GB", gb), ("France", "FR", fr)):
            rows.append({"invoice_id": f"{code}{offset:02d}", "invoice_ts": f"{day} 10:00",
                         "country": country, "country_code": code, "unit_price": amount})
    publish_lines(warehouse, rows)
    digest = digests.gather_digest(warehouse, Filters(), Scope(), today=dt.date(2011, 5, 30))
    [anomaly] = digest.anomalies
    assert anomaly["direction"] == "down"
    assert anomaly["sentence"].startswith("Revenue (net) on 9 May 2011 was £329.00, "
                                          "unusually low")
    assert anomaly["explanation"] == "France accounts for 98 % of the drop (−£184)"
    numbers = digest.forecast_numbers
    assert numbers is not None and numbers["days"] == 30
    assert numbers["next_lower"] <= numbers["next_total"] <= numbers["next_upper"]
    assert numbers["model"].split(" — ")[0] in ("seasonal naive", "ETS") or \
        "+" in numbers["model"]
    total = f"£{numbers['next_total']:,.0f}"
    assert digest.forecast.startswith(f"Revenue over the next 30 days should be about {total} "
                                      "(likely £")
