"""What a report says, gathered once and shared by the PDF and the Excel renderers.

Every number comes from the same analytics functions as the dashboard and the API, on the
same resolved period, filters and scope, and is formatted by the same rules: money with
thousands separators (2 decimals below 1,000), counts with separators, rates in % with one
decimal, and an empty KPI as "n/a (reason)", never 0.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from analytics import (breakdowns, cache, catalog, cohorts, customers, kpis, period, products,
                       quality, series)
from analytics.countries import country_name
from analytics.filters import Filters, Scope
from core import annotations, formatting
from core.formatting import format_money, format_value, is_empty
from core.reports.marketing import MarketingSection, gather_marketing

log = logging.getLogger(__name__)

Progress = Callable[..., None]

KPI_LABELS = formatting.KPI_LABELS  # the order of the report: METRICS.md's
HEADLINE_KPIS = catalog.HEADLINE_KPIS
TOP_COUNTRIES = 10
TOP_PRODUCTS = 20
FORECAST_HORIZON = 30
FORECAST_INTERVAL = 0.8
_FILTER_LABELS = {d.param: d.plural for d in catalog.filter_dimensions()}


# ----------------------------------------------------------------- formatting
def format_kpi(kpi: kpis.Kpi, kind: str, currency: str) -> str:
    """The current value, or "n/a (reason)" when it is empty."""
    if is_empty(kpi.current):
        return f"n/a ({kpi.reason or 'no data'})"
    return format_value(kpi.current, kind, currency)


def format_previous(kpi: kpis.Kpi, kind: str, currency: str) -> str:
    if is_empty(kpi.previous):
        return "n/a"
    return format_value(kpi.previous, kind, currency)


def format_change(kpi: kpis.Kpi, kind: str, currency: str) -> str:
    """"+£1,234 (+5.2%)" against the previous period; rates change in points."""
    return formatting.format_change(kpi.abs_change, kpi.rel_change, kind, currency)


def format_date(day: dt.date, locale: "formatting.Locale | str | None" = None) -> str:
    return formatting.format_date(day, locale)


def period_label(start: dt.date, end: dt.date,
                 locale: "formatting.Locale | str | None" = None) -> str:
    """"1 Nov 2025 – 30 Nov 2025" in the locale's date format."""
    return f"{format_date(start, locale)} – {format_date(end, locale)}"


def filters_label(filters: Filters) -> str:
    """The filters other than the dates, in words ("all sales" when there are none)."""
    parts = []
    params = filters.to_dict()
    for name, label in _FILTER_LABELS.items():
        if params.get(name):
            parts.append(f"{label}: {', '.join(params[name])}")
    if filters.min_price is not None or filters.max_price is not None:
        low = "" if filters.min_price is None else f"{filters.min_price:g}"
        high = "" if filters.max_price is None else f"{filters.max_price:g}"
        parts.append(f"Unit price: {low}–{high}")
    if filters.segment:
        parts.append(f"Customer segment: {filters.segment}")
    return "; ".join(parts) or "all sales"


def scope_label(scope: Scope) -> str:
    if scope.countries is None:
        return "all data"
    if not scope.countries:
        return "no data (empty scope)"
    return ", ".join(f"{country_name(code)} ({code})" for code in sorted(scope.countries))


# ----------------------------------------------------------------- content
@dataclass(frozen=True)
class KpiLine:
    """One KPI of the report, raw and formatted."""
    name: str
    label: str
    kind: str
    current: float | None
    previous: float | None
    abs_change: float | None
    rel_change: float | None
    reason: str | None
    current_text: str
    previous_text: str
    change_text: str


@dataclass
class ForecastSection:
    """The revenue forecast, or why there is none (``reason``)."""
    horizon: int
    reason: str | None = None
    model: str | None = None
    interval: float | None = None
    holdout_days: int | None = None
    history: pd.DataFrame | None = None      # date, actual
    forecast: pd.DataFrame | None = None     # date, forecast, lower, upper
    accuracy: dict = field(default_factory=dict)
    baseline_accuracy: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sentence: str | None = None   # "£393,256 expected over the next 30 days, between …"


