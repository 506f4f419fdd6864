"""Readers on tiny hand-written files; every expected number is worked out in the test."""
import datetime as dt
import gzip
import json
import random

import pandas as pd
import pytest

from data.readers import (MappingError, ReadError, parse_mapping, read_generic, read_header,
                          read_online_retail)

GERMAN_EXPORT = (
    "Rechnung;Datum;Kunde;Artikel;Bezeichnung;Menge;Summe;Gewinn;Land\r\n"
    "1001;03/04/2011 10:15;K1;A1;Kaffeebecher groß;2;12,50;4,50;Germany\r\n"
    "1001;03/04/2011 10:15;K1;B2;Crème brûlée Förmchen;1;3,99;1,00;Germany\r\n"
    "1002;13/04/2011 09:00;K2;A1;Kaffeebecher groß;-1;-6,25;-2,25;France\r\n"
    "1003;31/12/2011 23:59;;C3;Geschenkkarte;3;1.234,56;0;Österreich\r\n"
    "1004;32/01/2011 08:00;K3;A1;bad date;1;1,00;0;Germany\r\n"
    ";01/05/2011 08:00;K3;A1;no invoice;1;1,00;0;Germany\r\n"
    "1005;01/05/2011 08:00;K3;A1;bad quantity;zwei;1,00;0;Germany\r\n"
)
GERMAN_MAPPING = {"columns": {
    "invoice_id": "Rechnung", "invoice_ts": "Datum", "customer_id": "Kunde",
    "product_id": "Artikel", "description": "Bezeichnung", "quantity": "Menge",
    "line_total": "Summe", "profit": "Gewinn", "country": "Land"}}

SHOP_EXPORT = (
    "order,date,sku,qty,price,discount,status,country,channel\n"
    "A1,2024-03-01T10:00:00,P1,2,10.00,10%,complete,GB,web\n"
    "A2,2024-03-02T11:30:00,P2,1,20.00,0,Cancelled,US,store\n"
    'A3,2024-03-03 12:00,P1,4,"1,000.00",,complete,UK,web\n'
)
SHOP_MAPPING = {
    "columns": {"invoice_id": "order", "invoice_ts": "date", "product_id": "sku",
                "quantity": "qty", "unit_price": "price", "discount": "discount",
                "is_cancellation": "status", "country": "country", "channel": "channel"},
    "discount_type": "percent", "cancellation_values": ["cancelled", "refunded"]}

ONLINE_RETAIL_UCI = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,"
    "United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom\n"
    "C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527,United Kingdom\n"
    "536381,22139,,1,12/2/2010 9:41,0,,EIRE\n"
    "536382,22140,RETRO SPOT,2,12/9/2010 10:00,4.25,12345,Channel Islands\n"
)


def money(series):
    return round(float(series.sum()), 2)


