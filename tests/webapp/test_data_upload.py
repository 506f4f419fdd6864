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


def upload(client, filename, contents, chosen="online-retail"):
    """POST the upload callback (data-upload.contents) and return (stored name, status,
    the format it selects)."""
    response = client.post("/_dash-update-component", json={
        "output": "..data-upload-path.data...data-upload-status.children..."
                  '{"field":["ALL"],"type":"data-map"}.options...data-format.value..',
        "outputs": [{"id": "data-upload-path", "property": "data"},
                    {"id": "data-upload-status", "property": "children"},
                    [{"id": MAP_ID, "property": "options"}],
                    {"id": "data-format", "property": "value"}],
        "inputs": [{"id": "data-upload", "property": "contents", "value": contents}],
        "changedPropIds": ["data-upload.contents"],
        "state": [{"id": "data-upload", "property": "filename", "value": filename},
                  [{"id": MAP_ID, "property": "id", "value": MAP_ID}],
                  {"id": "data-format", "property": "value", "value": chosen}]})
    assert response.status_code == 200, response.text
    body = response.json
    assert "sideUpdate" not in body, body  # the shell's "Something went wrong" alert
    status = body["response"]["data-upload-status"]["children"]
    return (body["response"]["data-upload-path"]["data"], text_of(status),
            body["response"]["data-format"]["value"])


def text_of(component) -> str:
    """The text of a rendered Dash component tree (as JSON), or a plain string."""
    if isinstance(component, str):
        return component
    if isinstance(component, list):
        return " ".join(text_of(part) for part in component)
    if isinstance(component, dict):
        return text_of(component.get("props", {}).get("children", ""))
    return "" if component is None else str(component)


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
    stored, status, chosen = upload(admin, filename, contents)
    assert stored is None and chosen == "online-retail"  # left as it was
    assert status.startswith(message), status
    assert list(uploads_folder.iterdir()) == []


def test_a_good_upload_is_kept_and_old_uploads_are_pruned(signed_in, uploads_folder):
    old = uploads_folder / "0123456789ab-last-month.csv"
    old.write_text(HEADER)
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))
    admin = signed_in("admin@example.com")
    stored, status, chosen = upload(admin, "shop.csv", data_url(
        (HEADER + "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n").encode()))
    assert stored.endswith("-shop.csv")
    assert status.startswith("Uploaded shop.csv: 8 columns (InvoiceNo, StockCode")
    assert chosen == "online-retail"
    assert [path.name for path in uploads_folder.iterdir()] == [stored]


@pytest.mark.parametrize("header, detected, says", [
    ("Name,Email,Financial Status,Paid at,Lineitem quantity,Lineitem name,Lineitem price,"
     "Lineitem sku\n#1001,a@example.com,paid,2024-01-01,1,Mug,5.00,M1\n", "shopify",
     "This looks like a Shopify orders export"),
    ("order_id,order_number,order_date,status,item_name,item_quantity,item_total,"
     "billing_country\n1,1,2024-01-01,completed,Mug,1,5.00,GB\n", "woocommerce",
     "This looks like a WooCommerce orders export"),
    ("Bestellnr;Datum;Artikel;Menge;Summe\nA1;03/04/2024;X;1;5,00\n", "generic",
     "Not a layout Shoplens knows: choose \"Other file\" and map its columns"),
])
def test_an_upload_selects_the_format_its_header_looks_like(signed_in, uploads_folder,
                                                             header, detected, says):
    """The admin sees the detected format selected, and confirms it by loading."""
    admin = signed_in("admin@example.com")
    stored, status, chosen = upload(admin, "orders.csv", data_url(header.encode()))
    assert stored and chosen == detected
    assert says in status
    if chosen != "generic":
        assert "check the format below, then load the file" in status


def test_the_mapping_step_merges_the_dropdowns_with_more_of_the_mapping(app):
    """The dropdowns give columns; the JSON box adds the options (and may add columns);
    a box that is not a JSON object is refused with its reason before any job is made."""
    from webapp.dashboard import context
    from webapp.dashboard.pages import data

    values = ["Order", "Day", "SKU", "Qty", "Price", None] + [None] * (
        len(data.MAPPED_FIELDS) - 6)
    options = data.load_options("up.csv", "generic", False, values, False,
                                '{"columns": {"status": "State"}, '
                                '"refund_values": ["refunded"]}')
    assert options["mapping"] == {
        "columns": {"invoice_id": "Order", "invoice_ts": "Day", "product_id": "SKU",
                    "quantity": "Qty", "unit_price": "Price", "status": "State"},
        "refund_values": ["refunded"]}
    assert "mapping" not in data.load_options("up.csv", "shopify", False, values, False, "")
    with pytest.raises(context.Unavailable, match="not valid JSON"):
        data.load_options("up.csv", "generic", False, values, False, "{refund")
    with pytest.raises(context.Unavailable, match="must be a JSON object"):
        data.load_options("up.csv", "generic", False, values, False, "[1]")
