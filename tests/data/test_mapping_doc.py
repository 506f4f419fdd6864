"""The complete example of docs/mapping.md loads as the document says."""
import json
import re
from pathlib import Path

import pandas as pd

from data.readers import read_generic

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"


def test_the_documented_example_loads(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    example = text.split("## A complete example", 1)[1]
    csv_block, json_block = re.findall(r"```(?:json)?\n(.*?)```", example, re.S)[:2]
    path = tmp_path / "export.csv"
    path.write_bytes(csv_block.replace("\n", "\r\n").encode("cp1252"))
    mapping = json.loads(json_block)
    for detected in (mapping, {option: mapping[option] for option in (
            "columns", "cancellation_values", "refund_values")}):
        result = read_generic(path, detected)
        lines = result.lines
        # A-1002 is "storniert" (never sold): left out; A-1003 is "erstattet" (refunded):
        # its sale stays and a return line of the same value is added, dated on the order
        assert lines["invoice_id"].tolist() == ["A-1001", "A-1003", "A-1003"]
        assert lines["invoice_ts"].tolist() == [pd.Timestamp("2024-04-03 10:15"),
                                                pd.Timestamp("2024-04-20 16:30"),
                                                pd.Timestamp("2024-04-20 16:30")]
        assert lines["unit_price"].tolist() == [6.25, 3.99, 3.99]
        assert lines["unit_cost"].tolist() == [4.0, 2.99, 2.99]
        assert lines["quantity"].tolist() == [2.0, 2.0, -2.0]
        assert not lines["is_cancellation"].any()
        assert lines["country_code"].tolist() == ["DE", "DE", "DE"]
        assert lines["city"].tolist() == ["Köln", "Köln", "Köln"]
        assert result.orders["excluded"] == {
            "Status = storniert (cancelled: never sold)": {"orders": 1, "lines": 1}}
        assert result.orders["refunds"]["orders"] == 1
