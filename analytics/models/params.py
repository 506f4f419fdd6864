"""The parameters each model kind accepts (pydantic), validated before any query runs.

Which kind takes which model is said once, by the annotation of its runner's ``params``
(``analytics.models.runner``); core's job kinds name the same models as their options."""
from __future__ import annotations

import datetime as dt
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from analytics.models.base import ModelError


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForecastParams(_Params):
    """A forecast of the filtered daily series up to the period's end. ``level`` product or
    category forecasts one ``item`` (its units and revenue) or, without one, the ``top_n``
    items' units."""
    metric: Literal["revenue", "orders", "units"] = "revenue"
    horizon: int = Field(90, ge=7, le=180, description="days to forecast (7–180)")
    interval: float = Field(0.8, ge=0.5, le=0.99, description="prediction interval width")
    level: Literal["total", "product", "category"] = "total"
    top_n: int = Field(5, ge=1, le=20, description="items forecast at product/category level")
    item: str | None = Field(None, min_length=1, max_length=200, description=(
        "the product id (level product) or category (level category) whose demand to "
        "forecast, units and revenue"))

    @pydantic.model_validator(mode="after")
    def _item_has_a_level(self):
        if self.item is not None and self.level == "total":
            raise ValueError("item needs level product or category")
        return self


class ClusteringParams(_Params):
    k: int | None = Field(None, ge=2, le=12)


class ChurnParams(_Params):
    horizon_days: int | None = Field(None, ge=14, le=365, description=(
        "churn = no order in this many days; by default the 90th percentile of the days "
        "between a customer's consecutive purchases, within 30–365"))
    lookback_days: int = Field(365, ge=30, le=1095, description=(
        "the customers scored: those with an order in this many days before the period's "
        "end"))
    cutoff: dt.date | None = Field(None, description=(
        "validation cutoff (default: the period's end + 1 day − the churn window)"))
    clv_backtest: bool = Field(True, description="backtest the customer-value prediction "
                                                 "(trains a second churn model)")


class AnomalyParams(_Params):
    metric: Literal["revenue", "orders", "aov", "units"] = "revenue"
    contamination: float = Field(0.02, gt=0, le=0.2)


class BasketParams(_Params):
    min_support: float | None = Field(None, gt=0, le=1, description=(
        "share of baskets an itemset needs; by default the support of the 200th most "
        "frequent product, at least 10 baskets, at most 0.01"))
    min_confidence: float = Field(0.2, ge=0, le=1)
    min_lift: float = Field(1.0, ge=0)
    max_items: int = Field(1000, ge=2, le=5000)
    product: str | None = None


def parse_model_params(kind: str, params: dict | None) -> _Params:
    """Validate ``params`` for a model kind; a bad or unknown parameter raises ModelError
    naming it."""
    from analytics.models import runner

    try:
        model = runner.params_model(kind)
    except KeyError:
        raise ModelError(f"unknown model kind {kind!r}; choose one of "
                         f"{sorted(runner.RUNNERS)}") from None
    try:
        return model.model_validate(params or {})
    except pydantic.ValidationError as error:
        problems = []
        for issue in error.errors():
            name = ".".join(str(part) for part in issue["loc"]) or "params"
            message = "unknown parameter" if issue["type"] == "extra_forbidden" \
                else issue["msg"]
            problems.append(f"{name}: {message}")
        raise ModelError(f"bad {kind} parameters — " + "; ".join(problems)) from None
