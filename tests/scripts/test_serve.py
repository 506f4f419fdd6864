"""`make run` end to end: a fresh home gets migrated, demo data (through the loader), an
admin whose password is printed once, a web server answering and a worker; SIGTERM stops
everything cleanly."""
from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request

import sqlalchemy as sa

from core import db
from core.orm import DataLoad
from core.settings import load_settings
from scripts.serve import port_is_free
from tests.workers.support import ROOT, free_port, wait_for, worker_environment


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status(url: str) -> int | None:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        return opener.open(url, timeout=2).status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_serve_prepares_a_fresh_home_runs_web_and_worker_and_stops_cleanly(tmp_path):
    home = tmp_path / "home"
    env = worker_environment(home)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "scripts.serve", "--port", str(port),
             "--demo-lines", "2000", "--concurrency", "1", "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: serve.poll() is not None or _status(f"http://127.0.0.1:{port}/login"),
                 timeout=180, every=0.5, what="the web server")
        output = log_path.read_text()
        assert serve.poll() is None, output
        assert _status(f"http://127.0.0.1:{port}/") == 302  # sign-in required
        wait_for(lambda: " ready." in log_path.read_text(), timeout=120, every=0.5,
                 what="the worker")
        assert output.count("password: ") == 1
        settings = load_settings(env)
        with db.session_scope(settings.database_url) as session:
            [load] = session.scalars(sa.select(DataLoad)).all()
            assert (load.format, load.status, load.lines_loaded) == ("demo", "done", 2000)
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=60)
    assert code == 0, log_path.read_text()[-3000:]
    output = log_path.read_text()
    assert "Stopping Shoplens (SIGTERM)" in output
    assert "Shutting down: Master" in output and "Warm shutdown" in output  # both stopped
    assert port_is_free("127.0.0.1", port)  # gunicorn is gone
