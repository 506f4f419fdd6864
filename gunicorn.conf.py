"""Production settings of the web server: ``gunicorn wsgi:server`` reads this file from the
working directory (the project folder, ``/app`` in the image). Options given on the command
line win (``make run`` passes ``--workers 1 --threads 4``; the bind address comes from the
command line everywhere).

Chosen by measurement: ``python -m bench http`` (docs/deployment.md, "Measured"), 50
keep-alive clients mixing API GETs and the overview's Dash KPI callback, 20 s each, 200,000
demo lines, on a shared 2-core machine (2026-12-06):

    configuration                      req/s        p50 s        p95 s       errors
    2 gthread workers x 4 threads      32.9         1.12         1.96        0   (the old image)
      same, keep-alive 75 s            30.8         1.11         1.67        0
    2 x 16 threads, keep-alive 75 s    31.3         0.95         2.29        0
    3 x 8 threads,  keep-alive 75 s    34.3         0.93         1.68        0
    4 x 2 threads,  keep-alive 75 s    39.6         0.72         1.65        0
    4 x 4 threads,  keep-alive 75 s    39.2 / 39.6  0.67 / 0.49  1.70 / 2.23 0
    3 sync workers                     47.6         0.42         1.28        0
    4 sync workers                     33.5 / 44.2  0.99 / 0.61  1.30 / 1.09 0

At 1,000,000 lines, 50 clients, 60 s: 2 x 4 threads with gunicorn's 2 s keep-alive 35.4 req/s,
p50 0.60 s, p95 3.04 s, p99 3.72 s, 1 connection reset; 4 sync workers 36.5 req/s, p50 0.50 s,
p95 2.70 s, p99 2.97 s, no error. With the cheaper requests of issue 17 (same settings,
nothing else on the machine, two runs): 64.8 / 65.7 req/s, p50 0.30 / 0.29 s, p95 0.47 /
0.45 s, no error: the 1 s p95
target at 50 clients is met.

Every request is CPU-bound (Python building the answer, DuckDB's scan with its 2 threads):
threads in a worker only add requests fighting for the same GIL and cores, which lengthens
the tail (p95) without adding throughput. One request per process, about 2 processes per
core, gave the best p95 in both runs and the best or near-best throughput.
"""
import os

# 2 x cores measured best on 2 cores; set WEB_CONCURRENCY on bigger machines (each worker
# holds the app, about 350 MB with the warehouse connection).
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))

# sync: one request at a time per worker (see above). A sync worker answers
# "Connection: close", so there is no idle keep-alive connection for the server to close
# under a client that reuses it (the connection resets of the load finding); a slow client
# holds a worker, so keep the reverse proxy of docs/deployment.md (it buffers) in front.
worker_class = "sync"

# When threads are asked for (make run: --threads 4, gthread workers), idle keep-alive
# connections stay open 75 s: longer than the idle gaps of browsers' and proxies' reused
# connections (nginx keepalive_timeout and cloud load balancers' idle timeouts are 60 s),
# so the server never closes a connection the client is about to reuse. gunicorn's default,
# 2 s, is shorter than a user's pause between two clicks.
keepalive = 75

# Report and export requests can be long; a worker busy for longer is restarted.
timeout = 120
graceful_timeout = 30

accesslog = "-"


def post_worker_init(worker):
    """Each worker pays its one-time costs (first-request setup, plotly's validators, its
    warehouse connection) before its first request, not while the first user after a
    restart waits: ``webapp.warmup``. Measured with ``python -m bench browser``."""
    from webapp.warmup import warm_process
    worker.log.info("worker %s warmed in %.2f s", worker.pid, warm_process(worker.wsgi))
