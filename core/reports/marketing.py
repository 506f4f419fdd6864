"""A report's "Marketing" section: the traffic and advertising KPIs against the previous
period and the "what to do next" table (``analytics.actions``), gathered only when the data
version holds ad spend or sessions (a shop without them gets no empty section). The PDF and
the Excel renderers draw it from ``MarketingSection``."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analytics import actions, cache, catalog, marketing
from analytics.filters import Filters, Scope
from core.formatting import format_change, format_money, format_value, is_empty

#: The actions a report lists, by money at stake.
ACTIONS_LISTED = 15


@dataclass(frozen=True)
class MarketingLine:
    """One marketing KPI, formatted."""
    name: str
    label: str
    kind: str
    current: float | None
    previous: float | None
    current_text: str
    previous_text: str
    change_text: str


@dataclass
class MarketingSection:
    lines: list[MarketingLine]
    previous_label: str
    actions: pd.DataFrame              # analytics.actions' frame, the first ACTIONS_LISTED
    actions_total: int
    windows: list[str]                 # "last 7 days: 2025-12-25 – … against …"
    notes: list[str] = field(default_factory=list)

    def action_rows(self, currency: str) -> list[list[str]]:
        """[at stake, window, level, item, why, what to do] per listed action."""
        return [[format_money(row.stake, currency), row.window, row.level,
                 f"{row.name} ({row.channel})" if row.level == "campaign" else str(row.name),
                 row.reason, row.action]
                for row in self.actions.itertuples(index=False)]


def gather_marketing(warehouse, filters: Filters, scope: Scope,
                     currency: str) -> MarketingSection | None:
    """The section for the resolved ``filters``, or None when the data holds neither ad
    spend nor sessions."""
    if not marketing.has_traffic(warehouse):
        return None
    call = cache.default_cache().call
    summary = call(marketing.marketing_summary, warehouse, filters, scope)
    lines = []
    for measure in catalog.MARKETING_MEASURES:
        kpi = summary[measure.name]
        current = (f"n/a ({kpi.reason or 'no data'})" if is_empty(kpi.current)
                   else format_value(kpi.current, measure.kind, currency))
        lines.append(MarketingLine(
            measure.name, measure.label, measure.kind, kpi.current, kpi.previous, current,
            "n/a" if is_empty(kpi.previous) else format_value(kpi.previous, measure.kind,
                                                                currency),
            format_change(kpi.abs_change, kpi.rel_change, measure.kind, currency)))
    table = call(actions.action_table, warehouse, filters, scope)
    from core.reports.content import period_label  # content imports this module

    windows = [f"{w.name}: {period_label(w.start, w.end, currency)} against "
               f"{period_label(w.previous_start, w.previous_end, currency)}"
               for w in table.windows]
    return MarketingSection(
        lines=lines,
        previous_label=period_label(summary.previous_start, summary.previous_end, currency),
        actions=table.frame.head(ACTIONS_LISTED), actions_total=len(table.frame),
        windows=windows, notes=list(dict.fromkeys([*summary.notes, *table.notes])))
