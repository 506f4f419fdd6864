"""The Data page's upload callback, through the real Dash endpoint as an admin: an empty,
damaged or non-workbook upload answers a clear message (never a server error) and is not
kept; a good one is stored and old uploads are pruned."""
from __future__ import annotations

import base64
import os
import time

import pytest

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
MAP_ID = {"type": "data-map", "field": "invoice_id"}


def upload(client, filename, contents):
    """POST the upload callback (data-upload.contents) and return (stored name, status)."""
    response = client.post("/_dash-update-component", json={
        "output": "..data-upload-path.data...data-upload-status.children..."
                  '{"field":["ALL"],"type":"data-map"}.options..',
        "outputs": [{"id": "data-upload-path", "property": "data"},
                    {"id": "data-upload-status", "property": "children"},
                    [{"id": MAP_ID, "property": "options"}]],
        "inputs": [{"id": "data-upload", "property": "contents", "value": contents}],
        "changedPropIds": ["data-upload.contents"],
        "state": [{"id": "data-upload", "property": "filename", "value": filename},
                  [{"id": MAP_ID, "property": "id", "value": MAP_ID}]]})
    assert response.status_code == 200, response.text
    body = response.json
    assert "sideUpdate" not in body, body  # the shell's "Something went wrong" alert
    return (body["response"]["data-upload-path"]["data"],
            body["response"]["data-upload-status"]["children"])


def data_url(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


@pytest.fixture
def uploads_folder(app):
    folder = app.extensions["shoplens.settings"].uploads
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        path.unlink()
    return folder


@pytest.mark.parametrize("filename, contents, message", [
    ("empty.csv", None, "empty.csv is empty: choose a file with a header row and data lines"),
    ("empty.csv", "", "empty.csv is empty"),
    ("empty.csv", "data:", "empty.csv is empty"),
    ("empty.csv", "data:text/csv;base64,", "empty.csv is empty"),
    ("orders.csv", "data:text/csv;base64,@@@", "orders.csv: the upload arrived damaged"),
    ("orders.xlsx", data_url(b"PK\x03\x04" + b"not a workbook" * 50),
     ("orders.xlsx: cannot read a header row (orders.xlsx is a zip file but not a readable "
      ".xlsx workbook")),
    ("orders.csv", data_url(b"\x00\x01\x02" * 4000),
     "orders.csv: cannot read a header row (orders.csv looks like a binary file"),
    ("notes.csv", data_url(b"just one column\nof text\n"),
     "notes.csv: cannot read a header row"),
    ("orders.pdf", data_url(b"%PDF-1.4"), "orders.pdf: upload a CSV"),
])
def test_a_bad_upload_answers_a_clear_message_and_is_not_kept(signed_in, uploads_folder,
                                                              filename, contents, message):
    admin = signed_in("admin@example.com")
    stored, status = upload(admin, filename, contents)
    assert stored is None
    assert status.startswith(message), status
    assert list(uploads_folder.iterdir()) == []


def test_a_good_upload_is_kept_and_old_uploads_are_pruned(signed_in, uploads_folder):
    old = uploads_folder / "0123456789ab-last-month.csv"
    old.write_text(HEADER)
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))
    admin = signed_in("admin@example.com")
    stored, status = upload(admin, "shop.csv", data_url(
        (HEADER + "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n").encode()))
    assert stored.endswith("-shop.csv")
    assert status.startswith("Uploaded shop.csv: 8 columns (InvoiceNo, StockCode")
    assert [path.name for path in uploads_folder.iterdir()] == [stored]
