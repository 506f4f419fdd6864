"""What can be sliced and what can be measured, declared once.

Every other place that needs the list of dimensions or measures reads it from here:

* ``DIMENSIONS``: one ``Dimension`` per way of slicing the order lines. From it come the
  fields of ``analytics.filters.Filters`` and their URL round trip, the SQL conditions, the
  columns of the line-item frame, of ``fact_lines`` and of the rollups, the rollups' day
  tables, the sessions table's columns, the breakdowns, the transactions' columns, the
  generic mapping's fields, the API's query parameters, the dashboard's filter sidebar and
  the filter summary of the reports.
* ``MEASURES``: one ``Measure`` per number of METRICS.md ("KPIs"): its API name, label, kind
  (money, count or rate, which decides how it is written), its definition, and where it is
  shown (an overview card, a report headline).

Adding a dimension (say ``campaign``) is one line in ``DIMENSIONS``; a loader then fills the
column (the generic mapping gets the field by itself) and every layer above follows. Adding
a KPI is one line in ``MEASURES`` plus its computation in ``analytics.kpis`` (and its
definition in docs/METRICS.md first).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dimension:
    """One way of slicing the order lines.

    ``name`` is the dimension's name in the API (``/breakdown/{name}``), the planner and the
    rollup tables; ``column`` the fact column (default: ``name``); ``codes`` extra columns
    that travel with it (country → ``country_code``, the ISO code a scope is written in).
    ``param`` is the URL / API query parameter of its filter and ``field`` the
    ``Filters`` field holding the chosen values (both None: not a filter).
    """
    name: str
    label: str                    # "Payment method"
    plural: str                   # "Payment methods"
    column: str = ""              # fact column; "" = name
    param: str | None = None      # URL parameter of the filter; None = not filterable
    field: str | None = None      # Filters field (a tuple of values)
    codes: tuple[str, ...] = ()   # extra fact columns kept with it (country_code)
    required: bool = False        # every loader must fill it (country, product)
    rollup: bool = True           # a column of rollup_invoice / rollup_daily
    day_table: bool = False       # has a day-grain rollup of its own (rollup_day_<name>)
    sessions_column: str | None = None  # its column in daily_sessions (sessions follow it)
    mapping_hint: str = ""        # what the generic mapping's field holds (docs/mapping.md)
    insight: bool = False         # a performance card on the Insights page
    explains_anomalies: bool = False   # an unusual day is explained by its values
    monitored: bool = False       # its largest values are watched one by one for anomalies

    def __post_init__(self) -> None:
        if not self.column:
            object.__setattr__(self, "column", self.name)
        if (self.param is None) != (self.field is None):
            raise ValueError(f"dimension {self.name}: give both param and field, or neither")

    @property
    def columns(self) -> tuple[str, ...]:
        """Its fact columns: the column, then the ``codes``."""
        return (self.column, *self.codes)

    @property
    def filterable(self) -> bool:
        return self.param is not None

    @property
    def noun(self) -> str:
        """How a sentence names it: "payment method"."""
        return self.label.lower()


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("country", "Country", "Countries", param="country", field="countries",
              codes=("country_code",), required=True, day_table=True,
              sessions_column="country_code", mapping_hint="country name or ISO code",
              explains_anomalies=True, monitored=True),
    Dimension("city", "City", "Cities", mapping_hint="city"),
    Dimension("category", "Category", "Categories", param="category", field="categories",
              day_table=True, mapping_hint="product category", explains_anomalies=True,
              monitored=True),
    Dimension("channel", "Channel", "Channels", param="channel", field="channels",
              day_table=True, sessions_column="channel", mapping_hint="sales channel",
              insight=True, explains_anomalies=True, monitored=True),
    Dimension("payment_method", "Payment method", "Payment methods", param="payment",
              field="payment_methods", day_table=True, mapping_hint="payment method"),
    Dimension("device", "Device", "Devices", param="device", field="devices", day_table=True,
              sessions_column="device", mapping_hint="device", insight=True),
    Dimension("traffic_source", "Traffic source", "Traffic sources", param="source",
              field="traffic_sources", day_table=True, sessions_column="traffic_source",
              mapping_hint="traffic source", insight=True, explains_anomalies=True,
              monitored=True),
    Dimension("product", "Product", "Products", column="product_id", required=True,
              rollup=False, explains_anomalies=True),
)

BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}


def dimension(name: str) -> Dimension:
    return BY_NAME[name]


def filter_dimensions() -> tuple[Dimension, ...]:
    """The dimensions a user filters by, in sidebar order."""
    return tuple(d for d in DIMENSIONS if d.filterable)


def rollup_dimensions() -> tuple[Dimension, ...]:
    """The dimensions the rollups keep (every one but the product)."""
    return tuple(d for d in DIMENSIONS if d.rollup)


def optional_dimensions() -> tuple[Dimension, ...]:
    """The dimensions a data file may leave out (the rest are required)."""
    return tuple(d for d in DIMENSIONS if not d.required)


def session_dimensions() -> tuple[Dimension, ...]:
    """The dimensions the daily sessions table carries."""
    return tuple(d for d in DIMENSIONS if d.sessions_column)


# --------------------------------------------------------------------------- measures
MONEY, COUNT, RATE = "money", "count", "rate"
#: A multiple of 1 (ROAS, MER: revenue ÷ spend), written "4.73×".
RATIO = "ratio"


@dataclass(frozen=True)
class Measure:
    """One KPI of METRICS.md. ``kind`` decides how it is written (``core.formatting``):
    money with a currency, a count, or a rate in %. ``card`` is its position among the
    overview's KPI cards (None: not a card); ``headline`` puts it on a report's first page;
    ``lower_is_better`` colours a rise red."""
    name: str
    label: str
    kind: str
    definition: str
    card: int | None = None
    headline: bool = False
    lower_is_better: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (MONEY, COUNT, RATE, RATIO):
            raise ValueError(f"measure {self.name}: kind must be money, count, rate or "
                             "ratio")


#: In the order of METRICS.md, which is the order of the API and of the reports' KPI table.
MEASURES: tuple[Measure, ...] = (
    Measure("gross_revenue", "Gross revenue", MONEY, "Σ line value of sale lines"),
    Measure("returns", "Returns", MONEY,
            "−Σ line value of return lines (a positive number)", lower_is_better=True),
    Measure("revenue", "Revenue (net)", MONEY, "gross revenue − returns", card=0,
            headline=True),
    Measure("orders", "Orders", COUNT, "distinct invoice ids having at least one sale line",
            card=1, headline=True),
    Measure("aov", "Average order value", MONEY, "gross revenue ÷ orders", card=2,
            headline=True),
    Measure("units", "Units", COUNT, "Σ quantity of sale lines"),
    Measure("customers", "Customers", COUNT,
            "distinct non-missing customer ids having at least one sale line", card=4,
            headline=True),
    Measure("profit", "Profit", MONEY,
            "revenue − Σ(quantity × unit cost) over sale and return lines; empty when the "
            "data has no unit cost", card=3),
    Measure("margin", "Margin", RATE, "profit ÷ revenue"),
    Measure("conversion_rate", "Conversion rate", RATE,
            "orders ÷ sessions, where a sessions table exists for the period", card=5),
    Measure("churn_rate", "Churn rate", RATE,
            "share of customers of the previous period who have no sale line in this period",
            card=7, lower_is_better=True),
    Measure("ltv", "Customer lifetime value", MONEY,
            "mean, over customers of the period, of their net revenue from their first sale "
            "line up to the period's end", card=6),
    Measure("repeat_rate", "Repeat rate", RATE,
            "share of customers of the period with 2 or more orders in the period"),
)

MEASURE_BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}
#: KPI names of the API, in METRICS.md order.
KPI_NAMES: tuple[str, ...] = tuple(m.name for m in MEASURES)
#: The overview's KPI cards, in order.
CARD_KPIS: tuple[str, ...] = tuple(
    m.name for m in sorted((m for m in MEASURES if m.card is not None), key=lambda m: m.card))
#: The KPIs on a report's first page, in METRICS.md order.
HEADLINE_KPIS: tuple[str, ...] = tuple(m.name for m in MEASURES if m.headline)


def measure(name: str) -> Measure:
    return MEASURE_BY_NAME[name]


#: The KPIs of METRICS.md "Traffic and advertising", in its order (``analytics.marketing``
#: computes them; ``/api/v1/marketing/kpis`` answers them by these names). Kept apart from
#: ``MEASURES``: they read the sessions and ad-spend tables, not only the order lines.
MARKETING_MEASURES: tuple[Measure, ...] = (
    Measure("sessions", "Sessions", COUNT, "Σ sessions in the period"),
    Measure("revenue_per_session", "Revenue per session", MONEY, "revenue ÷ sessions"),
    Measure("ad_spend", "Ad spend", MONEY, "Σ spend", lower_is_better=True),
    Measure("impressions", "Impressions", COUNT, "Σ impressions"),
    Measure("clicks", "Clicks", COUNT, "Σ clicks"),
    Measure("ctr", "CTR", RATE, "clicks ÷ impressions"),
    Measure("cpc", "CPC", MONEY, "ad spend ÷ clicks", lower_is_better=True),
    Measure("cpm", "CPM", MONEY, "1000 × ad spend ÷ impressions", lower_is_better=True),
    Measure("roas", "ROAS", RATIO,
            "revenue of the orders attributed to the channel (or campaign) ÷ its ad spend; "
            "attribution = the order's channel / traffic source as the export records it "
            "(last touch)"),
    Measure("platform_roas", "Platform ROAS", RATIO,
            "Σ platform-reported conversion value ÷ ad spend"),
    Measure("mer", "MER", RATIO, "all revenue ÷ all ad spend"),
    Measure("new_customers", "New customers", COUNT,
            "customers of the period whose first sale line in the whole history (same "
            "filters except the date range) falls in the period"),
    Measure("cac", "CAC", MONEY, "ad spend ÷ new customers", lower_is_better=True),
    Measure("new_customer_revenue_share", "New-customer revenue share", RATE,
            "net revenue of new customers ÷ revenue"),
)
MARKETING_KPI_NAMES: tuple[str, ...] = tuple(m.name for m in MARKETING_MEASURES)
