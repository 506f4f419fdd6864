"""A model measure named in a table is explained on hover (components.METRIC_HELP)."""
from webapp.dashboard import components


def headers(component) -> dict:
    """{text: title} of every table header in a rendered component tree."""
    found = {}

    def walk(node):
        if isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
        elif hasattr(node, "children"):
            if type(node).__name__ == "Th":
                found[str(node.children)] = getattr(node, "title", None)
            walk(node.children)
    walk(component)
    return found


def test_the_forecast_leaderboard_explains_wape_mape_and_coverage(app):
    from webapp.dashboard.pages import sales  # pages need the app first

    result = {"leaderboard": [
        {"model": "Prophet", "wape": 0.3, "mape": 0.4, "coverage": 0.78, "chosen": True,
         "folds": [{"wape": 0.31, "start": "2024-01-01", "end": "2024-01-30"},
                   {"wape": 0.29, "start": "2024-01-31", "end": "2024-02-29"}]},
        {"model": "seasonal naive", "wape": 0.37, "mape": 0.5, "coverage": 0.7,
         "folds": [{"wape": 0.36, "start": "2024-01-01", "end": "2024-01-30"},
                   {"wape": 0.38, "start": "2024-01-31", "end": "2024-02-29"}]}]}
    titles = headers(sales.leaderboard_table(result, "t"))
    for name in ("WAPE", "MAPE", "coverage"):
        assert titles[name] == components.METRIC_HELP[name]
    assert "Σ|actual − forecast|" in titles["WAPE"]


def test_an_unknown_measure_has_no_hover_text():
    assert components.metric_th("speed").title is None


def test_an_old_forecast_explains_its_hold_out_mape(app):
    from webapp.dashboard.pages import sales

    shown = sales.leaderboard_table({"accuracy": {"mape": 0.2}}, "t")
    assert shown.children.startswith("Hold-out MAPE")
    assert shown.title == "MAPE: " + components.METRIC_HELP["MAPE"]
