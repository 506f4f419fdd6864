"""Benchmark: the web server under load (API and Dash callbacks mixed, keep-alive).

Prepares a temporary ``SHOPLENS_HOME`` with ``BENCH_HTTP_LINES`` demo lines (default
1,000,000), an analyst (signed in through the sign-in form with its CSRF token, one
session per client) and an API token; starts ``gunicorn wsgi:server`` from the project
folder on a free loopback port, so it reads the production settings of ``gunicorn.conf.py``
(``BENCH_HTTP_GUNICORN_ARGS`` adds command-line options on top, to compare configurations);
warms it; then runs ``BENCH_HTTP_CLIENTS`` (default 50) client threads for
``BENCH_HTTP_SECONDS`` (default 60). Each client holds one keep-alive connection
(a ``requests.Session``) and loops over a mix of

* ``api kpis``, ``api timeseries``, ``api breakdown``, ``api top products``: API GETs with
  a Bearer token and varied filters (period, country, grain, top);
* ``dash kpis``: the overview's KPI callback (``POST /_dash-update-component``) with the
  same kind of filters in the URL's search,

with a short think time between requests (0–``BENCH_HTTP_THINK`` s, default 0.4) and,
one request in ten, a longer pause (2–4 s, a user reading a chart) after which the client
reuses its idle connection: a server that closes idle keep-alive connections sooner
resets some of them.

Errors by kind: ``5xx`` (status ≥ 500), ``other status`` (anything but 200), ``reset``
(connection reset/aborted), ``timeout`` (no answer within ``BENCH_HTTP_TIMEOUT`` s, default
30). Target: 0 errors and p95 ≤ 1 s at 50 clients. The run is bounded: clients stop at the
deadline (a request in flight finishes or times out), and gunicorn is stopped with SIGTERM
(then SIGKILL after 30 s).
"""
from __future__ import annotations

import collections
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import service_environment

ROOT = Path(__file__).resolve().parent.parent
LINES = int(os.environ.get("BENCH_HTTP_LINES", "1000000"))
CLIENTS = int(os.environ.get("BENCH_HTTP_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", "60"))
THINK = float(os.environ.get("BENCH_HTTP_THINK", "0.4"))
TIMEOUT = float(os.environ.get("BENCH_HTTP_TIMEOUT", "30"))
GUNICORN_ARGS = shlex.split(os.environ.get("BENCH_HTTP_GUNICORN_ARGS", ""))
TARGET_P95_S = 1.0
EMAIL, PASSWORD = "bench-http@example.com", "Bench-http-password-2024!"
COUNTRIES = ("GB", "DE", "FR", "IE", "NL", "ES")
DATA_END = (2025, 12, 31)   # data/demo.py DEFAULT_END
KINDS = ("api kpis", "api timeseries", "api breakdown", "api top products", "dash kpis")
WEIGHTS = (2, 1, 1, 1, 3)


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="shoplens-bench-http-") as folder:
        home = Path(folder) / "home"
        env = service_environment(home)
        token = _prepare(env)
        port = _free_port()
        log_path = Path(folder) / "gunicorn.log"
        server = _start_gunicorn(env, port, log_path)
        try:
            base = f"http://127.0.0.1:{port}"
            _warm(base, token)
            results, elapsed = _load(base, token)
        finally:
            _stop_gunicorn(server)
        return _rows(results, elapsed)


def _prepare(env: dict[str, str], *, lines: int = LINES, email: str = EMAIL,
             password: str = PASSWORD, role: str = "analyst") -> str:
    """App database, demo data, one user (an analyst) with a password, and its API token."""
    from core import db, loads, tokens, users
    from core.settings import load_settings

    settings = load_settings(env)   # also writes the home's secret key, shared by workers
    db.migrate(settings.database_url)
    record = loads.run_demo_load(settings, lines=lines)
    if record.status != "done":
        raise RuntimeError(f"the demo data could not be loaded: {record.error}")
    with db.session_scope(settings.database_url) as session:
        user, _ = users.create_user(session, "cli", email, role=role, password=password)
        user.must_change_password = False
        session.flush()
        _row, text = tokens.create_api_token(session, user, "bench", actor="cli")
    return text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_gunicorn(env: dict[str, str], port: int, log_path: Path,
                    start_timeout: float = 120) -> subprocess.Popen:
    import requests
    command = [sys.executable, "-m", "gunicorn", "wsgi:server", *GUNICORN_ARGS,
               "--bind", f"127.0.0.1:{port}"]
    with open(log_path, "wb") as handle:   # the child keeps its own copy
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + start_timeout
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop_gunicorn(process)
            raise RuntimeError("gunicorn did not start:\n"
                               + log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.2)


def _stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)   # the arbiter stops its workers gracefully
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# ---------------------------------------------------------------------- the clients
def _sign_in(base: str, email: str = EMAIL, password: str = PASSWORD):
    """A requests.Session signed in through the form, as a browser does."""
    import requests
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=TIMEOUT)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if not match:
        raise RuntimeError("no CSRF token on the sign-in page")
    answer = session.post(f"{base}/login", timeout=TIMEOUT, allow_redirects=False,
                          data={"csrf_token": match.group(1), "email": email,
                                "password": password})
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in answered {answer.status_code}")
    return session


