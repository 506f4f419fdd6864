"""The browser bench's measurement condition (``bench/browser.py``, "The idle condition"),
on a tiny Dash app whose chained callbacks take known times: a change is measured until
its last chained callback's answer is drawn, not until the first answer."""
from __future__ import annotations

import time

import dash
import pytest
from dash import Input, Output, dcc, html

from bench import browser as bench_browser

FIRST_S, SECOND_S = 0.4, 0.3


def tiny_app() -> dash.Dash:
    app = dash.Dash(__name__)
    app.layout = html.Div([dcc.Input(id="source", value=""), dcc.Input(id="quiet", value=""),
                           html.Div(id="middle"), html.Div(id="last")])

    @app.callback(Output("middle", "children"), Input("source", "value"),
                  prevent_initial_call=True)
    def first(value):
        time.sleep(FIRST_S)
        return f"{value}-a"

    @app.callback(Output("last", "children"), Input("middle", "children"),
                  prevent_initial_call=True)
    def second(value):
        time.sleep(SECOND_S)
        return f"{value}-b"

    return app


def test_a_change_is_measured_until_its_chained_callbacks_are_drawn(dash_duo):
    bench_browser.install_hook(dash_duo.driver)   # before the page's own scripts
    dash_duo.start_server(tiny_app())
    bench_browser.wait_loaded(dash_duo.driver)

    result = bench_browser.change(dash_duo.driver, "source", {"value": "x"})

    # both answers are on the page the moment the bench says it is redrawn
    assert dash_duo.driver.find_element("id", "last").text == "x-a-b"
    assert len(result["callbacks"]) == 2
    low = (FIRST_S + SECOND_S) * 1000
    assert low <= result["elapsed"] < low + 1500   # not the quiet wait: the last change
    assert result["requests"] == 2


def test_a_change_that_fires_no_callback_is_an_error(dash_duo):
    bench_browser.install_hook(dash_duo.driver)
    dash_duo.start_server(tiny_app())
    bench_browser.wait_loaded(dash_duo.driver)
    with pytest.raises(bench_browser.BenchError, match="sent no callback"):
        bench_browser.change(dash_duo.driver, "quiet", {"value": "y"})
