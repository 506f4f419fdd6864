"""Anomalies of a period, with yearly seasonality and holidays taken into account."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics.models.anomalies import (AnomalyDetector, anomaly_sentence, holiday_calendar,
                                        retail_events, robust_monitor, yearly_alignment)

holidays = pytest.importorskip("holidays")


def shop(years: int = 4, seed: int = 0, factors: dict | None = None,
         end: str = "2024-12-31") -> pd.DataFrame:
    """Daily orders (Poisson, 100 a weekday, 70 at weekends, a smooth yearly wave) at 50 a
    order; ``factors`` = {day: multiplier}, applied to the expected orders."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=end, periods=years * 365, freq="D")
    level = 100 * np.where(dates.day_of_week >= 5, 0.7, 1.0) * \
        (1 + 0.25 * np.sin(2 * np.pi * dates.day_of_year / 365.25))
    for day, factor in (factors or {}).items():
        level = np.where(dates == pd.Timestamp(day), level * factor, level)
    orders = rng.poisson(level).astype(float)
    revenue = orders * 50.0
    return pd.DataFrame({"date": dates, "revenue": revenue, "orders": orders,
                         "aov": revenue / orders, "units": 2 * orders})


def flagged(daily, start="2024-01-01", end=None, **options) -> set[str]:
    detector = AnomalyDetector("revenue", **options).fit(daily, start, end)
    return {day.date().isoformat() for day in detector.anomalies_["date"]}


def black_fridays(first: int, last: int) -> list[dt.date]:
    return sorted(day for day, name in retail_events(range(first, last + 1)).items()
                  if name == "Black Friday")


def test_black_friday_is_the_fourth_friday_of_november():
    assert black_fridays(2022, 2024) == [dt.date(2022, 11, 25), dt.date(2023, 11, 24),
                                         dt.date(2024, 11, 29)]


def test_a_planted_spike_in_the_period_is_found_and_only_the_period_is_listed():
    daily = shop(factors={"2024-06-12": 3.0, "2023-06-14": 3.0})
    found = flagged(daily, "2024-01-01", "2024-12-31")
    assert "2024-06-12" in found
    assert "2023-06-14" not in found          # before the period: learnt from, not listed
    assert all(day >= "2024-01-01" for day in found)
    assert len(found) <= 3


def test_a_peak_on_the_same_date_every_year_is_expected():
    peaks = {f"{year}-02-14": 2.5 for year in (2021, 2022, 2023, 2024)}
    daily = shop(factors=peaks)
    assert "2024-02-14" in flagged(daily, yearly=False)   # the detector before periods did
    assert "2024-02-14" not in flagged(daily)
    # the first year has no earlier year to compare with: there it is unusual
    assert "2021-02-14" in flagged(daily, "2021-01-01", "2021-12-31")


def test_a_black_friday_like_last_years_is_expected_a_doubled_one_is_not():
    fridays = black_fridays(2021, 2024)
    usual = {day.isoformat(): 3.5 for day in fridays}
    daily = shop(factors=usual)
    assert "2024-11-29" in flagged(daily, yearly=False)
    assert "2024-11-29" not in flagged(daily)
    # twice as big as in earlier years: still unusual, above what last years make expected
    doubled = shop(factors={**usual, "2024-11-29": 7.0})
    detector = AnomalyDetector("revenue").fit(doubled, "2024-01-01")
    row = detector.anomalies_.set_index(detector.anomalies_["date"].dt.date.astype(str))
    assert "2024-11-29" in row.index and row.loc["2024-11-29", "direction"] == "above"
    assert row.loc["2024-11-29", "expected"] > 2.5 * 5000   # last years' peak, not a Friday


def test_a_moving_holiday_peak_is_aligned_with_the_holiday_not_the_date():
    """Easter Monday moves (2022-04-18, 2023-04-10, 2024-04-01): with the GB calendar it is
    compared with the earlier Easter Mondays; without it, with ordinary days."""
    easter_mondays = [day for day, name in holidays.country_holidays(
        "GB", subdiv="ENG", years=range(2021, 2025)).items() if name == "Easter Monday"]
    assert len(easter_mondays) == 4
    daily = shop(factors={day.isoformat(): 2.5 for day in easter_mondays})
    assert "2024-04-01" not in flagged(daily, country_code="GB")
    assert "2024-04-01" in flagged(daily, country_code=None)


