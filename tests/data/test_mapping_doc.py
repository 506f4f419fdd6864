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
    for detected in (mapping, {"columns": mapping["columns"],
                               "cancellation_values": mapping["cancellation_values"]}):
        lines = read_generic(path, detected).lines
        assert lines["invoice_ts"].tolist() == [pd.Timestamp("2024-04-03 10:15"),
                                                pd.Timestamp("2024-04-13 09:00")]
        assert lines["unit_price"].tolist() == [6.25, 3.99]
        assert lines["unit_cost"].tolist() == [4.0, 2.99]
        assert lines["quantity"].tolist() == [2.0, -1.0]  # the cancelled line reverses
        assert lines["is_cancellation"].tolist() == [False, True]
        assert lines["country_code"].tolist() == ["DE", "AT"]
        assert lines["city"].tolist() == ["Köln", "Wien"]
