"""`make run`: everything Shoplens needs on one machine, without PostgreSQL or Redis.

1. migrate the app database (SQLite under SHOPLENS_HOME unless DATABASE_URL is set);
2. when the warehouse holds no data yet, generate the demo data (through the loader, so a
   DataLoad row records it);
3. make sure an admin exists, and print its generated password once;
4. start gunicorn (the web app), and a Celery worker on all queues with the beat scheduler
   inside it (``-B``: fine for one machine);
5. on Ctrl-C or SIGTERM, stop the children cleanly (SIGTERM, then SIGKILL after a grace
   period); when one child dies, stop the others and exit with its status.

    python -m scripts.serve [--host 127.0.0.1] [--port 8050] [--threads 4]
                            [--demo-lines 1000000] [--concurrency 2] [--no-worker]
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
GRACE_SECONDS = 20
log = logging.getLogger("shoplens.serve")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--threads", type=int, default=4, choices=range(1, 17),
                        metavar="N", help="gunicorn threads (default 4)")
    parser.add_argument("--demo-lines", type=int, default=1_000_000,
                        help="size of the demo data made on the first run (default 1,000,000)")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="Celery worker processes (default 2)")
    parser.add_argument("--no-worker", action="store_true",
                        help="serve the web app only (jobs stay queued)")
    return parser.parse_args(argv)


def prepare(settings, demo_lines: int) -> None:
    """Migrate, load the demo data when there is none, and create the first admin."""
    from analytics.warehouse import Warehouse
    from core import db, loads
    from core.users import ensure_admin

    db.migrate(settings.database_url)
    warehouse = Warehouse(settings.warehouse_url)
    try:
        version = warehouse.current_version()
    finally:
        warehouse.dispose()
    if version is None:
        click.echo(f"No data yet: generating the demo data ({demo_lines:,} lines), "
                   "once. This takes a minute.")
        record = loads.run_demo_load(
            settings, lines=demo_lines,
            progress=lambda percent, message: click.echo(f"  {percent:3d}% {message}"))
        if record.status != "done":
            raise click.ClickException(f"The demo data could not be loaded: {record.error}")
        click.echo(f"Demo data loaded as data version {record.version}.")
    email, password = ensure_admin(settings)
    if password:
        click.echo("")
        click.echo("  First start: an administrator account was created.")
        click.echo(f"    e-mail:   {email}")
        click.echo(f"    password: {password}")
        click.echo("  It is shown only this once; you will be asked to change it.")
        click.echo("")


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """The child processes: name → command line."""
    children = {"web": [sys.executable, "-m", "gunicorn", "wsgi:server",
                        "-b", f"{args.host}:{args.port}", "--workers", "1",
                        "--threads", str(args.threads), "--timeout", "120",
                        "--access-logfile", "-"]}
    if not args.no_worker:
        children["worker"] = [sys.executable, "-m", "celery", "-A", "celery_app", "worker",
                              "-B", "-Q", "interactive,reports,loads",
                              "-c", str(args.concurrency), "-l", "INFO",
                              "--without-gossip", "--without-mingle"]
    return children


class Supervisor:
    """Start children in their own process groups; forward stop signals; stop them all
    when one exits."""

    def __init__(self, children: dict[str, list[str]], env: dict[str, str]):
        self.children, self.env = children, env
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def start(self) -> None:
        for name, command in self.children.items():
            self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env,
                                                    start_new_session=True)
            log.info("started %s (pid %s)", name, self.processes[name].pid)

    def request_stop(self, signum, _frame) -> None:
        if not self.stopping:
            click.echo(f"\nStopping Shoplens ({signal.Signals(signum).name})…")
        self.stopping = True

    def wait(self) -> int:
        """Until a stop signal or a child's exit; then stop everyone. Returns the exit
        status."""
        status = 0
        while not self.stopping:
            for name, process in self.processes.items():
                code = process.poll()
                if code is not None:
                    click.echo(f"The {name} process exited with status {code}; stopping "
                               "the others.", err=True)
                    status = code or 1
                    self.stopping = True
                    break
            time.sleep(0.2)
        self.stop()
        return status

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %s s; killing it", name, GRACE_SECONDS)
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=10)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        if signum == signal.SIGKILL:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)  # the leader stops its own workers/pool cleanly
    except ProcessLookupError:
        pass


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from core.settings import ConfigurationError, load_settings

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        click.echo(f"Configuration error: {exc}", err=True)
        return 2
    if not port_is_free(args.host, args.port):
        click.echo(f"{args.host}:{args.port} is already in use: stop the other server or "
                   "pass --port.", err=True)
        return 1
    try:
        prepare(settings, args.demo_lines)
    except click.ClickException as exc:
        exc.show()
        return 1
    # the children run from the project folder: give them the home this process resolved
    env = {**os.environ, "SHOPLENS_HOME": str(settings.home)}
    supervisor = Supervisor(commands(args), env)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    supervisor.start()
    click.echo(f"Shoplens is running on http://{args.host}:{args.port}  (Ctrl-C stops it)")
    return supervisor.wait()


if __name__ == "__main__":
    sys.exit(main())
