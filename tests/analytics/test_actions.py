"""The action rules of ``analytics.actions`` on numbers worked out by hand: each rule fires
on its case and on nothing flat; the thresholds can be overridden (and a bad override is
refused, naming the key); ``action_table`` ranks by money at stake on a hand-made store;
the planted "Advantage+ Shopping" collapse of the demo data is found.

The store (period 2024-01-08…14, previous 2024-01-01…07; one product per category):

| category | product | previous week | this week | at stake            |
|----------|---------|---------------|-----------|---------------------|
| Mugs     | M1      | 1000          | 500       | 500 (down 50 %)     |
| Teas     | T1      | 400           | 200       | 200 (down 50 %)     |
| Bowls    | B1      | 300           | 300       | flat: no action     |

Sessions 100 a week both weeks (stable). Google Ads "Brand": spend 100 → 140, platform
conversion value 410 → 322 (ROAS 4.1 → 2.3, spend +40 %): at stake 140 × 1.8 = 252. Google
Ads "Flat": spend 200 and value 600 both weeks: no action. The orders carry no traffic
source an ad channel matches, so the Google Ads channel has attributed ROAS 0 both weeks:
no action.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import actions
from analytics.actions import Item, judge
from analytics.filters import Filters, Scope
from tests.analytics.conftest import publish_lines

LIMITS = dict(actions.THRESHOLDS)
PERIOD = Filters(start=dt.date(2024, 1, 8), end=dt.date(2024, 1, 14))


def ad(level="campaign", spend=(100.0, 100.0), revenue=(400.0, 400.0), conversions=(10, 10),
       clicks=(500, 500)) -> Item:
    roas = tuple(r / s if s else None for r, s in zip(revenue, spend))
    return Item(level, "Brand", channel="Google Ads", spend=spend, revenue=revenue, roas=roas,
                conversions=conversions, traffic=clicks, traffic_name="clicks")


def shelf(level="category", revenue=(1000.0, 1000.0), sessions=(100.0, 100.0)) -> Item:
    return Item(level, "Mugs", revenue=revenue, traffic=sessions)


# ------------------------------------------------------------------ each rule fires
def test_roas_fell_while_spend_rose():
    # ROAS 410/100 = 4.1 → 322/140 = 2.3 (−44 %), spend +40 %: 140 × (4.1 − 2.3) = 252
    action = judge(ad(spend=(140.0, 100.0), revenue=(322.0, 410.0), conversions=(9, 10)),
                   LIMITS)
    assert action.rule == "roas_fell"
    assert action.reason == "ROAS fell from 4.10 to 2.30 while spend rose 40 %"
    assert action.action == "check the campaign"
    assert action.stake == pytest.approx(252.0)


def test_roas_fell_with_spend_held_says_held_and_a_channel_checks_its_campaigns():
    # ROAS 4 → 2 on the same spend: 100 × 2 = 200
    action = judge(ad("channel", revenue=(200.0, 400.0)), LIMITS)
    assert (action.rule, action.stake) == ("roas_fell", pytest.approx(200.0))
    assert action.reason == "ROAS fell from 4.00 to 2.00 while spend held (±0 %)"
    assert action.action == "check the channel's campaigns"


def test_spend_up_conversions_flat():
    # spend 100 → 150 (+50 %), ROAS 4 → 3.2 (−20 %, under the 25 % of roas_fell),
    # conversions 10 → 10: the extra spend, 50, is at stake
    action = judge(ad(spend=(150.0, 100.0), revenue=(480.0, 400.0)), LIMITS)
    assert action.rule == "spend_up_flat"
    assert action.reason == "spend up 50 %, conversions flat (±0 %)"
    assert action.stake == pytest.approx(50.0)


def test_growing_ads_and_shelves():
    # revenue 400 → 540 (+35 %), clicks 500 → 600 (+20 %), spend 100 → 120: ROAS 4 → 4.5;
    # at stake what the extra 20 of spend brought: 140 − 20
    action = judge(ad(spend=(120.0, 100.0), revenue=(540.0, 400.0), conversions=(13, 10),
                      clicks=(600, 500)), LIMITS)
    assert action.rule == "growing"
    assert action.reason == "revenue up 35 % on rising clicks (+20 %)"
    assert (action.action, action.stake) == ("consider more budget", pytest.approx(120.0))
    shelf_action = judge(shelf(revenue=(1350.0, 1000.0), sessions=(115.0, 100.0)), LIMITS)
    assert shelf_action.reason == "revenue up 35 % on rising traffic (+15 %)"
    assert (shelf_action.action, shelf_action.stake) == ("consider more stock",
                                                          pytest.approx(350.0))


def test_revenue_fell_with_stable_traffic():
    # 1000 → 700 (−30 %) on sessions 100 → 102 (+2 %): 300 at stake
    action = judge(shelf("product", revenue=(700.0, 1000.0), sessions=(102.0, 100.0)), LIMITS)
    assert action.rule == "revenue_fell"
    assert action.reason == "revenue down 30 % with stable traffic (+2 %)"
    assert (action.action, action.stake) == ("check prices and stock", pytest.approx(300.0))


def test_without_sessions_the_reason_says_so():
    action = judge(Item("category", "Mugs", revenue=(700.0, 1000.0)), LIMITS)
    assert action.reason == "revenue down 30 % (no sessions data to compare traffic)"


# ------------------------------------------------------------------ and nothing else
def test_flat_numbers_fire_nothing():
    assert judge(ad(), LIMITS) is None
    assert judge(ad("channel"), LIMITS) is None
    assert judge(shelf(), LIMITS) is None
    assert judge(shelf("product"), LIMITS) is None
    assert judge(Item("category", "Mugs", revenue=(1000.0, 1000.0)), LIMITS) is None


def test_near_misses_fire_nothing():
    # ROAS −20 % (under 25 %), spend +20 % (under 25 %)
    assert judge(ad(spend=(120.0, 100.0), revenue=(384.0, 400.0), conversions=(10, 10)),
                 LIMITS) is None
    # revenue −30 % but traffic −30 % too: the fall follows traffic
    assert judge(shelf(revenue=(700.0, 1000.0), sessions=(70.0, 100.0)), LIMITS) is None
    # revenue +35 % on falling traffic is not "rising traffic"
    assert judge(shelf(revenue=(1350.0, 1000.0), sessions=(95.0, 100.0)), LIMITS) is None
    # a collapse below min_spend / min_revenue is not news
    assert judge(ad(spend=(14.0, 10.0), revenue=(10.0, 41.0)), LIMITS) is None
    assert judge(shelf(revenue=(50.0, 150.0)), LIMITS) is None


def test_thresholds_override_and_refusal(monkeypatch):
    case = ad(spend=(120.0, 100.0), revenue=(384.0, 400.0))   # ROAS 4 → 3.2 (−20 %)
    monkeypatch.setenv(actions.ENVIRONMENT_VARIABLE, '{"roas_drop": 0.15}')
    limits = actions.thresholds()
    assert limits["roas_drop"] == 0.15 and limits["min_spend"] == 50.0
    assert judge(case, limits).rule == "roas_fell"
    for text, words in (('{"roas_dorp": 1}', "unknown threshold 'roas_dorp'"),
                        ('{"min_spend": -1}', "min_spend must be a number"),
                        ("[1]", "must be a JSON object"), ("{", "not valid JSON")):
        with pytest.raises(actions.ThresholdError, match=words):
            actions.thresholds(text)


# ------------------------------------------------------------------ on a store
def _sale(invoice, day, category, product, value):
    return {"invoice_id": invoice, "invoice_ts": f"2024-01-{day:02d} 10:00",
            "customer_id": f"C{invoice}", "product_id": product, "category": category,
            "quantity": 1, "unit_price": value, "channel": "Web"}


LINES = [_sale(f"{week}{product}", day, category, product, value)
         for week, day, values in (("A", 3, (1000, 400, 300)), ("B", 10, (500, 200, 300)))
         for (category, product), value in zip((("Mugs", "M1"), ("Teas", "T1"),
                                                ("Bowls", "B1")), values)]
SESSIONS = pd.DataFrame([{"session_date": f"2024-01-{day:02d}", "sessions": 100}
                         for day in (3, 10)])


def _ads(day, campaign, spend, value):
    return {"ad_date": f"2024-01-{day:02d}", "channel": "Google Ads", "campaign": campaign,
            "impressions": 1000, "clicks": 100, "spend": spend, "conversions": 5.0,
            "conversion_value": value, "currency": "GBP"}


ADS = pd.DataFrame([_ads(3, "Brand", 100.0, 410.0), _ads(10, "Brand", 140.0, 322.0),
                    _ads(3, "Flat", 200.0, 600.0), _ads(10, "Flat", 200.0, 600.0)])


@pytest.fixture
def store(warehouse):
    publish_lines(warehouse, LINES, sessions=SESSIONS)
    warehouse.publish_traffic(ad_spend=ADS)
    return warehouse


def test_ranked_by_money_at_stake(store, monkeypatch):
    monkeypatch.delenv(actions.ENVIRONMENT_VARIABLE, raising=False)
    table = actions.action_table(store, PERIOD, Scope())
    assert [w.name for w in table.windows] == ["last 7 days"]   # the period is those 7 days
    frame = table.frame
    got = list(zip(frame["level"], frame["name"], frame["rule"], frame["stake"]))
    assert got == [("category", "Mugs", "revenue_fell", 500.0),
                   ("product", "M1", "revenue_fell", 500.0),
                   ("campaign", "Brand", "roas_fell", 252.0),
                   ("category", "Teas", "revenue_fell", 200.0),
                   ("product", "T1", "revenue_fell", 200.0)]
    brand = frame[frame["name"] == "Brand"].iloc[0]
    assert brand["reason"] == "ROAS fell from 4.10 to 2.30 while spend rose 40 %"
    assert (brand["channel"], brand["spend"], brand["spend_previous"]) == ("Google Ads", 140.0,
                                                                          100.0)
    assert frame.iloc[0]["reason"] == "revenue down 50 % with stable traffic (±0 %)"


def test_a_longer_period_adds_its_own_window(store):
    table = actions.action_table(store, Filters(start=dt.date(2024, 1, 1),
                                                end=dt.date(2024, 1, 14)), Scope())
    assert [(w.name, w.start, w.previous_start) for w in table.windows] == [
        ("last 7 days", dt.date(2024, 1, 8), dt.date(2024, 1, 1)),
        ("period", dt.date(2024, 1, 1), dt.date(2023, 12, 18))]
    # the period holds both weeks against nothing: no previous values, nothing fires
    assert set(table.frame["window"]) == {"last 7 days"}


def test_the_two_windows_are_read_at_once_with_the_answer_of_one_after_the_other(
        store, monkeypatch):
    """A longer period's two windows are read in two threads on the engines that allow
    it (one after the other on chDB); the table is the same either way."""
    import threading
    seen: list[int] = []
    read = actions.window_items
    parallel = store.reads_in_threads
    # each window waits for the other: broken (an error) unless both are read at once
    meeting = threading.Barrier(2, timeout=10) if parallel else None

    def recording(*args, **kwargs):
        seen.append(threading.get_ident())
        if meeting is not None:
            meeting.wait()
        return read(*args, **kwargs)

    monkeypatch.setattr(actions, "window_items", recording)
    two_weeks = Filters(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 14))
    together = actions.action_table(store, two_weeks, Scope())
    assert len(seen) == 2 and (len(set(seen)) == 2) == parallel
    seen.clear()
    meeting = None
    monkeypatch.setattr(store, "reads_in_threads", False)
    apart = actions.action_table(store, two_weeks, Scope())
    assert set(seen) == {threading.get_ident()}
    assert together.windows == apart.windows and together.notes == apart.notes
    pd.testing.assert_frame_equal(together.frame, apart.frame)
    assert len(together.frame)          # the last 7 days fire (test_ranked_by_money_at_stake)


def test_planted_campaign_found_on_a_small_demo(demo_store):
    table = actions.action_table(demo_store, Filters(), Scope())
    frame = table.frame.reset_index(drop=True)
    planted = frame[(frame["name"] == "Advantage+ Shopping") & (frame["level"] == "campaign")]
    assert len(planted) >= 1
    row = planted.iloc[0]
    assert (row["rule"], row["window"], row["channel"]) == ("roas_fell", "period", "Meta Ads")
    assert row["roas_previous"] > 2 * row["roas"]
    assert planted.index[0] < 15   # shown among the first rows of the page's table
    first_campaign_fall = frame[(frame["level"] == "campaign")
                                & (frame["rule"] == "roas_fell")].iloc[0]
    assert first_campaign_fall["name"] == "Advantage+ Shopping"


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from analytics.warehouse import Warehouse
    from data.loader import load_demo
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('demo')}/warehouse")
    load_demo(warehouse, lines=DEMO_LINES, seed=42)
    yield warehouse
    warehouse.dispose()


#: Enough lines for the demo's ad spend (drawn from the orders) to pass ``min_spend``.
DEMO_LINES = 50_000


# ------------------------------------------------------------------ the page's series
def test_spend_and_revenue_by_day(store):
    from analytics import marketing
    frame = marketing.spend_and_revenue(store, PERIOD, Scope(), grain="day")
    by_day = dict(zip(frame["period_start"].astype(str), zip(frame["revenue"],
                                                             frame["spend"])))
    assert len(frame) == 7
    assert by_day["2024-01-10"] == (1000.0, 340.0)     # 500 + 200 + 300; Brand 140 + Flat 200
    assert by_day["2024-01-11"] == (0.0, 0.0)


def test_funnel_needs_its_steps(store, warehouse):
    from analytics import marketing
    assert marketing.funnel(store, PERIOD, Scope()).empty     # sessions only
    store.publish_traffic(sessions=pd.DataFrame([
        {"session_date": "2024-01-10", "sessions": 100, "add_to_carts": 20,
         "checkouts": 8}]))
    frame = marketing.funnel(store, PERIOD, Scope())
    assert list(frame["step"]) == ["sessions", "add_to_carts", "checkouts", "orders"]
    assert list(frame["count"]) == [100.0, 20.0, 8.0, 3.0]        # B-week invoices
    assert list(frame["share"]) == [1.0, 0.2, 0.08, 0.03]


def test_the_weekly_digest_lists_the_weeks_actions(demo_store, tmp_path):
    """The digest's "What to do next" is the action table of the digest's week against
    the week before, its first three rows, in words, in the text and the HTML; a shop
    without sessions or ad spend has none (tests/core/test_digest.py)."""
    import datetime as dt

    from core import digest as digests

    made = digests.gather_digest(demo_store, Filters(), Scope(), currency="£",
                                 today=dt.date(2026, 1, 1), forecast=False)
    end = made.end
    week = Filters(start=end - dt.timedelta(days=6), end=end)
    expected = actions.action_table(demo_store, week, Scope()).frame.head(3)
    assert [a["item"] for a in made.actions] == expected["name"].astype(str).tolist()
    assert len(made.actions) == 3
    email = digests.digest_email(made, tmp_path)
    assert "What to do next" in email["text"] and "What to do next" in email["html"]
    assert made.actions[0]["sentence"] in email["text"]


def test_revenues_of_a_window_and_its_previous_period_by_key(store):
    categories = actions.revenues(store, PERIOD, Scope(), "category")
    assert list(categories.itertuples(index=False, name=None)) == [
        ("Bowls", "Bowls", 300.0, 300.0), ("Mugs", "Mugs", 500.0, 1000.0),
        ("Teas", "Teas", 200.0, 400.0)]
    # a week that only the previous period has sales in: this week's revenue is 0
    later = Filters(start=dt.date(2024, 1, 15), end=dt.date(2024, 1, 21))
    products = actions.revenues(store, later, Scope(), "product")
    assert list(zip(products["key"], products["revenue"], products["revenue_previous"])) == [
        ("B1", 0.0, 300.0), ("M1", 0.0, 500.0), ("T1", 0.0, 200.0)]
