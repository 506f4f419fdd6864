"""Models that state their own accuracy: forecasts, customer segments, churn and customer
value, anomalies with explanations, and basket rules.

``run_model(kind, warehouse, filters, scope, params, progress)`` is the one entry point the
workers call. It validates ``params`` (``analytics.models.params``), runs the model on the
selection and returns a JSON-serialisable dict (no numpy types, no NaN, ISO dates) holding
the result, its ``accuracy``, the ``baseline`` it is compared with, and the lists a chart
needs. A selection with too little data, or a bad parameter, raises ``ModelError`` with a
message for the user.

Importing this package is light: Prophet, XGBoost and mlxtend load on first use.
"""
from __future__ import annotations

from collections.abc import Callable

from analytics.models.base import ModelError
from analytics.models.runner import RUNNERS

#: The model kinds, in the order of ``runner.RUNNERS`` (their one table).
MODEL_KINDS = tuple(RUNNERS)

__all__ = ["MODEL_KINDS", "ModelError", "run_model"]


def run_model(kind: str, warehouse, filters, scope, params: dict | None = None,
              progress: Callable[[int, str], None] = lambda pct, msg: None,
              currency=None) -> dict:
    """Run the model ``kind`` (one of ``MODEL_KINDS``) on the filtered, scoped data.
    ``currency`` is what the sentences write before amounts (the caller's locale, or a
    sign); without it, the CURRENCY variable."""
    from analytics.models import runner
    from analytics.models.params import parse_model_params

    if kind not in MODEL_KINDS:
        raise ModelError(f"unknown model kind {kind!r}; choose one of {list(MODEL_KINDS)}")
    parsed = parse_model_params(kind, params)
    progress(0, f"starting {kind}")
    token = runner.MONEY_SIGN.set(currency)
    try:
        result = runner.run(kind, warehouse, filters, scope, parsed, progress)
    finally:
        runner.MONEY_SIGN.reset(token)
    progress(100, "done")
    return result
