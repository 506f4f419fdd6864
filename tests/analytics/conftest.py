"""Helpers shared by the analytics tests: publish tiny hand-made data into a warehouse."""
from __future__ import annotations

import pandas as pd

from analytics import schema

#: Values a hand-made row gets for the columns it does not name.
LINE_DEFAULTS = {
    "customer_id": None,
    "product_id": "P1",
    "description": None,
    "quantity": 1.0,
    "unit_price": 1.0,
    "country": "United Kingdom",
    "country_code": "GB",
}


def publish_lines(warehouse, rows: list[dict], sessions=None) -> int:
    """Publish ``rows`` (dicts of line-item columns) as a new data version; return it.

    Each row needs ``invoice_id`` and ``invoice_ts`` (a datetime or an ISO string); other
    columns default to ``LINE_DEFAULTS`` or null (a row may set a column to None on purpose). ``is_cancellation`` defaults to
    "the invoice id starts with C", as in the Online Retail format. ``sessions`` is a list of
    dicts with the columns of ``schema.SESSION_COLUMNS`` (or a DataFrame), or None.
    """
    records = []
    for row in rows:
        record = {**LINE_DEFAULTS, **row}
        record.setdefault("is_cancellation", str(record["invoice_id"]).startswith("C"))
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=list(schema.LINE_COLUMNS))
    frame["is_cancellation"] = [bool(record["is_cancellation"]) for record in records]
    frame["invoice_ts"] = pd.to_datetime(frame["invoice_ts"])
    session_frame = None
    if sessions is not None:
        session_frame = sessions if isinstance(sessions, pd.DataFrame) else \
            pd.DataFrame.from_records(sessions, columns=list(schema.SESSION_COLUMNS))
    return warehouse.publish(frame, session_frame, source="test")
