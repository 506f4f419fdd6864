"""Pydantic models of the REST API: query parameters, request bodies and answers.

The same models validate requests and generate the OpenAPI document, so the document
cannot drift from what the server accepts.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from analytics import breakdowns, catalog, cohorts, customers, kpis, series, transactions
from analytics.filters import MAX_VALUE_LENGTH, MAX_VALUES, Filters
from core import job_kinds

FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)


def _sensible_day(value: dt.date) -> dt.date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return value


def _iso_day(value):
    """A day is written YYYY-MM-DD (as in the dashboard's URLs): pydantic would otherwise
    read ``start=0`` as a Unix time, 1970-01-01."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError("must be a date written YYYY-MM-DD")
    if isinstance(value, (int, float)):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


Day = Annotated[dt.date, BeforeValidator(_iso_day), AfterValidator(_sensible_day)]
Text = Annotated[str, Field(max_length=MAX_VALUE_LENGTH)]
Values = Annotated[list[Text], Field(max_length=MAX_VALUES)]
Price = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
#: Query parameters of the filters: the dates, one repeatable parameter per filterable
#: dimension of ``analytics.catalog``, the price range and the segment.
FILTER_PARAMETERS = ("start", "end", *(d.param for d in catalog.filter_dimensions()),
                     "min_price", "max_price", "segment", "compare", "compare_start",
                     "compare_end")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Filtered(Strict):
    def filters(self) -> Filters:
        """The Filters value (raises FilterError, e.g. when start is after end)."""
        data = self.model_dump(mode="json", include=set(FILTER_PARAMETERS), exclude_none=True)
        return Filters.from_query(data)


#: How every dimension filter matches (``analytics.filter_values``).
_MATCHING = ("Matched ignoring case (france is France); a value that no line you may see "
             "has is refused with 400 naming the closest values. Repeatable.")


def _dimension_description(dimension) -> str:
    if dimension.codes:
        return (f"{dimension.label}: an ISO 3166 code (FR) or the name as in the data "
                f"(France, EIRE). {_MATCHING}")
    return f"{dimension.label}. {_MATCHING}"


FilterQuery = create_model(
    "FilterQuery", __base__=_Filtered, __module__=__name__,
    __doc__="""The dashboard's filters (query parameters, or the ``filters`` object of a body;
    the dashboard's URL query string). Missing dates default to the last 30 days of the
    data.""",
    start=(Day | None, Field(None, description="First day, YYYY-MM-DD.")),
    end=(Day | None, Field(None, description="Last day, YYYY-MM-DD.")),
    **{d.param: (Values, Field(default_factory=list, description=_dimension_description(d)))
       for d in catalog.filter_dimensions()},
    min_price=(Price | None, Field(None, description="Lowest unit price.")),
    max_price=(Price | None, Field(None, description="Highest unit price.")),
    segment=(Text | None, Field(None, description="RFM segment, e.g. Champions.")),
    compare=(Literal["previous", "last_year", "custom"] | None, Field(
        None, description="What the period is compared with: previous (the default: the "
                          "same number of days just before), last_year (the same days a "
                          "year earlier) or custom (compare_start … compare_end).")),
    compare_start=(Day | None, Field(None, description="compare=custom: first day.")),
    compare_end=(Day | None, Field(None, description="compare=custom: last day.")),
)


class TimeSeriesQuery(FilterQuery):
    grain: Literal[series.GRAINS] = Field("day", description="day, week (ISO) or month.")
    history: bool = Field(False, description="Span the whole data range instead of the "
                                             "period.")


class BreakdownPath(Strict):
    dimension: Literal[tuple(breakdowns.DIMENSION_COLUMNS)]


class BreakdownQuery(FilterQuery):
    top: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        None, description="Keep the first N rows and fold the rest into '(others)'.")
    metric: Literal[breakdowns.METRICS] = Field("revenue", description="Sort by this.")


class TopProductsQuery(FilterQuery):
    n: Annotated[int, Field(ge=1, le=1000)] = 20


class CustomersQuery(FilterQuery):
    sort: Literal[customers.CUSTOMER_SORT_COLUMNS] = "monetary"
    descending: bool = True
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=1000)] = 50