@dataclass
class ReportContent:
    """Everything a report shows. Frames keep the analytics functions' columns."""
    title: str
    currency: str
    generated_at: dt.datetime
    filters: Filters                 # with the resolved period
    scope: Scope
    data_version: int
    source: str | None
    kpi_summary: kpis.KpiSummary
    kpi_lines: list[KpiLine]
    monthly: pd.DataFrame            # series.time_series(grain="month", history=True)
    countries: pd.DataFrame          # breakdowns.breakdown("country", top=10)
    categories: pd.DataFrame         # products.category_performance
    products: pd.DataFrame           # products.top_products(n=20)
    segments: pd.DataFrame           # customers.rfm_segments
    cohorts: pd.DataFrame            # cohorts.period_cohorts(measure="customers")
    forecast: ForecastSection
    quality: dict                    # quality.quality_summary under the scope
    notes: tuple[annotations.Note, ...] = ()   # notes on the period the scope may see
    marketing: MarketingSection | None = None  # with ad spend or sessions only

    @property
    def period_label(self) -> str:
        return period_label(self.filters.start, self.filters.end, self.currency)

    @property
    def cohort_label(self) -> str:
        """The months the cohort table covers (a short period shows the 12 months ending
        with it: ``analytics.cohorts.cohort_window``)."""
        return period_label(*cohorts.cohort_window(self.filters.start, self.filters.end),
                            self.currency)

    @property
    def previous_label(self) -> str:
        """The comparison period ("1 Nov 2025 – 30 Nov 2025", "… (the same days last
        year)")."""
        label = period_label(self.kpi_summary.previous_start, self.kpi_summary.previous_end,
                             self.currency)
        if self.kpi_summary.compare == "last_year":
            label += " (the same days last year)"
        return label

    @property
    def comparison_name(self) -> str:
        """The comparison's column header: "Previous period", "Last year", "Comparison"."""
        return self.filters.comparison_name

    @property
    def filters_label(self) -> str:
        return filters_label(self.filters)

    @property
    def scope_label(self) -> str:
        return scope_label(self.scope)

    def money(self, value, decimals: int = 0) -> str:
        return format_money(value, self.currency, decimals)

    def headline(self) -> list[dict]:
        """The few KPIs an e-mail body repeats: [{"name", "label", "value"}]."""
        lines = {line.name: line for line in self.kpi_lines}
        return [{"name": name, "label": lines[name].label, "value": lines[name].current_text}
                for name in HEADLINE_KPIS]

    def quality_notes(self) -> list[str]:
        """Sentences about the data behind the numbers: those of the report's data scope
        (``quality`` is taken under it), never counts of lines outside it."""
        q = self.quality
        notes = []
        lines = q.get("lines") or 0
        where = "" if self.scope.is_all else " in the report's data scope"
        if lines:
            notes.append(f"{lines:,} invoice lines{where} from {q.get('first_date')} to "
                         f"{q.get('last_date')} (data version {q.get('version')}, "
                         f"source {q.get('source') or 'unknown'}).")
            missing = q.get("missing_customer_lines") or 0
            if missing:
                notes.append(f"{missing:,} lines ({missing / lines:.1%}) have no customer id: "
                             "they count in revenue and orders, not in customer metrics.")
            excluded = q.get("price_not_positive_lines") or 0
            if excluded:
                notes.append(f"{excluded:,} lines with a unit price of 0 or less "
                             "(adjustments, samples) are kept but counted in no metric.")
            codeless = q.get("countries_without_code") or []
            if codeless:
                notes.append("Countries without an ISO code (not in country scopes or maps): "
                             + ", ".join(codeless) + ".")
            if q.get("freshness_days") is not None:
                notes.append(f"The newest line is {q['freshness_days']:,} days old.")
        elif self.scope.is_all:
            notes.append("The current data version holds no lines.")
        else:
            notes.append("The report's data scope holds no lines.")
        return notes


