"""The promotions API (``analytics.promotions``, docs/promotions.md): discounted against
full-price orders, the money given away, and the customers acquired on a discount, under
the caller's filters and data scope, through the analytics cache. Viewers may read it: it
is analytics like the overview. Data without discount information answers every number
empty (``has_discounts`` false) with a note naming the columns to map."""
from __future__ import annotations

from pydantic import BaseModel, Field, create_model

from analytics import promotions
from webapp.api import payloads
from webapp.api.routing import endpoint
from webapp.api.views import _analytics

ROLE = "viewer"
ERRORS = (400, 401, 403, 404)

PromotionValues = create_model(
    "PromotionValues", **{name: (payloads.KpiValue, ...) for name in promotions.KPI_NAMES})


class PromotionResponse(BaseModel):
    period: payloads.Period
    previous_period: payloads.Period
    scope: str = Field(description="The data your account may see.")
    has_discounts: bool = Field(description="Whether the data carries discount information "
                                            "at all; when false every number is null.")
    kpis: PromotionValues
    notes: list[str] = Field(description="Orders or customers in neither group (no discount "
                                          "information), or the columns to map when the data "
                                          "has none.")


@endpoint("GET", "/promotions", role=ROLE, query=payloads.FilterQuery,
          response=PromotionResponse, errors=ERRORS,
          summary="Discounted vs full-price orders (count, share, net revenue, AOV, margin), "
                  "the discount given away and its share of gross revenue, and customers "
                  "acquired on a discount vs not (count, AOV, repeat rate), for the period and "
                  "the previous period (docs/promotions.md).")
def get_promotions(query: payloads.FilterQuery):
    summary, _filters, scope = _analytics(promotions.promotion_summary, query)
    return {**summary.to_dict(), "scope": str(scope)}
