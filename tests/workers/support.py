"""Helpers shared by the jobs, mail, schedules and worker tests: app-database users and a
real Celery worker process."""
from __future__ import annotations

import email
import email.policy
import functools
import gzip
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from core import db
from core.orm import DataScope, User
from core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple 42"


def worker_environment(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a test worker: our home, the embedded broker unless REDIS_URL
    is given, short retry delays, nothing inherited that points elsewhere."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SHOPLENS_", "SMTP_", "MAIL_"))
           and key not in ("DATABASE_URL", "WAREHOUSE_URL", "REDIS_URL", "SECRET_KEY",
                           "PUBLIC_URL")}
    env.update(SHOPLENS_HOME=str(home), SHOPLENS_RETRY_DELAY="0.5", PYTHONPATH=str(ROOT))
    env.update({key: str(value) for key, value in extra.items()})
    return env


_migrated_template: list[Path] = []


def settings_for(env: dict[str, str]) -> Settings:
    """Settings of ``env`` with a migrated app database (copied from one migrated once per
    test process: migrations take longer than the tests that need them)."""
    settings = load_settings(env)
    target = Path(settings.database_url.removeprefix("sqlite:///"))
    if not settings.database_url.startswith("sqlite:///") or target.exists():
        db.migrate(settings.database_url)
        return settings
    if not _migrated_template:
        template = Path(tempfile.mkdtemp(prefix="shoplens-appdb-")) / "template.db"
        db.migrate(f"sqlite:///{template}")
        db.dispose_all()
        _migrated_template.append(template)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_template[0], target)
    return settings


@functools.cache
def _password_hash() -> str:
    from core.passwords import hash_password
    return hash_password(PASSWORD)


def add_user(settings: Settings, email: str, role: str = "analyst",
             countries: list[str] | None = None, active: bool = True) -> int:
    """Add a user with ``PASSWORD`` (hashed once per test process) and return its id."""
    with db.session_scope(settings.database_url) as session:
        user = User(email=email, role=role, password_hash=_password_hash(),
                    is_active=active)
        if countries is not None:
            user.scope = DataScope(countries=list(countries))
        session.add(user)
        session.flush()
        return user.id


def load_user(session, user_id: int) -> User:
    return session.get(User, user_id)


def wait_for(check: Callable[[], object], timeout: float = 60, every: float = 0.05,
             what: str = "condition"):
    """Poll ``check`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def wait_finished(settings: Settings, job_id: str, timeout: float = 90,
                  what: str = "the job"):
    """Wait until the job is done, failed or cancelled; return its row (detached)."""
    from core import db, jobs
    from core.orm import Job

    def finished():
        with db.session_scope(settings.database_url) as session:
            job = session.get(Job, job_id)
            return job if job.status in jobs.FINISHED else None
    return wait_for(finished, timeout=timeout, what=what)


class WorkerProcess:
    """``celery -A celery_app worker`` on all queues, in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2,
                 beat: bool = False, command: list[str] | None = None,
                 cwd: Path = ROOT):
        """``command`` replaces ``python -m celery -A celery_app worker -Q …`` (the test
        options -c, -n, -l … are appended to it); ``cwd`` is the working directory."""
        self.env, self.log_path, self.cwd = env, log_path, cwd
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.command = command or [sys.executable, "-m", "celery", "-A", "celery_app",
                                   "worker", "-Q", "interactive,reports,loads"]
        self.command = [*self.command, "-c", str(concurrency), "-n", self.name,
                        "--without-gossip", "--without-mingle", "--without-heartbeat",
                        "-l", "INFO"]
        if beat:
            self.command.append("-B")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "WorkerProcess":
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        wait_for(self._ready, timeout=timeout, every=0.1, what="the worker to be ready")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the worker exited with {self.process.returncode}:\n"
                                 + self.log())
        return b" ready." in self.log_path.read_bytes()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): no clean-up runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: the worker stops its pool
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list = []
        self._controller = None

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 Message accepted for delivery"

    def start(self) -> "Inbox":
        from aiosmtpd.controller import Controller
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


#: A tiny shop whose numbers are worked out by hand. March 2011 is the period; the previous
#: period (same 31 days before) is 29 Jan – 28 Feb 2011.
#: All data:  gross 20 + 15 + 3 = 38, returns 10, revenue 28, orders 3 (A1 A2 A3),
#:            customers 2 (C1 C2), AOV 38 / 3.
#: Scope FR:  gross 23, returns 10, revenue 13, orders 2, customers 1, AOV 11.50.
#: Scope DE:  gross 15, returns 0, revenue 15, orders 1, customers 1.
TINY_SHOP = [
    {"invoice_id": "B1", "invoice_ts": "2011-02-10 09:00", "customer_id": "C3",
     "product_id": "P1", "description": "=cmd|' /C calc'!A0", "quantity": 1.0,
     "unit_price": 10.0, "country": "France", "country_code": "FR"},
    {"invoice_id": "A1", "invoice_ts": "2011-03-05 10:00", "customer_id": "C1",
     "product_id": "P1", "description": "=cmd|' /C calc'!A0", "quantity": 2.0,
     "unit_price": 10.0, "country": "France", "country_code": "FR"},
    {"invoice_id": "A2", "invoice_ts": "2011-03-10 11:00", "customer_id": "C2",
     "product_id": "P2", "description": "Mug", "quantity": 5.0, "unit_price": 3.0,
     "country": "Germany", "country_code": "DE"},
    {"invoice_id": "A3", "invoice_ts": "2011-03-12 12:00", "customer_id": "C1",
     "product_id": "P2", "description": "Mug", "quantity": 1.0, "unit_price": 3.0,
     "country": "France", "country_code": "FR"},
    {"invoice_id": "C4", "invoice_ts": "2011-03-15 13:00", "customer_id": "C1",
     "product_id": "P1", "description": "=cmd|' /C calc'!A0", "quantity": -1.0,
     "unit_price": 10.0, "country": "France", "country_code": "FR"},
]
TINY_PERIOD = "start=2011-03-01&end=2011-03-31"


def publish_tiny_shop(warehouse) -> int:
    from tests.analytics.conftest import publish_lines
    return publish_lines(warehouse, TINY_SHOP)


def slice_of_online_retail(source: Path, target: Path, lines: int) -> None:
    """The header and first ``lines`` lines of the shipped Online Retail sample, as an
    upload (a real file, small enough for a quick load)."""
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        target.write_text("".join(itertools.islice(handle, lines + 1)), encoding="utf-8")


class RedisServer:
    """A throwaway ``redis-server`` on a free loopback port, keeping nothing on disk: a
    restart empties it (as a Redis without persistence, or a new container, does)."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        import redis

        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)

        def answers():
            try:
                return client.ping()
            except redis.ConnectionError:
                return False
        wait_for(answers, timeout=20, what="redis-server")
        client.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def restart_empty(self) -> None:
        self.stop()
        self.start()


def run_job_here(settings, job_id: str):
    """Run a queued job in this process, as a worker runs it (a domain error fails it with
    its message), and return the finished Job row, detached."""
    from core import db, jobs
    from core.orm import Job
    spec = jobs.start_job(settings, job_id, worker="test")
    try:
        outcome = jobs.kind_of(spec.kind).load_runner()(settings, spec)
    except jobs.JobError as exc:
        jobs.fail_job(settings, job_id, exc.message)
    else:
        jobs.finish_job(settings, job_id, **outcome)
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        session.expunge(job)
        return job
