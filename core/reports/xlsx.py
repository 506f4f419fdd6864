"""The Excel report (openpyxl): eight sheets with number formats, frozen headers,
autofilters and column widths.

Numbers are written as numbers (a spreadsheet can sum them); every text cell goes through
``analytics.transactions.neutralise_cell``, so a product description such as
``=HYPERLINK(...)`` is shown as text and never run as a formula.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from analytics.transactions import neutralise_cell
from core.formatting import Locale, excel_date_format, excel_money_format
from core.reports.content import ReportContent, describe_filters_for_cover

SHEETS = ("Summary KPIs", "Monthly trend", "Countries", "Categories", "Top products",
          "Customer segments", "Cohorts", "Forecast", "Notes")
#: Added after them when the data holds ad spend or sessions.
MARKETING_SHEET = "Marketing"
HEADER_FONT = Font(bold=True, color="1E293B")
HEADER_FILL = PatternFill("solid", fgColor="F1F5F9")
TITLE_FONT = Font(bold=True, size=14, color="2563EB")
COUNT_FORMAT = "#,##0"
RATE_FORMAT = "0.0%"
MONTH_FORMAT = "mmm yyyy"
DECIMAL_FORMAT = "#,##0.0"


@dataclass(frozen=True)
class Column:
    """A table column: header, the frame column it shows, and its kind (text, money,
    count, rate, date, month, decimal)."""
    header: str
    source: str
    kind: str = "text"
    width: float | None = None


def money_format(currency: "Locale | str") -> str:
    """The money cells' number format: the locale's currency sign where it writes it."""
    return excel_money_format(currency)


def render_xlsx(content: ReportContent, path: Path) -> Path:
    """Write the report workbook to ``path`` and return it."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    _summary(workbook.create_sheet(SHEETS[0]), content)
    _frame_sheet(workbook.create_sheet(SHEETS[1]), content, content.monthly, [
        Column("Month", "period_start", "month"), Column("Revenue (net)", "revenue", "money"),
        Column("Gross revenue", "gross_revenue", "money"),
        Column("Returns", "returns", "money"), Column("Orders", "orders", "count"),
        Column("Units", "units", "count"), Column("Customers", "customers", "count"),
        Column("Profit", "profit", "money"),
        Column("Revenue same month last year", "revenue_last_year", "money"),
        Column("Orders same month last year", "orders_last_year", "count")])
    _frame_sheet(workbook.create_sheet(SHEETS[2]), content, content.countries, [
        Column("Country", "label", width=24), Column("ISO code", "country_code"),
        Column("Revenue (net)", "revenue", "money"),
        Column("Gross revenue", "gross_revenue", "money"),
        Column("Returns", "returns", "money"), Column("Orders", "orders", "count"),
        Column("Units", "units", "count"), Column("Customers", "customers", "count"),
        Column("Share of revenue", "share", "rate")])
    _frame_sheet(workbook.create_sheet(SHEETS[3]), content, content.categories, [
        Column("Category", "category", width=24), Column("Revenue (net)", "revenue", "money"),
        Column("Gross revenue", "gross_revenue", "money"),
        Column("Returns", "returns", "money"), Column("Orders", "orders", "count"),
        Column("Units", "units", "count"), Column("Customers", "customers", "count"),
        Column("Profit", "profit", "money"), Column("Margin", "margin", "rate"),
        Column("Share of revenue", "share", "rate")])
    products = content.products.assign(rank=range(1, len(content.products) + 1))
    _frame_sheet(workbook.create_sheet(SHEETS[4]), content, products, [
        Column("Rank", "rank", "count"), Column("Product", "product_id"),
        Column("Description", "description", width=40), Column("Category", "category"),
        Column("Revenue (net)", "revenue", "money"), Column("Units", "units", "count"),
        Column("Orders", "orders", "count"), Column("Customers", "customers", "count"),
        Column("Share of revenue", "share", "rate")])
    _frame_sheet(workbook.create_sheet(SHEETS[5]), content, content.segments, [
        Column("Segment", "segment", width=22), Column("Customers", "customers", "count"),
        Column("Share of customers", "share", "rate"),
        Column("Revenue (net)", "revenue", "money"),
        Column("Share of revenue", "revenue_share", "rate"),
        Column("Mean recency (days)", "mean_recency", "decimal"),
        Column("Mean orders", "mean_frequency", "decimal"),
        Column("Mean revenue", "mean_monetary", "money")])
    _cohorts(workbook.create_sheet(SHEETS[6]), content)
    _forecast(workbook.create_sheet(SHEETS[7]), content)
    _notes(workbook.create_sheet(SHEETS[8]), content)
    if content.marketing is not None:
        _marketing(workbook.create_sheet(MARKETING_SHEET), content)
    workbook.properties.title = f"{content.title}: {content.period_label}"
    workbook.properties.creator = "Shoplens"
    partial = path.with_suffix(".part")
    workbook.save(partial)
    partial.replace(path)
    return path


