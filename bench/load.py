"""Benchmark: data loads end to end (read + validate + quality report + publish).

Cases, each on DuckDB, on PostgreSQL (when reachable) and on ClickHouse run in-process by
chDB (when installed):

* ``online-retail``: the shipped Online Retail file (541,909 lines), ``data.loader.load_file``;
* ``demo``: ``data.demo.generate_demo`` lines (skipped when data.demo is absent), published
  with the quality report; generation time is reported apart, in ``note``;
* ``shopify``: the Online Retail sales written as a Shopify orders export (order-level
  columns on each order's first line only, a discount on one order in ten, refunds in full
  and in part, voided orders), loaded with ``--format shopify`` on DuckDB: the platform
  path's fill-down, discount spreading and refund lines at half a million lines. Writing
  the export is not timed.

Each case runs in a fresh spawned process, so ``peak_rss_mb`` is that process's own peak
resident memory (Python, pandas and the engine client included). ``seconds`` is wall-clock
time and ``cpu_s`` the process's CPU time (DuckDB's threads included, the PostgreSQL server
not): on a shared machine the wall time includes waiting for a core.

Environment: ``BENCH_LOAD_DEMO_LINES`` (default 1000000; 10000000 for the 10M rows of
docs/deployment.md), ``BENCH_LOAD_ENGINES`` (default ``duckdb,postgresql,chdb``: those
reachable or installed), ``BENCH_LOAD_CASES`` (default ``online-retail,demo,shopify``),
``BENCH_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``; a
scratch database is created and dropped per case).
"""
from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import resource
import socket
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

TARGET_SECONDS = {("online-retail", "duckdb"): 15.0}
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")


