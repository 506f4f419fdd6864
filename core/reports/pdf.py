"""The PDF report (ReportLab): cover, key figures with comparison, charts, countries,
categories, products, customer segments, forecast with its accuracy, data quality.

Text is set in DejaVu Sans (shipped with matplotlib), which has every glyph the numbers use
(£, €, the minus sign −, the en dash –); data values are escaped before they reach
ReportLab's paragraph markup.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (Image, KeepTogether, PageBreak, Paragraph, SimpleDocTemplate,
                                Spacer, Table, TableStyle)

from core.reports import charts
from core.reports.content import ReportContent, describe_filters_for_cover, format_value

FONT, BOLD = "ShoplensSans", "ShoplensSans-Bold"
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
INK = colors.HexColor("#1e293b")
MUTED = colors.HexColor("#64748b")
LINE = colors.HexColor("#e2e8f0")
HEADER_FILL = colors.HexColor("#f1f5f9")
BRAND = colors.HexColor("#2563eb")
CONTENT_WIDTH = A4[0] - 36 * mm


def _register_fonts() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(_FONTS / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT,
                                      boldItalic=BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, textColor=INK)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5,
                                textColor=MUTED),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
        "number": ParagraphStyle("number", parent=base, fontSize=8, leading=10,
                                 alignment=TA_RIGHT),
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=24, leading=30,
                                textColor=BRAND, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=13, leading=17,
                                   spaceAfter=18),
        "h1": ParagraphStyle("h1", parent=base, fontName=BOLD, fontSize=14, leading=18,
                             spaceBefore=10, spaceAfter=6, textColor=INK),
    }


def render_pdf(content: ReportContent, path: Path) -> Path:
    """Write the report to ``path`` and return it."""
    _register_fonts()
    styles = _styles()
    story: list = []
    story += _cover(content, styles)
    story += _kpis(content, styles)
    story += _trend(content, styles)
    story += _countries(content, styles)
    story += _categories(content, styles)
    story += _products(content, styles)
    story += _segments(content, styles)
    story += _forecast(content, styles)
    story += _marketing(content, styles)
    story += _quality(content, styles)

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(18 * mm, 10 * mm, f"Shoplens · {content.period_label} · "
                                            f"data version {content.data_version}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {document.page}")
        canvas.restoreState()

    partial = path.with_suffix(".part")
    document = SimpleDocTemplate(str(partial), pagesize=A4, leftMargin=18 * mm,
                                 rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
                                 title=f"{content.title}: {content.period_label}",
                                 author="Shoplens", subject=content.filters_label)
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    partial.replace(path)
    return path


# ----------------------------------------------------------------- sections
def _cover(content: ReportContent, styles) -> list:
    rows = [[Paragraph(escape(label), styles["cell"]), Paragraph(escape(text), styles["cell"])]
            for label, text in describe_filters_for_cover(content)]
    table = Table(rows, colWidths=[35 * mm, CONTENT_WIDTH - 35 * mm])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (0, -1), BOLD), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    headline = [[Paragraph(escape(item["label"]), styles["small"]) for item in
                 content.headline()],
                [Paragraph(f"<b>{escape(item['value'])}</b>", styles["body"])
                 for item in content.headline()]]
    cards = Table(headline, colWidths=[CONTENT_WIDTH / len(headline[0])] * len(headline[0]))
    cards.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.5, LINE),
                               ("BACKGROUND", (0, 0), (-1, -1), HEADER_FILL),
                               ("TOPPADDING", (0, 0), (-1, -1), 6)]))
    return [Spacer(1, 30 * mm), Paragraph(escape(content.title), styles["title"]),
            Paragraph(escape(content.period_label), styles["subtitle"]), table,
            Spacer(1, 12 * mm), cards, Spacer(1, 8 * mm),
            Paragraph("All amounts are net of returns unless stated; an empty figure is shown "
                      "as n/a with its reason. Definitions: METRICS.md.", styles["small"]),
            PageBreak()]


def _kpis(content: ReportContent, styles) -> list:
    header = ["Key figure", "This period", content.comparison_name, "Change"]
    rows = [[line.label, line.current_text, line.previous_text, line.change_text]
            for line in content.kpi_lines]
    table = _table(header, rows, styles, [55 * mm, 40 * mm, 40 * mm, None], numeric={1, 2, 3})
    return [Paragraph("Key figures", styles["h1"]),
            Paragraph(escape(f"{content.period_label}, compared with {content.previous_label}."),
                      styles["small"]),
            Spacer(1, 3 * mm), table]


def _trend(content: ReportContent, styles) -> list:
    flow = [Paragraph("Monthly trend", styles["h1"]),
            Paragraph("Net revenue per month over the whole history under these filters.",
                      styles["small"])]
    flow.append(_chart(charts.monthly_trend(content.monthly, content.currency), styles,
                       "No sales for these filters."))
    return [KeepTogether(flow), *_notes(content, styles)]


def _notes(content: ReportContent, styles) -> list:
    """The notes on the timeline that touch the period, with their dates."""
    if not content.notes:
        return []
    return [Spacer(1, 2 * mm), Paragraph("<b>Notes</b>", styles["body"]),
            *[Paragraph(f"<b>{escape(note.dates_text)}</b>: {escape(note.text)}",
                        styles["cell"]) for note in content.notes]]


def _countries(content: ReportContent, styles) -> list:
    frame = content.countries
    header = ["Country", "Revenue", "Orders", "Customers", "Share"]
    rows = [[row.label, content.money(row.revenue), _count(row.orders), _count(row.customers),
             _rate(row.share)] for row in frame.itertuples()]
    return [Paragraph("Top countries", styles["h1"]),
            _chart(charts.horizontal_bars(list(frame["label"]), list(frame["revenue"]),
                                          content.currency), styles, "No sales."),
            _table(header, rows, styles, [60 * mm, None, None, None, None],
                   numeric={1, 2, 3, 4})]


def _categories(content: ReportContent, styles) -> list:
    frame = content.categories.head(15)
    header = ["Category", "Revenue", "Units", "Share", "Margin"]
    rows = [[row.category, content.money(row.revenue), _count(row.units), _rate(row.share),
             _rate(row.margin)] for row in frame.itertuples()]
    note = []
    if len(content.categories) > len(frame):
        note = [Paragraph(f"The {len(frame)} largest of {len(content.categories)} categories.",
                          styles["small"])]
    return [Paragraph("Categories", styles["h1"]),
            _table(header, rows, styles, [60 * mm, None, None, None, None],
                   numeric={1, 2, 3, 4}), *note]


def _products(content: ReportContent, styles) -> list:
    header = ["Product", "Description", "Revenue", "Units", "Share"]
    rows = [[row.product_id, row.description or "", content.money(row.revenue),
             _count(row.units), _rate(row.share)] for row in content.products.itertuples()]
    return [Paragraph(f"Top {len(rows)} products", styles["h1"]),
            _table(header, rows, styles, [22 * mm, 78 * mm, None, None, None],
                   numeric={2, 3, 4})]


def _segments(content: ReportContent, styles) -> list:
    frame = content.segments
    header = ["Segment", "Customers", "Share", "Revenue", "Mean recency (days)"]
    rows = [[row.segment, _count(row.customers), _rate(row.share), content.money(row.revenue),
             "" if _empty(row.mean_recency) else f"{row.mean_recency:,.0f}"]
            for row in frame.itertuples()]
    return [PageBreak(), Paragraph("Customer segments (RFM)", styles["h1"]),
            _chart(charts.segment_bars(frame), styles, "No identified customers."),
            _table(header, rows, styles, [45 * mm, None, None, None, None],
                   numeric={1, 2, 3, 4})]


def _forecast(content: ReportContent, styles) -> list:
    section = content.forecast
    flow = [Paragraph(f"Revenue forecast, next {section.horizon} days", styles["h1"])]
    if section.reason:
        flow.append(Paragraph(escape(f"No forecast: {section.reason}"), styles["body"]))
        return flow
    # the plain sentence first, as on the Sales page
    if section.sentence:
        flow.append(Paragraph(escape(section.sentence), styles["body"]))
    wape, naive = section.accuracy.get("wape"), section.baseline_accuracy.get("wape")
    if wape is not None and naive is not None:
        verdict = ("better than" if wape < naive else "no better than")
        flow.append(Paragraph(escape(
            f"Its typical error over the rolling backtest is {wape:.0%} of the actual revenue "
            f"(WAPE), {verdict} the {naive:.0%} of repeating the last week (seasonal naive)."),
            styles["body"]))
    flow.append(Paragraph(escape(
        f"Model: {section.model}; {section.interval:.0%} prediction interval; accuracy on a "
        f"hold-out of the last {section.holdout_days} days, next to a seasonal-naive "
        "baseline (the value 7 days earlier)."), styles["small"]))
    flow.append(_chart(charts.forecast_chart(section.history, section.forecast,
                                             content.currency, section.interval), styles, ""))
    header = ["Accuracy on the hold-out", "Model", "Seasonal naive"]
    rows = [["MAPE", _rate(section.accuracy.get("mape")),
             _rate(section.baseline_accuracy.get("mape"))],
            ["RMSE", content.money(section.accuracy.get("rmse")),
             content.money(section.baseline_accuracy.get("rmse"))],
            ["R²", _ratio(section.accuracy.get("r2")),
             _ratio(section.baseline_accuracy.get("r2"))]]
    flow.append(Spacer(1, 2 * mm))
    flow.append(_table(header, rows, styles, [60 * mm, None, None], numeric={1, 2}))
    flow += [Paragraph(escape(note), styles["small"]) for note in section.notes]
    return flow


def _marketing(content: ReportContent, styles) -> list:
    """Traffic and advertising KPIs and what to do next (``core.reports.marketing``)."""
    section = content.marketing
    if section is None:
        return []
    header = ["Marketing figure", "This period", "Previous period", "Change"]
    rows = [[line.label, line.current_text, line.previous_text, line.change_text]
            for line in section.lines]
    flow = [Paragraph("Marketing", styles["h1"]),
            Paragraph(escape(f"{content.period_label}, compared with "
                             f"{section.previous_label}."), styles["small"]),
            Spacer(1, 3 * mm),
            _table(header, rows, styles, [55 * mm, 40 * mm, 40 * mm, None], numeric={1, 2, 3}),
            Paragraph("What to do next", styles["h1"]),
            Paragraph(escape("; ".join(section.windows) + ". Ranked by money at stake"
                             + (f" (the first {len(section.actions)} of "
                                f"{section.actions_total})"
                                if section.actions_total > len(section.actions) else "")
                             + "."), styles["small"]),
            Spacer(1, 2 * mm),
            _table(["At stake", "Window", "Level", "Item", "Why", "What to do"],
                   section.action_rows(content.currency), styles,
                   [17 * mm, 19 * mm, 18 * mm, 42 * mm, None, 30 * mm], numeric={0})]
    flow += [Paragraph(escape(note), styles["small"]) for note in section.notes]
    return flow


def _quality(content: ReportContent, styles) -> list:
    return [Paragraph("About the data", styles["h1"]),
            *[Paragraph(escape(note), styles["body"]) for note in content.quality_notes()]]


# ----------------------------------------------------------------- helpers
def _table(header: list[str], rows: list[list], styles, widths: list, numeric: set[int]):
    free = [w for w in widths if w is None]
    if free:
        rest = (CONTENT_WIDTH - sum(w for w in widths if w is not None)) / len(free)
        widths = [rest if w is None else w for w in widths]
    body = [[Paragraph(f"<b>{escape(text)}</b>", styles["number" if i in numeric else "cell"])
             for i, text in enumerate(header)]]
    for row in rows:
        body.append([Paragraph(escape(str(value)), styles["number" if i in numeric else "cell"])
                     for i, value in enumerate(row)])
    if not rows:
        body.append([Paragraph("No rows for these filters.", styles["cell"])]
                    + [""] * (len(header) - 1))
    table = Table(body, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, LINE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5)]))
    return table


def _chart(png: bytes | None, styles, empty_message: str):
    if png is None:
        return Paragraph(escape(empty_message), styles["small"])
    image = Image(io.BytesIO(png))
    scale = CONTENT_WIDTH / image.imageWidth
    image.drawWidth, image.drawHeight = CONTENT_WIDTH, image.imageHeight * scale
    return image


def _empty(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _count(value) -> str:
    return format_value(None if _empty(value) else float(value), "count", "")


def _rate(value) -> str:
    return format_value(None if _empty(value) else float(value), "rate", "")


def _ratio(value) -> str:
    return "n/a" if _empty(value) else f"{value:.2f}"