# ----------------------------------------------------------------- sheets
def _summary(sheet: Worksheet, content: ReportContent) -> None:
    sheet["A1"] = neutralise_cell(f"{content.title}: {content.period_label}")
    sheet["A1"].font = TITLE_FONT
    row = 2
    for label, text in describe_filters_for_cover(content):
        sheet.cell(row, 1, label).font = HEADER_FONT
        sheet.cell(row, 2, neutralise_cell(text))
        row += 1
    header_row = row + 1
    columns = [Column("Key figure", "label", width=26), Column("KPI", "name", width=16),
               Column("This period", "current"), Column(content.comparison_name, "previous"),
               Column("Change", "abs_change"), Column("Change %", "rel_change", "rate"),
               Column("Note", "note", width=44)]
    _header(sheet, header_row, columns)
    money = money_format(content.currency)
    formats = {"money": money, "count": COUNT_FORMAT, "rate": RATE_FORMAT}
    for offset, line in enumerate(content.kpi_lines, start=1):
        row = header_row + offset
        values = {"label": line.label, "name": line.name,
                  "current": line.current, "previous": line.previous,
                  "abs_change": line.abs_change, "rel_change": line.rel_change,
                  "note": f"n/a ({line.reason})" if line.reason else None}
        for index, column in enumerate(columns, start=1):
            value = values[column.source]
            if column.source == "current" and _empty(value):
                value = line.current_text  # "n/a (reason)", never 0
            cell = sheet.cell(row, index, _cell_value(value))
            if column.source in ("current", "previous", "abs_change") and \
                    isinstance(cell.value, (int, float)):
                cell.number_format = formats[line.kind]
            elif column.kind == "rate":
                cell.number_format = RATE_FORMAT
    last = header_row + len(content.kpi_lines)
    _finish(sheet, header_row, last, columns)


def _notes(sheet: Worksheet, content: ReportContent) -> None:
    """The notes on the timeline that touch the period: first day, last day, text."""
    columns = [Column("From", "start", "date"), Column("To", "end", "date"),
               Column("Note", "text", width=70)]
    _header(sheet, 1, columns)
    for row, note in enumerate(content.notes, start=2):
        for index, value in enumerate((note.start, note.end, neutralise_cell(note.text)),
                                      start=1):
            cell = sheet.cell(row, index, value)
            if index < 3 and value is not None:
                cell.number_format = excel_date_format(content.currency)
    if not content.notes:
        sheet.cell(2, 1, "No notes on this period.")
    _finish(sheet, 1, 1 + len(content.notes), columns)