class CustomersCsvQuery(CustomersQuery):
    page: Literal[1] = Field(1, description="Ignored: the CSV holds every customer.")
    page_size: Literal[50] = Field(50, description="Ignored.")


class CohortQuery(FilterQuery):
    measure: Literal[cohorts.MEASURES] = "customers"
    max_offset: Annotated[int, Field(ge=0, le=600)] | None = None


SortKey = Annotated[str, Field(pattern=r"^-?[a-z_]{1,40}$",
                               description="A column, '-column' for descending.")]


class TransactionsQuery(FilterQuery):
    sort: Annotated[list[SortKey], Field(max_length=transactions.MAX_SORT_KEYS)] = Field(
        default_factory=list, description="Repeatable; default newest first. Columns: "
        + ", ".join(transactions.SORTABLE_COLUMNS) + ".")
    search: Annotated[str, Field(max_length=transactions.MAX_SEARCH_LENGTH)] | None = Field(
        None, description="Text in the invoice, product, description or customer id.")
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=transactions.MAX_PAGE_SIZE)] = 100

    def sort_keys(self) -> list[tuple[str, str]] | None:
        if not self.sort:
            return None
        return [(key[1:], "desc") if key.startswith("-") else (key, "asc")
                for key in self.sort]


class TransactionsCsvQuery(TransactionsQuery):
    page: Literal[1] = Field(1, description="Ignored: the CSV holds every matching line.")
    page_size: Literal[100] = Field(100, description="Ignored.")


class JobPath(Strict):
    job_id: Annotated[str, Field(min_length=1, max_length=64)]


class ScoredCustomersQuery(Strict):
    """Which of a churn job's scored customers to export."""
    risk: Literal["high", "medium", "low"] | None = Field(
        None, description="only the customers of this churn risk")
    value: Literal["high", "medium", "low"] | None = Field(
        None, description="only the customers of this value tier (high: top 20 % of "
                          "predicted 12-month value, medium: the next 30 %)")


#: The job kinds declared ``in_api`` (``core.job_kinds``).
JobKind = Literal[job_kinds.api_names()]


class JobRequest(Strict):
    kind: JobKind
    filters: FilterQuery = Field(default_factory=FilterQuery)
    options: dict[Annotated[str, Field(max_length=40)], Any] = Field(
        default_factory=dict, description="Options of the kind, e.g. {'horizon': 30}: "
        + "; ".join(f"{kind.name} ({kind.role}): {', '.join(kind.options.model_fields)}"
                    for kind in job_kinds.all_kinds() if kind.in_api) + ".")


class ReportRequest(Strict):
    format: Literal["pdf", "xlsx"]
    email: bool = Field(False, description="E-mail the finished report to you.")
    filters: FilterQuery = Field(default_factory=FilterQuery)


# ---------------------------------------------------------------------- answers
class ErrorDetail(BaseModel):
    status: int
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Period(BaseModel):
    start: dt.date
    end: dt.date


class KpiValue(BaseModel):
    current: float | None
    previous: float | None
    abs_change: float | None
    rel_change: float | None
    reason: str | None = Field(description="Why a value is empty (null).")


#: One field per KPI, named exactly as in METRICS.md.
KpiValues = create_model("KpiValues", **{name: (KpiValue, ...) for name in kpis.KPI_NAMES})


class Comparison(BaseModel):
    compare: Literal["previous", "last_year", "custom"]
    start: dt.date
    end: dt.date
    label: str = Field(description='What "previous" is, in words: "vs 1–30 Nov 2025".')


class KpiResponse(BaseModel):
    period: Period
    previous_period: Period = Field(description="The comparison period (``compare``).")
    comparison: Comparison
    scope: str = Field(description="The data your account may see.")
    kpis: KpiValues


Row = dict[str, Any]


class TableResponse(BaseModel):
    period: Period | None = None
    scope: str
    columns: list[str]
    rows: list[Row]


class PageResponse(TableResponse):
    total: int
    page: int
    page_size: int


class QualityResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: int | None = None
    lines: int | None = None


class JobResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    status: str
    progress: int
    download: str | None = None


class JobListResponse(BaseModel):
    jobs: list[JobResponse]