def test_cp1252_semicolons_decimal_comma_dayfirst_line_total_and_profit(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(GERMAN_EXPORT.encode("cp1252"))
    result = read_generic(path, GERMAN_MAPPING)

    assert result.lines_read == 7
    assert len(result.lines) == 4
    assert dict(zip(result.rejects["source_row"], result.rejects["reject_reason"])) == {
        6: "unparseable date", 7: "missing invoice id", 8: "unparseable quantity"}
    assert result.rejects.loc[0, "Bezeichnung"] == "bad date"  # original values kept
    lines = result.lines
    assert lines["description"].tolist()[:2] == ["Kaffeebecher groß", "Crème brûlée Förmchen"]
    # unit price = line total ÷ quantity; "1.234,56" has a thousands point
    assert lines["unit_price"].round(2).tolist() == [6.25, 3.99, 6.25, 411.52]
    # unit cost = unit price − profit ÷ quantity
    assert lines["unit_cost"].round(2).tolist() == [4.0, 2.99, 4.0, 411.52]
    assert lines["invoice_ts"].tolist() == [
        dt.datetime(2011, 4, 3, 10, 15), dt.datetime(2011, 4, 3, 10, 15),
        dt.datetime(2011, 4, 13, 9, 0), dt.datetime(2011, 12, 31, 23, 59)]
    assert lines["customer_id"].isna().tolist() == [False, False, False, True]
    assert lines["country_code"].tolist()[:3] == ["DE", "DE", "FR"]
    assert pd.isna(lines["country_code"].iloc[3])
    assert result.countries.unknown == ("Österreich",)
    value = lines["quantity"] * lines["unit_price"]
    assert money(value) == 12.50 + 3.99 - 6.25 + 1234.56
    # profit: line values minus quantity × unit cost = the Gewinn column (4.5 + 1 − 2.25 + 0)
    assert money(value - lines["quantity"] * lines["unit_cost"]) == 3.25
    assert any("cp1252" in note for note in result.notes)
    assert any("%d/%m/%Y %H:%M" in note for note in result.notes)


def test_percent_discount_status_cancellations_and_thousands(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text(SHOP_EXPORT, encoding="utf-8")
    result = read_generic(path, SHOP_MAPPING)
    lines = result.lines
    # A1: 10 × (1 − 10 %) = 9; A2: status "Cancelled" is a cancellation value: never sold,
    # so it is left out (not a return) and counted
    assert lines["invoice_id"].tolist() == ["A1", "A3"]
    assert lines["unit_price"].tolist() == [9.0, 1000.0]
    assert lines["quantity"].tolist() == [2.0, 4.0]
    assert lines["is_cancellation"].tolist() == [False, False]
    assert lines["country_code"].tolist() == ["GB", "GB"]
    assert lines["channel"].tolist() == ["web", "web"]
    assert lines["invoice_ts"].iloc[1] == pd.Timestamp("2024-03-03 12:00")
    assert result.lines_read == 3 and result.rejects.empty
    assert result.orders["excluded"] == {
        "status = cancelled (cancelled: never sold)": {"orders": 1, "lines": 1}}


def test_a_cancellation_flag_still_reverses_a_sale(tmp_path):
    """is_cancellation as a true/false flag keeps Online Retail's meaning: the line reverses
    an earlier sale, so its value counts as a return."""
    path = tmp_path / "flags.csv"
    path.write_text("order,date,sku,qty,price,cancelled\n"
                    "A1,2024-03-01,P1,2,10,no\n"
                    "A2,2024-03-02,P1,2,10,yes\n", encoding="utf-8")
    lines = read_generic(path, {"columns": {
        "invoice_id": "order", "invoice_ts": "date", "product_id": "sku", "quantity": "qty",
        "unit_price": "price", "is_cancellation": "cancelled"}}).lines
    assert lines["quantity"].tolist() == [2.0, -2.0]
    assert lines["is_cancellation"].tolist() == [False, True]


def test_discount_amount_is_spread_over_units_and_gzip_is_read(tmp_path):
    path = tmp_path / "shop.csv.gz"
    path.write_bytes(gzip.compress(SHOP_EXPORT.encode("utf-8")))
    mapping = {**SHOP_MAPPING, "discount_type": "amount"}
    lines_text = SHOP_EXPORT.replace("10%", "3")
    path.write_bytes(gzip.compress(lines_text.encode("utf-8")))
    lines = read_generic(path, mapping).lines
    # A1: 2 units at 10 with 3 off the line → 8.5 per unit, line value 17 (A2 cancelled)
    assert lines["unit_price"].tolist() == [8.5, 1000.0]


def test_fraction_discount_and_unit_cost_from_line_cost(tmp_path):
    path = tmp_path / "tabs.tsv"
    path.write_text("id\twhen\tsku\tn\tprice\toff\tcost\n"
                    "1\t2024-01-05\tX\t4\t10\t0.25\t12\n"
                    "2\t2024-01-06\tY\t2\t5\t\t3\n", encoding="utf-8")
    mapping = {"columns": {"invoice_id": "id", "invoice_date": "when", "product_id": "sku",
                           "quantity": "n", "unit_price": "price", "discount": "off",
                           "line_cost": "cost"}, "discount_type": "fraction"}
    result = read_generic(path, mapping)
    assert result.lines["unit_price"].tolist() == [7.5, 5.0]
    assert result.lines["unit_cost"].tolist() == [3.0, 1.5]
    assert result.lines["country"].tolist() == ["Unspecified", "Unspecified"]
    assert "delimiter tab" in result.notes[0]


def test_online_retail_uci_layout_with_us_dates(tmp_path):
    path = tmp_path / "Online Retail.csv"
    path.write_text(ONLINE_RETAIL_UCI, encoding="latin-1")
    result = read_online_retail(path)
    lines = result.lines
    assert result.lines_read == 5 and len(result.rejects) == 0
    assert lines["invoice_ts"].iloc[0] == pd.Timestamp("2010-12-01 08:26")
    assert lines["invoice_ts"].iloc[4] == pd.Timestamp("2010-12-09 10:00")  # not 12 Sept
    assert lines["is_cancellation"].tolist() == [False, False, True, False, False]
    assert lines["customer_id"].iloc[0] == "17850" and pd.isna(lines["customer_id"].iloc[3])
    assert pd.isna(lines["description"].iloc[3])
    assert lines["country_code"].tolist()[:4] == ["GB", "GB", "GB", "IE"]
    assert pd.isna(lines["country_code"].iloc[4])
    assert "Channel Islands" in result.countries.codeless


def test_online_retail_xlsx_written_with_openpyxl(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                  "UnitPrice", "CustomerID", "Country"])
    sheet.append([536365, "85123A", "WHITE HANGING HEART", 6,
                  dt.datetime(2010, 12, 1, 8, 26), 2.55, 17850.0, "United Kingdom"])
    sheet.append(["C536379", "D", "Discount", -1, dt.datetime(2010, 12, 1, 9, 41), 27.5,
                  14527, "RSA"])
    sheet.append([536400, 22139, None, 3, dt.datetime(2010, 12, 13, 10, 0), 1.25, None,
                  "USA"])
    path = tmp_path / "retail.xlsx"
    book.save(path)
    lines = read_online_retail(path).lines
    assert lines["invoice_id"].tolist() == ["536365", "C536379", "536400"]
    assert lines["product_id"].tolist() == ["85123A", "D", "22139"]
    assert lines["customer_id"].iloc[0] == "17850" and pd.isna(lines["customer_id"].iloc[2])
    assert lines["invoice_ts"].tolist() == [pd.Timestamp("2010-12-01 08:26"),
                                            pd.Timestamp("2010-12-01 09:41"),
                                            pd.Timestamp("2010-12-13 10:00")]
    assert lines["is_cancellation"].tolist() == [False, True, False]
    assert lines["country_code"].tolist() == ["GB", "ZA", "US"]
    assert money(lines["quantity"] * lines["unit_price"]) == round(6 * 2.55 - 27.5 + 3.75, 2)


def test_utf16_with_bom_and_epoch_seconds(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_text("inv|ts|sku|q|p\n9|1704067200|Z|1|2,5\n", encoding="utf-16")
    mapping = {"columns": {"invoice_id": "inv", "invoice_ts": "ts", "product_id": "sku",
                           "quantity": "q", "unit_price": "p"}, "date_format": "epoch_seconds",
               "decimal": ","}
    lines = read_generic(path, mapping).lines
    assert lines["invoice_ts"].iloc[0] == pd.Timestamp("2024-01-01 00:00:00")
    assert lines["unit_price"].iloc[0] == 2.5


def test_ambiguous_day_month_needs_date_format(tmp_path):
    path = tmp_path / "ambiguous.csv"
    path.write_text("id,date,sku,q,p\n1,03/04/2011,X,1,2\n2,05/06/2011,X,1,2\n")
    mapping = {"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                           "quantity": "q", "unit_price": "p"}}
    with pytest.raises(ReadError, match="date_format"):
        read_generic(path, mapping)
    dayfirst = read_generic(path, {**mapping, "date_format": "dayfirst"}).lines
    assert dayfirst["invoice_ts"].iloc[0] == pd.Timestamp("2011-04-03")
    pattern = read_generic(path, {**mapping, "date_format": "%m/%d/%Y"}).lines
    assert pattern["invoice_ts"].iloc[0] == pd.Timestamp("2011-03-04")


def test_bad_dates_prices_and_ids_are_rejected_with_reasons(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "id,date,sku,q,p\n"
        "1,2024-01-01,X,1,2\n"
        "2,yesterday,X,1,2\n"
        "3,2024-02-30,X,1,2\n"
        "4,2024-01-02,,1,2\n"
        "5,2024-01-02,X,1,free\n"
        "6,2024-01-02,X,1,2,extra field\n"
        "7,2024-01-03,X,,2\n")
    mapping = {"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                           "quantity": "q", "unit_price": "p"}}
    result = read_generic(path, mapping)
    assert result.lines["invoice_id"].tolist() == ["1"]
    assert result.lines_read == 7
    assert dict(zip(result.rejects["source_row"], result.rejects["reject_reason"])) == {
        3: "unparseable date", 4: "unparseable date", 5: "missing product id",
        6: "unparseable unit price", 7: "wrong number of fields", 8: "unparseable quantity"}


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"   \n\n", "is empty"),
    (b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n",
     "no data lines"),
    (b"Dear customer\nthank you for your order. We ship tomorrow\nRegards\n", "not a table"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "binary"),
    (b"order;date;sku\n1;2024-01-01;X\n", "does not have the Online Retail columns"),
])
def test_files_that_are_not_online_retail_tables(tmp_path, content, message):
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    with pytest.raises(ReadError, match=message):
        read_online_retail(path)


def test_random_binary_garbage_is_refused(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"\x00\x01" + random.Random(7).randbytes(20_000))
    with pytest.raises(ReadError, match="binary"):
        read_online_retail(path)


@pytest.mark.parametrize("mapping, message", [
    ({"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                  "quantity": "q", "unit_price": "p", "colour": "c"}}, "Unknown field 'colour'"),
    ({"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                  "quantity": "q"}}, "neither unit_price nor line_total"),
    ({"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                  "quantity": "q", "unit_price": "p", "line_total": "t"}}, "not both"),
    ({"columns": {"invoice_id": "id", "product_id": "sku", "quantity": "q",
                  "unit_price": "p"}}, "invoice date"),
    ({"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                  "quantity": "q", "unit_price": "p", "discount": "d"}}, "discount_type"),
    ({"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                  "quantity": "q", "unit_price": "p"}, "decimal": ";"}, "decimal"),
    ({"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                  "quantity": "q", "unit_price": "p"}, "sheet": 2}, "Unknown mapping option"),
    ({"columns": {}}, "columns"),
    ("{not json", "not valid JSON"),
])
def test_invalid_mappings_are_refused_with_precise_errors(mapping, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(mapping if isinstance(mapping, str) else json.dumps(mapping))


def test_mapped_column_missing_from_the_file(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text(SHOP_EXPORT)
    mapping = {**SHOP_MAPPING, "columns": {**SHOP_MAPPING["columns"], "quantity": "Units"}}
    with pytest.raises(MappingError, match="'Units' \\(mapped to quantity\\) is not in the file"):
        read_generic(path, mapping)


def test_mapping_read_from_a_json_file_and_case_insensitive_columns(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text(SHOP_EXPORT)
    mapping_path = tmp_path / "mapping.json"
    mapping = {**SHOP_MAPPING, "columns": {**SHOP_MAPPING["columns"], "quantity": "QTY"}}
    mapping_path.write_text(json.dumps(mapping))
    assert len(read_generic(path, mapping_path).lines) == 2  # A2 is cancelled: left out


def test_line_numbers_survive_quoted_newlines_blank_short_and_long_lines(tmp_path):
    """Rows of the file (header = 1): a quoted newline keeps its row one row; a short line
    is padded with empty fields (its missing price rejects it), a long one is rejected as
    such, a blank one is ignored and counted in a note."""
    path = tmp_path / "messy.csv"
    path.write_text(
        "id,date,sku,q,p,note\n"                      # row 1
        '1,2024-01-01,X,1,2,"two\nlines"\n'           # row 2
        "\n"                                            # row 3: blank
        "2,2024-01-02,X,1\n"                           # row 4: short, no price
        "3,2024-01-03,X,1,2,a,b\n"                     # row 5: long
        "4,2024-01-04,X,1,2\n"                         # row 6: short, note missing only
        "5,2024-01-05,X,1,oops,x\n")                   # row 7
    mapping = {"columns": {"invoice_id": "id", "invoice_ts": "date", "product_id": "sku",
                           "quantity": "q", "unit_price": "p", "description": "note"},
               "delimiter": ","}  # too messy to detect
    result = read_generic(path, mapping)
    assert result.lines["invoice_id"].tolist() == ["1", "4"]
    assert result.lines["description"].fillna("").tolist() == ["two\nlines", ""]
    assert result.lines_read == 5
    assert dict(zip(result.rejects["source_row"], result.rejects["reject_reason"])) == {
        4: "unparseable unit price", 5: "wrong number of fields", 7: "unparseable unit price"}
    assert result.rejects.loc[result.rejects["source_row"] == 4, "id"].tolist() == ["2"]
    assert "1 blank lines ignored" in result.notes


def test_read_header_names_columns_as_the_reader_does(tmp_path):
    german = tmp_path / "export.csv"
    german.write_bytes(GERMAN_EXPORT.encode("cp1252"))
    assert read_header(german) == ["Rechnung", "Datum", "Kunde", "Artikel", "Bezeichnung",
                                   "Menge", "Summe", "Gewinn", "Land"]
    odd = tmp_path / "odd.csv.gz"
    odd.write_bytes(gzip.compress(b" id |sku||sku|sku.1|sku\n1|A||B|C|D\n"))
    names = read_header(odd)
    assert names == ["id", "sku", "Unnamed: 2", "sku.2", "sku.1", "sku.3"]
    mapping = {"columns": {"invoice_id": "id", "invoice_ts": "id", "product_id": "sku.3",
                           "quantity": "id", "unit_price": "id"}}
    assert read_generic(odd, mapping).rejects.columns.tolist()[2:] == names
    with pytest.raises(ReadError, match="binary"):
        garbage = tmp_path / "garbage.csv"
        garbage.write_bytes(b"\x00\x01" + random.Random(7).randbytes(20_000))
        read_header(garbage)


def test_read_header_of_a_workbook(tmp_path):
    from openpyxl import Workbook
    book = Workbook()
    book.active.append(["InvoiceNo ", "StockCode", None])
    book.active.append(["1", "A", "x"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    assert read_header(path) == ["InvoiceNo", "StockCode", "Unnamed: 2"]