def _marketing(sheet: Worksheet, content: ReportContent) -> None:
    """The marketing KPIs (value, previous, change as text), then the actions."""
    section = content.marketing
    columns = [Column("Marketing figure", "label", width=28),
               Column("This period", "current_text", width=18),
               Column("Previous period", "previous_text", width=18),
               Column("Change", "change_text", width=22)]
    _header(sheet, 1, columns)
    for row, line in enumerate(section.lines, start=2):
        for index, value in enumerate((line.label, line.current_text, line.previous_text,
                                       line.change_text), start=1):
            sheet.cell(row, index, value)
    start = len(section.lines) + 3
    sheet.cell(start, 1, "What to do next").font = TITLE_FONT
    actions = [Column("At stake", "stake", "money", 14), Column("Window", "window", width=12),
               Column("Level", "level", width=10), Column("Channel", "channel", width=14),
               Column("Item", "name", width=32), Column("Why", "reason", width=50),
               Column("What to do", "action", width=30)]
    _header(sheet, start + 1, actions)
    formats = _formats(content.currency)
    for row, record in enumerate(section.actions.to_dict("records"), start=start + 2):
        for index, column in enumerate(actions, start=1):
            cell = sheet.cell(row, index, _cell_value(record[column.source]))
            if column.kind in formats:
                cell.number_format = formats[column.kind]
    for index, column in enumerate(actions, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(
            column.width or 12, sheet.column_dimensions[get_column_letter(index)].width or 0)
    note_row = start + 3 + len(section.actions)
    for offset, note in enumerate([*section.windows, *section.notes]):
        sheet.cell(note_row + offset, 1, neutralise_cell(note))


def _frame_sheet(sheet: Worksheet, content: ReportContent, frame: pd.DataFrame,
                 columns: list[Column]) -> None:
    columns = [column for column in columns if column.source in frame.columns]
    _header(sheet, 1, columns)
    formats = _formats(content.currency)
    for row_index, record in enumerate(frame.to_dict("records"), start=2):
        for column_index, column in enumerate(columns, start=1):
            cell = sheet.cell(row_index, column_index, _cell_value(record[column.source]))
            if column.kind in formats:
                cell.number_format = formats[column.kind]
    _finish(sheet, 1, 1 + len(frame), columns)


def _cohorts(sheet: Worksheet, content: ReportContent) -> None:
    """Retention matrix: one row per cohort month, one column per month offset."""
    table = content.cohorts
    offsets = sorted(table["offset"].unique()) if not table.empty else []
    columns = [Column("Cohort", "cohort", "month"), Column("Customers", "cohort_size", "count")]
    columns += [Column(f"Month {int(k)}", f"m{int(k)}", "rate", width=9) for k in offsets]
    _header(sheet, 1, columns)
    row = 1
    formats = _formats(content.currency)
    for cohort, cells in table.groupby("cohort", sort=True):
        row += 1
        values = {"cohort": cohort, "cohort_size": int(cells["cohort_size"].iloc[0])}
        values.update({f"m{int(k)}": r for k, r in zip(cells["offset"], cells["retention"])})
        for index, column in enumerate(columns, start=1):
            cell = sheet.cell(row, index, _cell_value(values.get(column.source)))
            cell.number_format = formats[column.kind]
    _finish(sheet, 1, row, columns)
    note_row = row + 2
    sheet.cell(note_row, 1, "Share of each cohort's customers with a sale line in the month "
                            "k months after their first one (month 0 = 100%).")
    sheet.cell(note_row + 1, 1, f"Cohorts of {content.cohort_label} (a period shorter than "
                                "about six months shows the 12 months ending with it).")


def _forecast(sheet: Worksheet, content: ReportContent) -> None:
    section = content.forecast
    columns = [Column("Date", "date", "date"), Column("Forecast", "forecast", "money"),
               Column("Lower bound", "lower", "money"), Column("Upper bound", "upper", "money")]
    if section.reason:
        _header(sheet, 1, columns)
        sheet.cell(2, 1, neutralise_cell(f"No forecast: {section.reason}"))
        _finish(sheet, 1, 2, columns)
        return
    _frame_sheet(sheet, content, section.forecast, columns)
    money = money_format(content.currency)
    info = [("Model", section.model, None),
            ("Prediction interval", section.interval, RATE_FORMAT),
            ("Hold-out days", section.holdout_days, COUNT_FORMAT),
            ("MAPE (model)", section.accuracy.get("mape"), RATE_FORMAT),
            ("MAPE (seasonal naive)", section.baseline_accuracy.get("mape"), RATE_FORMAT),
            ("RMSE (model)", section.accuracy.get("rmse"), money),
            ("RMSE (seasonal naive)", section.baseline_accuracy.get("rmse"), money),
            ("R² (model)", section.accuracy.get("r2"), "0.00"),
            ("R² (seasonal naive)", section.baseline_accuracy.get("r2"), "0.00")]
    for row, (label, value, number_format) in enumerate(info, start=1):
        sheet.cell(row, 6, label).font = HEADER_FONT
        cell = sheet.cell(row, 7, _cell_value(value if not _empty(value) else "n/a"))
        if number_format and isinstance(cell.value, (int, float)):
            cell.number_format = number_format
    sheet.column_dimensions["F"].width = 24
    sheet.column_dimensions["G"].width = 30


# ----------------------------------------------------------------- helpers
def _formats(currency: str) -> dict[str, str]:
    return {"money": money_format(currency), "count": COUNT_FORMAT, "rate": RATE_FORMAT,
            "date": excel_date_format(currency), "month": MONTH_FORMAT, "decimal": DECIMAL_FORMAT}


def _header(sheet: Worksheet, row: int, columns: list[Column]) -> None:
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row, index, column.header)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _finish(sheet: Worksheet, header_row: int, last_row: int, columns: list[Column]) -> None:
    """Freeze everything above the first data row, filter the table, size the columns."""
    sheet.freeze_panes = sheet.cell(header_row + 1, 1)
    last_column = get_column_letter(len(columns))
    sheet.auto_filter.ref = f"A{header_row}:{last_column}{max(last_row, header_row)}"
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        if column.width:
            width = column.width
        else:
            lengths = [len(column.header)]
            for (cell,) in sheet.iter_rows(min_row=header_row + 1, max_row=last_row,
                                           min_col=index, max_col=index):
                lengths.append(len(_display(cell.value)))
            width = min(max(lengths) + 2, 40)
        sheet.column_dimensions[letter].width = max(width, 8)


def _display(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value or "")


def _empty(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA \
        or value is pd.NaT


def _cell_value(value):
    """A value openpyxl writes as the right cell type: numbers as numbers, dates as dates,
    missing as empty, text neutralised."""
    if _empty(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().date() if value == value.normalize() else \
            value.to_pydatetime()
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _cell_value(value.item())
    if isinstance(value, (int, float)):
        return value
    return neutralise_cell(str(value))
