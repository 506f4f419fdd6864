"""The marketing API (``analytics.marketing``): the traffic and advertising KPIs of
METRICS.md and the channel and campaign table, under the caller's filters and data scope,
through the analytics cache. Viewers may read them: they are analytics like the overview.
Each answer has ``notes``: the filters a table could not follow (left unfiltered), and
spend or sessions that cannot be split by country under a country scope (left out)."""
from __future__ import annotations

from pydantic import BaseModel, Field, create_model

from analytics import actions, catalog, marketing
from webapp.api import payloads
from webapp.api.routing import endpoint
from webapp.api.views import _analytics, _period, records

ROLE = "viewer"
ERRORS = (400, 401, 403, 404)

MarketingKpiValues = create_model(
    "MarketingKpiValues", **{name: (payloads.KpiValue, ...)
                             for name in catalog.MARKETING_KPI_NAMES})


class MarketingKpiResponse(BaseModel):
    period: payloads.Period
    previous_period: payloads.Period
    scope: str = Field(description="The data your account may see.")
    kpis: MarketingKpiValues
    notes: list[str] = Field(description="What the sessions and ad tables could not follow: "
                                          "filters left unapplied, spend without a country.")


class ChannelTableResponse(payloads.TableResponse):
    notes: list[str] = Field(description="Attribution and filters the tables could not "
                                          "follow.")


@endpoint("GET", "/marketing/kpis", role=ROLE, query=payloads.FilterQuery,
          response=MarketingKpiResponse, errors=ERRORS,
          summary="Sessions, revenue per session, ad spend, impressions, clicks, CTR, CPC, "
                  "CPM, ROAS, platform ROAS, MER, new customers, CAC and new-customer revenue "
                  "share for the period and the previous period (METRICS.md, 'Traffic and "
                  "advertising').")
def get_marketing_kpis(query: payloads.FilterQuery):
    summary, _filters, scope = _analytics(marketing.marketing_summary, query)
    return {**summary.to_dict(), "scope": str(scope)}


@endpoint("GET", "/marketing/channels", role=ROLE, query=payloads.FilterQuery,
          response=ChannelTableResponse, errors=ERRORS,
          summary="Each ad channel, then its campaigns: spend, impressions, clicks, CTR, CPC, "
                  "CPM, attributed orders and revenue, ROAS, platform ROAS, new customers, CAC "
                  "and the change against the previous period.")
def get_marketing_channels(query: payloads.FilterQuery):
    table, filters, scope = _analytics(marketing.channel_table, query)
    return {"period": _period(filters), "scope": str(scope),
            "columns": list(table.frame.columns), "rows": records(table.frame),
            "notes": list(table.notes)}


class ActionWindow(BaseModel):
    name: str = Field(description="\"last 7 days\" or \"period\" (the chosen period).")
    start: str
    end: str
    previous_start: str
    previous_end: str


class ActionTableResponse(payloads.TableResponse):
    windows: list[ActionWindow] = Field(description="The comparisons made: the last 7 days "
                                                    "against the 7 before, and the period "
                                                    "against its previous period.")
    thresholds: dict[str, float] = Field(description="The rules' thresholds in use "
                                                     "(MARKETING_THRESHOLDS overrides them).")
    notes: list[str] = Field(description="What the sessions and ad tables could not follow.")


@endpoint("GET", "/marketing/actions", role=ROLE, query=payloads.FilterQuery,
          response=ActionTableResponse, errors=ERRORS,
          summary="What to do next: for each ad channel, campaign, category and top product, "
                  "the last 7 days against the 7 before (and the period against its previous "
                  "period), a recommendation with its reason, ranked by money at stake "
                  "(docs/marketing.md, 'What to do next').")
def get_marketing_actions(query: payloads.FilterQuery):
    table, filters, scope = _analytics(actions.action_table, query)
    return {"period": _period(filters), "scope": str(scope),
            "columns": list(table.frame.columns), "rows": records(table.frame),
            "windows": [window.to_dict() for window in table.windows],
            "thresholds": table.thresholds, "notes": list(table.notes)}
