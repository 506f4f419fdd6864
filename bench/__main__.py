"""`make bench`: run every benchmark module and print one table per module.

    python -m bench                 # all: load, analytics, models, forecast, customer_models,
                                    # anomaly_models, patterns, jobs, http, browser
    python -m bench load analytics  # some
    python -m bench --json out.json # also write the rows as JSON

Each module ``bench/<name>.py`` exposes ``run() -> list[dict]``; a row's keys are the
table's columns. Modules that cannot run here (a service unreachable) say so in their rows.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time

MODULES = ("load", "analytics", "models", "forecast", "customer_models", "anomaly_models",
           "patterns", "jobs", "http", "browser")


def format_table(title: str, rows: list[dict]) -> str:
    if not rows:
        return f"{title}: no rows\n"
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells))
              for i, column in enumerate(columns)]
    out = [f"## {title}", "  ".join(c.ljust(w) for c, w in zip(columns, widths)),
           "  ".join("-" * w for w in widths)]
    for line in cells:
        out.append("  ".join(value.rjust(w) if _numeric(value) else value.ljust(w)
                             for value, w in zip(line, widths)))
    return "\n".join(out) + "\n"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help=f"any of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--json", help="also write all rows to this file")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, list[dict]] = {}
    failed = False
    for name in args.modules or MODULES:
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            rows = module.run()
        except Exception as error:  # report and carry on with the other benchmarks
            logging.exception("benchmark %s failed", name)
            rows = [{"benchmark": name, "error": f"{type(error).__name__}: {error}"}]
            failed = True
        results[name] = rows
        print(format_table(f"{name} ({time.perf_counter() - started:.0f} s)", rows), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