def _filters(rng: random.Random) -> dict[str, object]:
    import datetime as dt
    params: dict[str, object] = {}
    if rng.random() < 0.8:   # else the default view: the last 30 days of the data
        last = dt.date(*DATA_END)
        end = last - dt.timedelta(days=rng.randrange(0, 3 * 365))
        start = end - dt.timedelta(days=rng.choice((6, 13, 29, 89, 364)))
        params.update(start=start.isoformat(), end=end.isoformat())
    if rng.random() < 0.3:
        params["country"] = rng.sample(COUNTRIES, rng.randint(1, 2))
    return params


def _request(session, base: str, token: str, kind: str, rng: random.Random):
    params = _filters(rng)
    if kind.startswith("api"):
        headers = {"Authorization": f"Bearer {token}"}
        if kind == "api kpis":
            path = "/api/v1/kpis"
        elif kind == "api timeseries":
            path = "/api/v1/timeseries"
            params["grain"] = rng.choice(("day", "week", "month"))
        elif kind == "api breakdown":
            path = "/api/v1/breakdown/country"
            params["top"] = rng.choice((5, 10, 20))
        else:
            path = "/api/v1/products/top"
        return session.get(base + path, params=params, headers=headers, timeout=TIMEOUT)
    from urllib.parse import urlencode
    search = "?" + urlencode(params, doseq=True) if params else ""
    payload = {"output": "..overview-kpis.children...overview-period.children..",
               "outputs": [{"id": "overview-kpis", "property": "children"},
                           {"id": "overview-period", "property": "children"}],
               "inputs": [{"id": "shell-url", "property": "search", "value": search}],
               "state": [], "changedPropIds": ["shell-url.search"]}
    return session.post(base + "/_dash-update-component", json=payload, timeout=TIMEOUT,
                        headers={"Origin": base, "Sec-Fetch-Site": "same-origin"})


def _classify(error: Exception) -> str:
    import requests
    if isinstance(error, requests.Timeout):
        return "timeout"
    text = repr(error)
    if any(word in text for word in ("Reset", "reset", "Aborted", "RemoteDisconnected",
                                     "BrokenPipe", "Connection aborted")):
        return "reset"
    return "other error"


def _warm(base: str, token: str) -> None:
    """Every kind once, default view and one period, so imports and first queries are
    done before the clock runs."""
    session = _sign_in(base)
    rng = random.Random(0)
    for kind in KINDS:
        for _ in range(2):
            answer = _request(session, base, token, kind, rng)
            if answer.status_code != 200:
                raise RuntimeError(f"warm-up {kind}: {answer.status_code} {answer.text[:300]}")
    session.close()


def _load(base: str, token: str):
    """Run the clients; returns ({kind: [(seconds, outcome)]}, elapsed seconds)."""
    import requests
    results: dict[str, list[tuple[float, str]]] = collections.defaultdict(list)
    lock = threading.Lock()
    sessions = [_sign_in(base) for _ in range(CLIENTS)]   # before the clock
    start_gate = threading.Event()
    deadline_box = [0.0]

    def client(number: int) -> None:
        session = sessions[number]
        rng = random.Random(1000 + number)
        start_gate.wait()
        time.sleep(rng.uniform(0, min(1.0, THINK * 2)))   # no lock-step start
        while time.monotonic() < deadline_box[0]:
            kind = rng.choices(KINDS, WEIGHTS)[0]
            began = time.perf_counter()
            try:
                answer = _request(session, base, token, kind, rng)
                status = answer.status_code
                outcome = "ok" if status == 200 else "5xx" if status >= 500 else "other status"
            except (requests.RequestException, OSError) as error:   # counted, go on
                outcome = _classify(error)
            seconds = time.perf_counter() - began
            with lock:
                results[kind].append((seconds, outcome))
            pause = rng.uniform(2, 4) if rng.random() < 0.1 else rng.uniform(0, THINK)
            time.sleep(max(0.0, min(pause, deadline_box[0] - time.monotonic())))
        session.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    deadline_box[0] = started + SECONDS
    start_gate.set()
    for thread in threads:
        thread.join(timeout=SECONDS + TIMEOUT + 30)
    elapsed = time.monotonic() - started
    with lock:
        return {kind: list(values) for kind, values in results.items()}, elapsed


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _rows(results: dict[str, list[tuple[float, str]]], elapsed: float) -> list[dict]:
    config = " ".join(GUNICORN_ARGS) or "gunicorn.conf.py"
    rows = []
    everything: list[tuple[float, str]] = []
    for kind in (*KINDS, "all"):
        samples = everything if kind == "all" else results.get(kind, [])
        if kind != "all":
            everything.extend(samples)
        outcomes = collections.Counter(outcome for _, outcome in samples)
        seconds = [s for s, outcome in samples if outcome == "ok"]
        p95 = _percentile(seconds, 0.95)
        row = {"benchmark": "http", "kind": kind, "requests": len(samples),
               "req_per_s": round(len(samples) / elapsed, 1),
               "p50_s": _round(_percentile(seconds, 0.50)), "p95_s": _round(p95),
               "p99_s": _round(_percentile(seconds, 0.99)),
               "5xx": outcomes["5xx"], "resets": outcomes["reset"],
               "timeouts": outcomes["timeout"],
               "other_errors": outcomes["other status"] + outcomes["other error"]}
        if kind == "all":
            errors = len(samples) - outcomes["ok"]
            row["meets_target"] = (errors == 0 and p95 is not None and p95 <= TARGET_P95_S
                                   and CLIENTS >= 50)
            row["note"] = (f"{CLIENTS} clients, {elapsed:.0f} s, {LINES:,} lines, "
                           f"{os.cpu_count()} CPUs, server: {config}; target 0 errors and "
                           f"p95 <= {TARGET_P95_S:g} s at 50 clients")
        rows.append(row)
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