class MeResponse(BaseModel):
    email: str
    name: str | None
    role: str
    scope: str
    countries: list[str] | None
    authenticated_by: Literal["session", "token"]


# ---------------------------------------------------------------------- patterns (issue 14)
class ElasticityQuery(FilterQuery):
    top: Annotated[int, Field(ge=1, le=100)] = Field(
        10, description="How many products (by net revenue) get their own estimate.")


class UnusualOrdersQuery(FilterQuery):
    limit: Annotated[int, Field(ge=1, le=1000)] = Field(
        50, description="At most this many items, strongest first.")


class Table(BaseModel):
    columns: list[str]
    rows: list[Row]


class SeasonalityResponse(BaseModel):
    period: Period
    scope: str
    sentence: str = Field(description="The profile in one plain sentence.")
    days: int = Field(description="Days of the period the data covers.")
    mean_daily_revenue: float | None
    has_times: bool = Field(description="False when every order is at midnight: no "
                                        "weekday × hour view then.")
    weekdays: Table
    months: Table
    heatmap: Table
    messages: dict[str, str] = Field(description="View → what it lacks (too few days…).")


class ElasticityResponse(BaseModel):
    period: Period
    scope: str
    sentence: str
    rule: str = Field(description="When a product has enough price variation.")
    categories: Table
    products: Table


class UnusualOrdersResponse(BaseModel):
    period: Period
    scope: str
    sentence: str
    orders: int = Field(description="Orders looked at.")
    median_order: float | None
    counts: dict[str, int]
    items: Table


# ---------------------------------------------------------------------- schedules (issue 13)
class SchedulePath(Strict):
    schedule_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


_CADENCE = ("daily, weekly (on `weekday`, 0 = Monday) or monthly (on `day_of_month`, "
            "1–28), at `time_of_day` HH:MM in `timezone`")
_FORMATS = ("pdf, xlsx, both (the PDF and the Excel file in one e-mail) or digest (the "
            "weekly digest e-mail: KPIs and change, movers, unusual days, forecast)")
_Recipients = Annotated[list[Annotated[str, Field(max_length=254)]], Field(max_length=50)]


class ScheduleChanges(Strict):
    """Fields of a report schedule to change (PATCH): those given replace the current ones;
    the next run is recomputed."""
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    format: Literal["pdf", "xlsx", "both", "digest"] | None = Field(None,
                                                                    description=_FORMATS)
    frequency: Literal["daily", "weekly", "monthly"] | None = Field(None, description=_CADENCE)
    weekday: Annotated[int, Field(ge=0, le=6)] | None = None
    day_of_month: Annotated[int, Field(ge=1, le=28)] | None = None
    time_of_day: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = Field(
        None, description="HH:MM, 24-hour clock, in the schedule's time zone.")
    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="An IANA time zone (Europe/London, America/New_York); the runs "
                          "follow its daylight saving time.")
    filters: FilterQuery | None = Field(
        None, description="The report's filters; without start/end each run covers the "
                          "data's latest day, 7 days or 30 days (a daily, weekly or "
                          "monthly schedule). Each recipient must be able to see "
                          "every value named (a filter cannot widen a recipient's scope).")
    recipients: _Recipients | None = Field(
        None, description="E-mails of active users; each gets the report under their own "
                          "data scope. Analysts: themselves only.")
    external_recipients: _Recipients | None = Field(
        None, description="Admins only: addresses outside Shoplens, each sent the report "
                          "rendered under `external_scope`.")
    external_scope: list[Annotated[str, Field(max_length=60)]] | Literal["all"] | None = Field(
        None, description="Admins only, required with external recipients: the countries "
                          "they see (codes or names), or \"all\".")
    saved_view_id: int | None = Field(
        None, description="Follow a saved view (`/views`) the owner may open: each run reads "
                          "its filters then (a relative period's dates computed at the run); "
                          "the schedule's own filters must be empty.")
    dashboard_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        None, description="Send this dashboard (`/dashboards`) as a PDF instead of the "
                          "standard report: each recipient gets its tiles under their own "
                          "data scope and role. The owner and every recipient must be able "
                          "to open it; format pdf, no filters, saved view or external "
                          "recipients (the dashboard keeps its filters). PATCH null to send "
                          "the standard report again.")
    is_active: bool | None = Field(None, description="false pauses the schedule.")


