"""Benchmarks (`make bench`): each module exposes ``run() -> list[dict]`` rows."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def service_environment(home: Path) -> dict[str, str]:
    """The environment of a web server or worker a benchmark starts: this process's, less
    every Shoplens setting (so nothing reaches the user's own home, database or mail
    server), with ``SHOPLENS_HOME`` = ``home`` (embedded defaults) and the repo importable."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SHOPLENS_", "SMTP_")) and key not in (
               "DATABASE_URL", "WAREHOUSE_URL", "REDIS_URL", "SECRET_KEY",
               "CLICKHOUSE_CLUSTER")}
    env.update(SHOPLENS_HOME=str(home), PYTHONPATH=str(ROOT))
    return env
