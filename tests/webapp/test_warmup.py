"""A web worker pays its one-time costs at start (``webapp.warmup``, called by
``gunicorn.conf.py``'s ``post_worker_init``), and a failure there never stops it."""
from __future__ import annotations

import logging
import runpy
from pathlib import Path

from flask import Flask

from webapp import warmup

ROOT = Path(__file__).resolve().parents[2]


def test_warming_runs_the_first_request_setup(app):
    dash_app = app.extensions["shoplens.dash"]
    assert not dash_app._got_first_request["setup_server"]   # this module's first request
    seconds = warmup.warm_process(app)
    assert seconds > 0
    assert dash_app._got_first_request["setup_server"]   # Dash's first-request setup done


def test_a_failure_is_logged_not_raised(caplog, monkeypatch):
    def broken(_app):
        raise RuntimeError("no templates")
    monkeypatch.setattr(warmup, "_warm", broken)
    with caplog.at_level(logging.ERROR, logger="webapp.warmup"):
        assert warmup.warm_process(Flask("bare")) >= 0
    assert "warming the web process failed" in caplog.text


def test_gunicorn_warms_each_worker(app):
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    logged = []

    class Worker:
        pid = 1
        wsgi = app
        log = type("Log", (), {"info": lambda self, *args: logged.append(args)})()

    config["post_worker_init"](Worker())
    assert logged and "warmed" in logged[0][0]
