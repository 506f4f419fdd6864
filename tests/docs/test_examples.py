"""Every command and API example of README.md and docs/*.md runs (see examples.py for what
counts as one), so the documents cannot drift from the product.

Commands run in a fresh SHOPLENS_HOME per block, in the order written (a block may create a
user and then ask for its token): ``flask --app wsgi …`` through Flask's CLI runner, with
the files it names made up small when they do not exist; ``make`` targets dry-run
(``make -n``); ``gunicorn`` with ``--check-config`` (it loads the app); ``celery`` and
``python -m scripts.serve`` with ``--help`` appended (the app and every option must exist);
``docker compose`` against docker-compose.yml (services and scaling checked, the command of
``run`` run as above). HTTP examples go to the Flask test client with an admin's real token,
on a few hundred lines of the shipped Online Retail sample. Sizes are cut for speed: the
sample, and ``--lines`` of the demo data (at most 2,000).
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import cheap_password_hasher
from tests.data import test_platform_formats as platforms
from tests.data import test_traffic as traffic
from tests.docs import examples

ROOT = examples.ROOT
BIN = Path(sys.executable).parent
DEMO_LINES = 2000
SAMPLE_STRIDE = 1000   # every 1000th line of the shipped sample: ~540 lines over its year
PASSWORD = "a long enough passphrase"
GENERIC = "order;day;sku;units;total\nX1;2011-02-01;A;3;30,00\nX2;2011-02-02;B;1;9,50\n"
MAPPING = {"columns": {"invoice_id": "order", "invoice_date": "day", "product_id": "sku",
                       "quantity": "units", "line_total": "total"}}
ONLINE_RETAIL = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
                 "Country\n1001,A,Mug,2,2011-01-03 10:00:00,5.0,17850,United Kingdom\n"
                 "C1002,A,Mug,-1,2011-01-04 10:00:00,5.0,17850,United Kingdom\n")

BLOCKS = examples.example_blocks()
SHELL_BLOCKS = [block for block in BLOCKS if block.lang in examples.SHELL]
HTTP_BLOCKS = [block for block in BLOCKS if block.lang in examples.HTTP]


class Unrunnable(Exception):
    """A command these tests do not know how to run: document it differently, or teach
    ``run`` below to run it."""


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def small_samples(tmp_path_factory) -> Path:
    """A samples folder like data/samples/ whose .csv.gz files keep every
    SAMPLE_STRIDE-th line (and the header)."""
    from data import loader
    folder = tmp_path_factory.mktemp("samples")
    for source in Path(loader.SAMPLES_DIR).glob("*.csv.gz"):
        with gzip.open(source, "rt", encoding="utf-8", errors="replace") as lines, \
                gzip.open(folder / source.name, "wt", encoding="utf-8") as out:
            for number, line in enumerate(lines):
                if number % SAMPLE_STRIDE == 0:
                    out.write(line)
    return folder


class Shell:
    """Runs one block's commands in its own home and working folder."""

    def __init__(self, home: Path, workdir: Path):
        self.home, self.workdir, self.env = home, workdir, {}
        self._runner = None

    def environment(self) -> dict:
        return {**os.environ, **self.env, "SHOPLENS_HOME": str(self.home)}

    def subprocess(self, argv: list[str], timeout: int = 120) -> str:
        result = subprocess.run(argv, cwd=ROOT, env=self.environment(), capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"{argv}: exit {result.returncode}\n" \
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result.stdout

    def run(self, argv: list[str], line: str = "") -> str:
        """Run one command; ``line`` is the line it stands on, as written."""
        stdin = None
        if "<" in argv:
            at = argv.index("<")
            stdin = self.file(argv[at + 1], PASSWORD + "\n").read_text(encoding="utf-8")
            argv = argv[:at] + argv[at + 2:]
        while argv and "=" in argv[0] and not argv[0].startswith("-"):
            name, value = argv.pop(0).split("=", 1)
            self.env[name] = value
        program = Path(argv[0]).name
        if argv[:2] == ["docker", "compose"]:
            return self.docker_compose(argv[2:], line)
        if program == "flask":
            return self.flask(argv[1:], stdin)
        if program == "make":
            return self.subprocess(["make", "-n", *argv[1:]])
        if program == "gunicorn":
            return self.subprocess([str(BIN / "gunicorn"), "--check-config", *argv[1:]])
        if program == "celery":
            return self.subprocess([str(BIN / "celery"), *argv[1:], "--help"])
        if program.startswith("python") and argv[1:3] == ["-m", "scripts.serve"]:
            return self.subprocess([sys.executable, *argv[1:], "--help"])
        if program == "export":   # checks that the value's $(…) runs
            return self.subprocess(["bash", "-euc", line.split("#")[0]])
        raise Unrunnable(" ".join(argv))

    def file(self, name: str, content: str | bytes) -> Path:
        """The file a command names; made with ``content`` when it does not exist. In the
        image SHOPLENS_HOME is /data, so /data/… is under the home here."""
        path = Path(name)
        if name.startswith("/data/"):
            path = self.home / name.removeprefix("/data/")
        elif not path.is_absolute():
            path = self.workdir / path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return path

    def flask(self, argv: list[str], stdin: str | None) -> str:
        if argv[:2] != ["--app", "wsgi"]:
            raise Unrunnable("flask " + " ".join(argv) + " (the app is --app wsgi)")
        args = self._small(argv[2:])
        if self._runner is None:
            from webapp import create_app
            self._runner = create_app({"TESTING": True}).test_cli_runner()
        result = self._runner.invoke(args=args, input=stdin)
        assert result.exit_code == 0, f"flask {' '.join(args)}: exit {result.exit_code}\n" \
            f"{result.output}\n{result.exception!r}"
        return result.output

    def _small(self, args: list[str]) -> list[str]:
        """Arguments with the files they name made up, and the demo data cut down."""
        args = list(args)
        if "--lines" in args:
            at = args.index("--lines") + 1
            args[at] = str(min(int(args[at].replace("_", "")), DEMO_LINES))
        if "--mapping" in args:
            at = args.index("--mapping") + 1
            args[at] = str(self.file(args[at], json.dumps(MAPPING)))
        if args[:1] == ["data"] and args[1:2] in (["load"], ["mapping"]) and len(args) > 2 \
                and not args[2].startswith("-"):
            layout = args[args.index("--format") + 1] if "--format" in args else ""
            name = args[2]
            content = {"generic": GENERIC, "shopify": platforms.SHOPIFY,
                       "woocommerce": platforms.WOO}.get(layout, ONLINE_RETAIL)
            if name.endswith(".gz"):
                content = gzip.compress(content.encode())
            args[2] = str(self.file(name, content))
        if args[:1] == ["data"] and args[1:2] in (["load-sessions"], ["load-ads"]) \
                and len(args) > 2 and not args[2].startswith("-"):
            layout = args[args.index("--format") + 1] if "--format" in args else "ga4"
            args[2] = str(self.file(args[2], {"ga4": traffic.GA4, "google-ads":
                                              traffic.GOOGLE_ADS, "meta-ads": traffic.META
                                              }[layout]))
        return args

    def docker_compose(self, argv: list[str], line: str) -> str:
        """No Docker here: the compose file must define what the command names, and the
        command of ``run --rm SERVICE …`` runs as it would in the image."""
        services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
        command, *rest = argv
        if command == "build" and not rest:
            assert any("build" in service for service in services.values())
            return ""
        if command == "up":
            words = iter(rest)
            for word in words:
                if word == "--scale":
                    scaled = next(words).split("=")[0]
                    assert scaled in services, f"no service {scaled} to scale"
                elif word not in ("-d", "--build"):
                    raise Unrunnable(f"docker compose up … {word}")
            return ""
        if command == "run" and rest[:1] == ["--rm"] and len(rest) > 2:
            service, *inner = rest[1:]
            assert service in services, f"no service {service}"
            return self.run(inner, line)
        raise Unrunnable("docker compose " + " ".join(argv))


def _patch_home(monkeypatch, home: Path, samples: Path) -> None:
    from core import passwords
    from data import loader
    monkeypatch.setenv("SHOPLENS_HOME", str(home))
    for name in ("DATABASE_URL", "WAREHOUSE_URL", "REDIS_URL", "SECRET_KEY", "SMTP_HOST",
                 "SHOPLENS_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(loader, "SAMPLES_DIR", samples)
    monkeypatch.setattr(passwords, "_hasher", cheap_password_hasher())


def _dispose() -> None:
    from core.db import dispose_all
    dispose_all()


# ---------------------------------------------------------------------- tests
def test_the_documents_have_examples():
    assert SHELL_BLOCKS and HTTP_BLOCKS


def test_no_example_hides_in_an_unlabelled_block():
    assert examples.disguised_examples() == []


@pytest.mark.parametrize("argv", [["rm", "-rf", "/"], ["flask", "run"],
                                  ["docker", "compose", "down"], ["python", "-m", "bench"]])
def test_a_command_the_tests_do_not_know_is_refused_not_run(argv, tmp_path):
    with pytest.raises(Unrunnable):
        Shell(tmp_path, tmp_path).run(argv)


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda block: block.name)
def test_shell_example(block, tmp_path, monkeypatch, small_samples):
    home, workdir = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    _patch_home(monkeypatch, home, small_samples)
    monkeypatch.chdir(workdir)
    shell = Shell(home, workdir)
    try:
        for line, argv in examples.commands(block):
            shell.run(argv, line)
    except Unrunnable as error:
        pytest.fail(f"{block.name}: no test can run `{error}`; write it so that "
                    "tests/docs/test_examples.py runs it")
    finally:
        _dispose()


@pytest.fixture(scope="module")
def api(tmp_path_factory, small_samples):
    """(test client, token) of an admin, on the cut-down Online Retail sample."""
    home = tmp_path_factory.mktemp("api-home")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _patch_home(monkeypatch, home, small_samples)
        shell = Shell(home, home)
        shell.run(["flask", "--app", "wsgi", "data", "load", "--sample", "online-retail"])
        shell.run(["flask", "--app", "wsgi", "users", "create", "docs@example.com", "--role",
                   "admin"])
        token = shell.run(["flask", "--app", "wsgi", "users", "token", "docs@example.com"])
        from webapp import create_app
        app = create_app({"TESTING": True})
        yield app.test_client(), token.strip().splitlines()[-1]
        app.extensions["shoplens.warehouse"].dispose()
        _dispose()


@pytest.mark.parametrize("block", HTTP_BLOCKS, ids=lambda block: block.name)
def test_http_example(block, api):
    client, token = api
    request = examples.request(block)
    headers = {name: value.replace("<token>", token) for name, value in request.headers.items()}
    response = client.open(request.path, method=request.method, headers=headers,
                           data=request.body)
    if request.status is None:
        assert 200 <= response.status_code < 300, response.text
    else:
        assert response.status_code == request.status, response.text
    if request.answer is not None:
        assert examples.mismatches(request.answer, response.json) == [], response.text