def gather(warehouse, filters: Filters, scope: Scope, *, currency: str = "£",
           title: str = "Shoplens report", progress: Progress | None = None,
           forecast: bool = True, now: dt.datetime | None = None,
           app_database_url: str | None = None) -> ReportContent:
    """Run the analytics behind a report (progress 0–100 through ``progress``), through the
    process's analytics cache, as the dashboard and the API do: a report and a page of the
    same filters and scope share their answers. With ``app_database_url`` the notes on the
    timeline that touch the period and that the scope may see are listed too."""
    report = progress or (lambda percent, message=None: None)
    call = cache.default_cache().call
    version = warehouse.require_version()
    info = warehouse.version_info(version)
    resolved = period.resolve(warehouse, filters)
    report(5, "Key figures")
    summary = call(kpis.kpi_summary, warehouse, resolved, scope)
    lines = []
    for name, (label, kind) in KPI_LABELS.items():
        kpi = summary[name]
        lines.append(KpiLine(
            name=name, label=label, kind=kind, current=kpi.current, previous=kpi.previous,
            abs_change=kpi.abs_change, rel_change=kpi.rel_change, reason=kpi.reason,
            current_text=format_kpi(kpi, kind, currency),
            previous_text=format_previous(kpi, kind, currency),
            change_text=format_change(kpi, kind, currency)))
    report(15, "Monthly trend")
    monthly = call(series.time_series, warehouse, resolved, scope, grain="month", history=True)
    report(25, "Countries and categories")
    countries = call(breakdowns.breakdown, warehouse, resolved, scope, dimension="country",
                     top=TOP_COUNTRIES)
    categories = call(products.category_performance, warehouse, resolved, scope)
    report(35, "Top products")
    top = call(products.top_products, warehouse, resolved, scope, n=TOP_PRODUCTS)
    report(45, "Customer segments")
    segments = call(customers.rfm_segments, warehouse, resolved, scope)
    cohort_frame = call(cohorts.period_cohorts, warehouse, resolved, scope, measure="customers")
    report(55, "Forecast")
    forecast_section = (_forecast(warehouse, resolved, scope, currency) if forecast
                        else ForecastSection(FORECAST_HORIZON, reason="not requested"))
    report(85, "Marketing")
    marketing_section = gather_marketing(warehouse, resolved, scope, currency)
    report(90, "Data quality")
    quality_summary = quality.quality_summary(warehouse, scope=scope)
    notes = (_notes(app_database_url, scope, resolved) if app_database_url else ())
    return ReportContent(
        title=title, currency=currency, generated_at=now or dt.datetime.now(dt.UTC),
        filters=resolved, scope=scope, data_version=version, source=info.source,
        kpi_summary=summary, kpi_lines=lines, monthly=monthly, countries=countries,
        categories=categories, products=top, segments=segments, cohorts=cohort_frame,
        forecast=forecast_section, quality=quality_summary, notes=notes,
        marketing=marketing_section)


def _notes(database_url: str, scope: Scope, filters: Filters) -> tuple[annotations.Note, ...]:
    from core import db
    with db.session_scope(database_url) as session:
        return annotations.notes(session, scope, filters.start, filters.end)


def _forecast(warehouse, filters: Filters, scope: Scope, currency: str = "£"
              ) -> ForecastSection:
    """Daily net revenue forecast for the days after the period, fitted on the history up
    to the period's end under the same filters; the reason when the data cannot make one."""
    try:
        from analytics.models.base import ModelError
        from analytics.models.forecast import (forecast_series, forecast_sentence,
                                               forecast_summary)
        from analytics.models.inputs import daily_series
    except ImportError as exc:  # the models are optional in a report
        return ForecastSection(FORECAST_HORIZON, reason=f"forecasting is not available ({exc})")
    daily = daily_series(warehouse, filters.with_period(None, filters.end), scope)
    try:
        result = forecast_series(daily, "date", "revenue", horizon=FORECAST_HORIZON,
                                 interval=FORECAST_INTERVAL,
                                 what="the revenue of these filters")
    except ModelError as exc:
        return ForecastSection(FORECAST_HORIZON, reason=str(exc))
    return ForecastSection(
        horizon=result.horizon, model=result.model, interval=result.interval,
        holdout_days=result.holdout_days, history=result.history, forecast=result.forecast,
        accuracy=result.accuracy, baseline_accuracy=result.baseline_accuracy,
        notes=list(result.notes),
        sentence=forecast_sentence(forecast_summary(result), "revenue", currency))


def describe_filters_for_cover(content: ReportContent) -> list[tuple[str, str]]:
    """(label, text) rows of a report's cover."""
    return [
        ("Period", content.period_label),
        ("Compared with", content.previous_label),
        ("Filters", content.filters_label),
        ("Data scope", content.scope_label),
        ("Data version", f"{content.data_version} ({content.source or 'unknown source'})"),
        ("Generated", formatting.format_datetime(content.generated_at, content.currency)
         + " UTC"),
    ]