def test_an_ordinary_day_is_not_unusual_because_last_year_was():
    """Only unusual comparable days move ``expected``: a one-off spike last year makes the
    same date this year neither expected high nor unusual (the median of three years)."""
    daily = shop(factors={"2023-06-14": 3.0})
    assert "2024-06-14" not in flagged(daily)


def test_alignment_picks_the_same_holiday_or_the_same_calendar_date():
    dates = pd.date_range("2022-01-01", "2024-12-31", freq="D")
    events, country = holiday_calendar(range(2021, 2026), "GB")
    assert country == "GB"
    aligned = yearly_alignment(dates, events, years=2)
    position = {day.date(): index for index, day in enumerate(dates)}

    def back(day, years):
        target = aligned[position[day], years - 1]
        return None if target < 0 else dates[target].date()

    assert back(dt.date(2024, 11, 29), 1) == dt.date(2023, 11, 24)      # Black Friday
    assert back(dt.date(2024, 12, 2), 1) == dt.date(2023, 11, 27)       # Cyber Monday
    assert back(dt.date(2024, 4, 1), 2) == dt.date(2022, 4, 18)         # Easter Monday
    assert back(dt.date(2024, 7, 10), 1) == dt.date(2023, 7, 10)        # calendar date
    assert back(dt.date(2024, 2, 29), 1) == dt.date(2023, 2, 28)
    assert back(dt.date(2022, 7, 10), 1) is None                         # before the data
    assert holiday_calendar(range(2024, 2025), "XX")[1] is None          # unknown country


def test_the_robust_monitor_sees_the_last_days_of_the_period():
    daily = shop(factors={"2024-12-31": 4.0})
    monitor = robust_monitor(daily, "revenue")
    assert monitor["date"].iloc[-1] == pd.Timestamp("2024-12-31")
    assert monitor["alert"].tolist()[-1] and not any(monitor["alert"].tolist()[:-1])


def test_the_sentence_leads_with_date_money_and_the_slice():
    anomaly = {"date": pd.Timestamp("2025-06-18"), "value": 27640.0, "expected": 10740.0,
               "z": 8.06}
    top = {"dimension": "country", "value": "EIRE", "share": 0.95}
    assert anomaly_sentence(anomaly, "revenue", "£", top) == (
        "On Wed 18 Jun 2025 revenue was £27,640 against £10,740 expected (£16,900 above, "
        "+157%), 8.1 times the usual day-to-day swing; country EIRE accounts for 95% of the "
        "difference.")
    assert anomaly_sentence({**anomaly, "value": 5.0, "expected": 98.0, "z": -6.0},
                            "orders") == (
        "On Wed 18 Jun 2025 orders were 5 against 98 expected (93 below, -95%), 6.0 times "
        "the usual day-to-day swing.")


