"""Shared fixtures: temporary homes, warehouses on DuckDB, PostgreSQL and ClickHouse (chDB),
services.

Services (PostgreSQL, Redis) are used when reachable and skipped otherwise; with
``REQUIRE_SERVICES=1`` (CI) a missing service fails the test instead of skipping it.
"""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from analytics.warehouse import Warehouse

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ONLINE_RETAIL = ROOT / "data" / "samples" / "online_retail.csv.gz"
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or fail in CI) when a service is not reachable."""
    if not _reachable(host, port):
        message = f"{name} is not reachable on {host}:{port}"
        if REQUIRE_SERVICES:
            pytest.fail(message + " and REQUIRE_SERVICES=1")
        pytest.skip(message)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh SHOPLENS_HOME with embedded defaults for app DB and warehouse."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("SHOPLENS_HOME", str(path))
    for name in ("DATABASE_URL", "WAREHOUSE_URL", "CLICKHOUSE_CLUSTER", "REDIS_URL",
                 "SECRET_KEY", "SMTP_HOST", "SHOPLENS_ENV", "CURRENCY", "NUMBER_STYLE",
                 "DATE_FORMAT", "DATA_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def settings(home):
    from core.settings import load_settings
    return load_settings()


@pytest.fixture
def duckdb_warehouse(tmp_path) -> Warehouse:
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse'}")
    yield warehouse
    warehouse.dispose()


@pytest.fixture
def postgres_database():
    """URL of a new, empty PostgreSQL database, dropped afterwards."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"shoplens_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    from core.db import dispose_all
    dispose_all()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_warehouse(postgres_database) -> Warehouse:
    warehouse = Warehouse(postgres_database)
    yield warehouse
    warehouse.dispose()


def need_chdb() -> None:
    """Skip (or fail in CI) where chDB, ClickHouse in-process, is not importable."""
    try:
        import chdb  # noqa: F401
    except ImportError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"chDB is not importable ({exc}) and REQUIRE_SERVICES=1")
        pytest.skip(f"chDB is not importable: {exc}")


@pytest.fixture
def chdb_warehouse(tmp_path) -> Warehouse:
    """A ClickHouse warehouse run in-process by chDB (skipped where chDB is not installed;
    a failure under REQUIRE_SERVICES=1, as CI runs)."""
    need_chdb()
    warehouse = Warehouse(f"chdb:///{tmp_path / 'warehouse'}")
    yield warehouse
    warehouse.dispose()


@pytest.fixture(params=["duckdb", "postgresql", "chdb"])
def warehouse(request) -> Warehouse:
    """The same test on the embedded DuckDB warehouse, on PostgreSQL and on ClickHouse
    (chDB)."""
    fixture = {"duckdb": "duckdb_warehouse", "postgresql": "postgres_warehouse",
               "chdb": "chdb_warehouse"}[request.param]
    return request.getfixturevalue(fixture)


@pytest.fixture
def redis_url() -> str:
    need_service("Redis", "127.0.0.1", 6379)
    import redis
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    assert ONLINE_RETAIL.exists(), f"the shipped sample is missing: {ONLINE_RETAIL}"
    return ONLINE_RETAIL


def cheap_password_hasher():
    """Argon2 at a test cost: production settings take ~0.3 s a hash, and the sign-in,
    user and token tests hash dozens of times."""
    from argon2 import PasswordHasher
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def cheap_hashing(monkeypatch):
    from core import passwords
    monkeypatch.setattr(passwords, "_hasher", cheap_password_hasher())
