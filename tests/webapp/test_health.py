"""GET /healthz: public, minimal, 503 when the app database cannot be read."""
from __future__ import annotations

from analytics.warehouse import Warehouse
from core import db
from tests.workers.support import free_port


def test_health_is_public_and_minimal(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    version = app.extensions["shoplens.warehouse"].current_version()
    assert version is not None
    assert response.json == {"status": "ok", "data_version": version}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers  # no session is started for it


def test_health_before_the_first_data_load(app, client, monkeypatch, tmp_path):
    empty = Warehouse(f"duckdb:///{tmp_path / 'warehouse'}")
    monkeypatch.setitem(app.extensions, "shoplens.warehouse", empty)
    assert client.get("/healthz").json == {"status": "ok", "data_version": None}


def test_health_is_503_without_the_app_database(app, client, monkeypatch):
    unreachable = f"postgresql://shoplens:secret@127.0.0.1:{free_port()}/shoplens"
    monkeypatch.setitem(app.extensions, "shoplens.sessions", db.session_factory(unreachable))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable"}  # nothing about hosts or errors
    monkeypatch.undo()
    assert client.get("/healthz").status_code == 200