class ScheduleRequest(ScheduleChanges):
    """A new report schedule."""
    name: Annotated[str, Field(min_length=1, max_length=200)]
    format: Literal["pdf", "xlsx", "both", "digest"] = Field("pdf", description=_FORMATS)
    frequency: Literal["daily", "weekly", "monthly"] = Field("weekly", description=_CADENCE)
    time_of_day: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = Field(
        "07:00", description="HH:MM, 24-hour clock, in the schedule's time zone.")
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        "UTC", description="An IANA time zone (Europe/London, America/New_York).")
    filters: FilterQuery = Field(default_factory=FilterQuery)
    recipients: _Recipients | None = Field(
        None, description="E-mails of active users, each rendered under their own data "
                          "scope; default: you (none when only external recipients are "
                          "given). Analysts: themselves only.")
    is_active: bool = True
    owner: Annotated[str, Field(max_length=254)] | None = Field(
        None, description="Admins only: the e-mail of the user who owns the schedule "
                          "(default: you).")


class ScheduleRun(BaseModel):
    job_id: str
    recipient: str | None
    created_at: str
    state: str = Field(description="queued, rendered, sent or failed (the delivery "
                                   "ledger), or the job's state before delivery.")
    reason: str | None = Field(description="Why it failed.")
    sent_at: str | None = None
    delivery_id: int | None = None
    eml: str | None = Field(None, description="When the e-mail went to the outbox folder "
                                              "(no SMTP server): where to download it.")


class ScheduleResponse(BaseModel):
    id: int
    name: str
    owner: str
    format: str
    frequency: str
    weekday: int | None
    day_of_month: int | None
    time_of_day: str
    timezone: str = Field(description="The IANA time zone of time_of_day.")
    filters: str = Field(description="The filters as the dashboard's URL query string.")
    recipients: list[str]
    external_recipients: list[str] = Field(default_factory=list)
    external_scope: list[str] | str | None = Field(
        None, description="What external recipients see: countries, or \"all\".")
    external_scope_label: str | None = Field(
        None, description="e.g. 'External recipients see: DE, FR'.")
    saved_view_id: int | None = Field(None, description="The saved view it follows.")
    dashboard_id: int | None = Field(None, description="The dashboard it sends as a PDF "
                                                       "(null: the standard report).")
    dashboard_name: str | None = Field(None, description="That dashboard's name.")
    dashboard_problem: str | None = Field(
        None, description="Why the dashboard cannot reach someone now (deleted, or no "
                          "longer shared with the owner or a recipient: their runs fail "
                          "with this reason); null when all is well.")
    is_active: bool
    description: str = Field(description="e.g. 'every Monday at 07:00 Europe/London'.")
    last_run_at: str | None
    next_run_at: str | None = Field(description="UTC.")
    next_run_local: str | None = Field(None, description="The next run in the schedule's "
                                                         "time zone, with its offset.")
    runs: list[ScheduleRun] = Field(default_factory=list,
                                    description="The newest deliveries, newest first.")


class DigestRequest(Strict):
    """Switch your weekly digest on or off."""
    enabled: bool
    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="An IANA time zone for its Monday 07:00 (default: the digest's "
                          "current one, Europe/London for a new digest).")


class DigestResponse(BaseModel):
    enabled: bool
    schedule: ScheduleResponse | None
    message: str


class ScheduleListResponse(BaseModel):
    schedules: list[ScheduleResponse]
    mail: str = Field(description="Where the e-mails go: the SMTP server, or the outbox "
                                  "folder when no SMTP_HOST is set.")


class ScheduleDeleted(BaseModel):
    deleted: int
    name: str


class SendNowResponse(BaseModel):
    schedule: ScheduleResponse
    jobs: list[JobResponse]
    message: str


# ---------------------------------------------------------------------- alerts (issue 13)
# The alerts' request and answer models are beside their endpoints, webapp/api/alerts.py.
class AlertPath(Strict):
    alert_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class Deleted(BaseModel):
    deleted: int