def run() -> list[dict]:
    demo_lines = int(os.environ.get("BENCH_LOAD_DEMO_LINES", "1000000"))
    wanted = _names("BENCH_LOAD_ENGINES", "duckdb,postgresql,chdb")
    engines = [engine for engine, available in (
        ("duckdb", True), ("postgresql", "postgresql" in wanted and _postgres_reachable()),
        ("chdb", importlib.util.find_spec("chdb") is not None)) if available and engine in wanted]
    kinds = _names("BENCH_LOAD_CASES", "online-retail,demo,shopify")
    cases = [("online-retail", engine, None) for engine in engines if "online-retail" in kinds]
    if importlib.util.find_spec("data.demo") is not None and "demo" in kinds:
        cases += [("demo", engine, demo_lines) for engine in engines]
    if "shopify" in kinds and "duckdb" in engines:
        cases.append(("shopify", "duckdb", None))
    rows = []
    for name, engine, lines in cases:
        with ProcessPoolExecutor(max_workers=1,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            try:
                rows.append(pool.submit(_measure, name, engine, lines).result())
            except Exception as error:  # one failing case must not hide the others
                log.exception("load benchmark %s on %s failed", name, engine)
                rows.append({"benchmark": name, "engine": engine,
                             "error": f"{type(error).__name__}: {error}"})
    if "postgresql" in wanted and "postgresql" not in engines:
        rows.append({"benchmark": "all", "engine": "postgresql",
                     "note": f"skipped: PostgreSQL not reachable at {_safe(POSTGRES_URL)}"})
    if importlib.util.find_spec("data.demo") is None:
        rows.append({"benchmark": "demo", "note": "skipped: data.demo is not installed"})
    return rows


def _measure(name: str, engine: str, demo_lines: int | None) -> dict:
    """Run one case in this (fresh) process and return its row."""
    from analytics.warehouse import Warehouse
    from data import loader
    from data.quality import build_report

    with tempfile.TemporaryDirectory(prefix="shoplens-bench-") as folder, \
            _warehouse_url(engine, Path(folder)) as url:
        warehouse = Warehouse(url)
        note = ""
        cpu_start = time.process_time()
        started = time.perf_counter()
        if name == "online-retail":
            result = loader.load_sample(warehouse, "online-retail", rejects_dir=folder)
            lines = result.lines_loaded
        elif name == "shopify":
            path, orders = shopify_export(Path(folder) / "orders_export.csv")
            note = (f"{orders:,} orders; writing the export "
                    f"{time.perf_counter() - started:.1f} s not included")
            started, cpu_start = time.perf_counter(), time.process_time()
            result = loader.load_file(warehouse, path, format="shopify", rejects_dir=folder)
            lines = result.lines_read
        else:
            from data.demo import generate_demo
            demo = generate_demo(lines=demo_lines, seed=42)
            note = f"generation {time.perf_counter() - started:.1f} s not included"
            started, cpu_start = time.perf_counter(), time.process_time()
            quality = build_report(demo.lines, source="bench demo", format="demo")
            loader.publish_lines(warehouse, demo.lines, sessions=demo.sessions,
                                 quality=quality, source="bench demo")
            lines = len(demo.lines)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_start
        warehouse.dispose()
    target = TARGET_SECONDS.get((name, engine))
    if target is not None:
        note = f"target < {target:.0f} s: {'met' if seconds < target else 'MISSED'}"
    return {"benchmark": name, "engine": engine, "lines": lines,
            "seconds": round(seconds, 2), "cpu_s": round(cpu, 2),
            "lines_per_s": round(lines / seconds), "peak_rss_mb": _peak_rss_mb(),
            "note": note}


def shopify_export(path: Path) -> tuple[Path, int]:
    """Write the Online Retail sample's sale lines as Shopify's orders export: one row per
    line item, Name/Email/line columns on every row, the order's columns on its first row
    only. One order in ten has a 5 % discount (Subtotal after it), one in fifty is refunded
    in full, one in fifty in part (30 %), one in a hundred voided. Returns (path, orders)."""
    import numpy as np

    from data import loader
    from data.readers import read_online_retail

    lines = read_online_retail(loader.sample_path("online-retail")).lines
    lines = lines[(lines["quantity"] > 0) & (lines["unit_price"] > 0)
                  & ~lines["is_cancellation"]].reset_index(drop=True)
    order = lines["invoice_id"]
    first = ~order.duplicated()
    number = order.astype("category").cat.codes.to_numpy()
    value = (lines["quantity"] * lines["unit_price"]).groupby(order).transform("sum")
    discounted = number % 10 == 3
    discount = np.where(discounted, (value * 0.05).round(2), 0.0)
    subtotal = (value - discount).round(2)
    status = np.select([number % 100 == 7, number % 50 == 11, number % 50 == 13],
                       ["voided", "refunded", "partially_refunded"], "paid")
    refunded = np.select([status == "refunded", status == "partially_refunded"],
                         [subtotal, (subtotal * 0.3).round(2)], 0.0)

    def first_only(values) -> list:
        return [v if f else "" for v, f in zip(values, first.to_numpy())]

    email = lines["customer_id"].fillna("guest").astype(str) + "@example.com"
    frame = {
        "Name": "#" + order.astype(str), "Email": email,
        "Financial Status": first_only(status), "Currency": first_only(["GBP"] * len(lines)),
        "Subtotal": first_only(subtotal.map("{:.2f}".format)),
        "Shipping": first_only(["4.99"] * len(lines)), "Taxes": first_only(["0.00"] * len(lines)),
        "Total": first_only((subtotal + 4.99).map("{:.2f}".format)),
        "Discount Amount": first_only([f"{d:.2f}" for d in discount]),
        "Created at": lines["invoice_ts"].dt.strftime("%Y-%m-%d %H:%M:%S +0000"),
        "Lineitem quantity": lines["quantity"].astype(int).astype(str),
        "Lineitem name": lines["description"].fillna("").astype(str),
        "Lineitem price": lines["unit_price"].map("{:.2f}".format),
        "Lineitem sku": lines["product_id"].astype(str),
        "Billing Country": first_only(lines["country"].astype(str)),
        "Payment Method": first_only(["Shopify Payments"] * len(lines)),
        "Refunded Amount": first_only([f"{r:.2f}" for r in refunded]),
    }
    import pandas as pd
    pd.DataFrame(frame).to_csv(path, index=False)
    return path, int(first.sum())


class _warehouse_url:
    """Context manager: a DuckDB or chDB folder, or a scratch PostgreSQL database dropped
    on exit."""

    def __init__(self, engine: str, folder: Path):
        self.engine, self.folder, self.database = engine, folder, None

    def __enter__(self) -> str:
        if self.engine in ("duckdb", "chdb"):
            return f"{self.engine}:///{self.folder / 'warehouse'}"
        self.database = f"shoplens_bench_{uuid.uuid4().hex[:10]}"
        self._admin(f'CREATE DATABASE "{self.database}"')
        return POSTGRES_URL.rsplit("/", 1)[0] + "/" + self.database

    def __exit__(self, *exc_info) -> None:
        if self.database:
            self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import sqlalchemy as sa

        from analytics.warehouse import normalise_url
        engine = sa.create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(statement))
        finally:
            engine.dispose()


def _names(variable: str, default: str) -> list[str]:
    return [name.strip() for name in os.environ.get(variable, default).split(",")
            if name.strip()]


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _postgres_reachable() -> bool:
    parts = urlsplit(POSTGRES_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432),
                                      timeout=1):
            return True
    except OSError:
        return False


def _safe(url: str) -> str:
    return url.split("@")[-1]
