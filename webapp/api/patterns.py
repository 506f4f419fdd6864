"""The API of the Patterns page (``analytics.patterns``): seasonality, price elasticity and
unusual orders, under the caller's filters and data scope, through the analytics cache.
Analyst role, as the page."""
from __future__ import annotations

import pandas as pd

from analytics import patterns
from webapp import services
from webapp.api import payloads
from webapp.api.routing import endpoint
from webapp.api.views import _analytics, _period, records

ROLE = "analyst"
ERRORS = (400, 401, 403, 404)


def _table(frame: pd.DataFrame) -> dict:
    return {"columns": [str(c) for c in frame.columns], "rows": records(frame)}


def _currency() -> str:
    return services.locale()


@endpoint("GET", "/patterns/seasonality", role=ROLE, query=payloads.FilterQuery,
          response=payloads.SeasonalityResponse, errors=ERRORS,
          summary="Seasonality: net revenue by weekday and by month (mean and quartiles of "
                  "daily revenue) and by weekday × hour, with a sentence.")
def get_seasonality(query: payloads.FilterQuery):
    result, filters, scope = _analytics(patterns.seasonality, query, currency=_currency())
    return {"period": _period(filters), "scope": str(scope), "sentence": result.sentence,
            "days": result.days, "mean_daily_revenue": result.mean_daily_revenue,
            "has_times": result.has_times, "weekdays": _table(result.weekdays),
            "months": _table(result.months), "heatmap": _table(result.heatmap),
            "messages": dict(result.messages)}


@endpoint("GET", "/patterns/elasticity", role=ROLE, query=payloads.ElasticityQuery,
          response=payloads.ElasticityResponse, errors=ERRORS,
          summary="Price elasticity per category and top product (log-log regression of "
                  "weekly units on price, 95 % interval), or why there is none.")
def get_price_elasticity(query: payloads.ElasticityQuery):
    result, filters, scope = _analytics(patterns.price_elasticity, query, top=query.top,
                                        currency=_currency())
    return {"period": _period(filters), "scope": str(scope), "sentence": result.sentence,
            "rule": result.rule, "categories": _table(result.categories),
            "products": _table(result.products)}


@endpoint("GET", "/patterns/unusual-orders", role=ROLE, query=payloads.UnusualOrdersQuery,
          response=payloads.UnusualOrdersResponse, errors=ERRORS,
          summary="Unusual orders (size, discount) and customers (refund share), each "
                  "with why.")
def get_unusual_orders(query: payloads.UnusualOrdersQuery):
    result, filters, scope = _analytics(patterns.unusual_orders, query, limit=query.limit,
                                        currency=_currency())
    return {"period": _period(filters), "scope": str(scope), "sentence": result.sentence,
            "orders": result.orders, "median_order": result.median_order,
            "counts": result.counts, "items": _table(result.items)}