def channel_shop(seed: int = 0):
    """Three years of daily orders (Poisson, 100 a weekday, 70 at weekends, ×3 on every
    Black Friday) over two channels: Web 70 %, App 30 %. The app has its own sale on every
    1 March (×3 for the app only), and an outage on 2024-06-10…13 (95 % of its orders lost).
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-01", "2024-12-31", freq="D")
    fridays = [pd.Timestamp(day) for day in black_fridays(2022, 2024)]
    level = 100 * np.where(dates.day_of_week >= 5, 0.7, 1.0) * np.where(
        dates.isin(fridays), 3.0, 1.0)
    app_level = 0.3 * level * np.where((dates.month == 3) & (dates.day == 1), 3.0, 1.0)
    web = rng.poisson(0.7 * level).astype(float)
    app = rng.poisson(app_level).astype(float)
    outage = (dates >= "2024-06-10") & (dates <= "2024-06-13")
    app[outage] = rng.binomial(app[outage].astype(int), 0.05)
    frames = [pd.DataFrame({"dimension": "channel", "value": name, "date": dates,
                            "orders": orders, "units": 2 * orders, "revenue": 40 * orders,
                            "gross_revenue": 40 * orders})
              for name, orders in (("Web", web), ("App", app))]
    total = web + app
    daily = pd.DataFrame({"date": dates, "orders": total, "units": 2 * total,
                          "revenue": 40 * total, "gross_revenue": 40 * total})
    return daily, pd.concat(frames, ignore_index=True)


def test_slices_expect_their_own_recurring_peaks_and_still_find_the_outage():
    from analytics.models.anomalies import slice_anomalies

    daily, slices = channel_shop()
    events, _ = holiday_calendar(range(2021, 2026), None)
    found = slice_anomalies(daily, slices, "orders", start="2024-01-01", events=events)
    plain = slice_anomalies(daily, slices, "orders", start="2024-01-01")
    app_sale = pd.Timestamp("2024-03-01")

    def has(frame, day, direction):
        return any(row.value == "App" and row.direction == direction
                   and row.start <= pd.Timestamp(day) <= row.end
                   for row in frame.itertuples())

    assert has(plain, app_sale, "above")           # without the yearly effect: unusual
    assert not has(found, app_sale, "above")       # like the earlier 1 Marches: expected
    assert has(found, "2024-06-11", "below")       # the outage is still found
    assert all(row.end >= pd.Timestamp("2024-01-01") for row in found.itertuples())
    assert len(found) <= 3


@pytest.fixture(scope="module")
def small_shop(tmp_path_factory):
    """400 days from 2022-01-03 (tests.analytics.models.synthetic.shop_lines) with a France
    spike on 2022-09-14."""
    from analytics.warehouse import Warehouse
    from tests.analytics.models.synthetic import shop_lines

    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('anomaly-periods')}")
    warehouse.publish(shop_lines(), source="synthetic")
    yield warehouse
    warehouse.dispose()


def test_a_one_day_period_is_judged_against_the_history_before_it(small_shop):
    from analytics.filters import ALL_DATA, Filters
    from analytics.models import run_model

    spike = Filters(start=dt.date(2022, 9, 14), end=dt.date(2022, 9, 14))
    result = run_model("anomalies", small_shop, spike, ALL_DATA, {"metric": "orders"})
    assert result["period"] == {"start": "2022-09-14", "end": "2022-09-14", "days": 1}
    assert [a["date"] for a in result["anomalies"]] == ["2022-09-14"]
    assert result["sentence"].startswith(
        "1 unusual day of orders between 2022-09-14 and 2022-09-14 (1 day), compared with "
        "no earlier year (yearly seasonality not taken into account); holidays: GB, ")
    assert result["holidays"]["country"] == "GB"
    assert result["monitor"][-1]["date"] == "2022-09-14"   # the monitor ends with the period
    assert all(a["end"] >= "2022-09-14" for a in result["slice_anomalies"])


def test_a_period_without_enough_history_says_what_is_needed(small_shop):
    from analytics.filters import ALL_DATA, Filters
    from analytics.models import ModelError, run_model

    early = Filters(start=dt.date(2022, 1, 3), end=dt.date(2022, 1, 20))
    with pytest.raises(ModelError, match="needs at least 28"):
        run_model("anomalies", small_shop, early, ALL_DATA, {})
    before = Filters(start=dt.date(2020, 1, 1), end=dt.date(2020, 12, 31))
    with pytest.raises(ModelError, match="no data"):
        run_model("anomalies", small_shop, before, ALL_DATA, {})


def test_a_slice_sentence_says_how_unusual_it_is():
    from analytics.models.runner import _slice_sentence

    assert _slice_sentence({
        "start": pd.Timestamp("2025-07-19"), "end": pd.Timestamp("2025-07-22"),
        "dimension": "channel", "value": "Mobile App", "deviation": -93.0,
        "direction": "below", "actual": 5.0, "expected": 98.0, "relative": 5 / 98 - 1,
        "z": -10.04}) == ("From 2025-07-19 to 2025-07-22 orders in channel Mobile App were 93 "
                          "below expected (5 vs 98, -95%), 10.0 times the usual day-to-day "
                          "swing.")
