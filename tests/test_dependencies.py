"""pyproject.toml declares the dependencies, the lock files pin them (``make lock``): the
locks must cover the declarations, agree with each other, and keep the dev tools out of the
runtime lock (the Docker image installs it)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pins(name: str) -> dict[str, set[str]]:
    """package → pinned versions (two when markers pick one by Python version)."""
    found: dict[str, set[str]] = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^ ;]+)(\s*;.*)?", line)
            assert match, f"{name}: not an exact pin: {line!r}"
            found.setdefault(canonicalize_name(match[1]), set()).add(match[2])
    return found


def declared(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(text).name) for text in requirements}


RUNTIME, DEV = pins("requirements.lock"), pins("requirements-dev.lock")


def test_every_declared_dependency_is_pinned():
    assert declared(PROJECT["dependencies"]) - set(RUNTIME) == set(), "run make lock"
    assert declared(PROJECT["optional-dependencies"]["dev"]) - set(DEV) == set(), \
        "run make lock"


def test_dev_lock_is_the_runtime_lock_plus_dev():
    assert {name: DEV.get(name) for name in RUNTIME} == RUNTIME


def test_dev_tools_stay_out_of_the_runtime_lock():
    dev_only = declared(PROJECT["optional-dependencies"]["dev"]) - \
        declared(PROJECT["dependencies"]) - {"dash"}
    assert dev_only & set(RUNTIME) == set()
    assert "xgboost" not in DEV   # xgboost-cpu: the xgboost wheel bundles CUDA
