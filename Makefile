# Shoplens: `make run` serves on http://127.0.0.1:8050, `make test` runs the whole suite,
# `make bench` prints the benchmark tables. All of them create .venv/ on first use.
#
# Dependencies are declared once, in pyproject.toml; the exact versions are the lock files:
# requirements.lock (runtime, what the Docker image installs) and requirements-dev.lock
# (runtime + the dev extra, what .venv/ holds). `make lock` regenerates both from
# pyproject.toml, keeping every pin that still fits (add UPGRADE="--upgrade-package NAME"
# to move one package, or UPGRADE=--upgrade for all).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
LOCKS := requirements.lock requirements-dev.lock
# pyproject.toml too: it says how the project itself is installed (its packages)
STAMP := $(VENV)/.installed-$(shell cat $(LOCKS) pyproject.toml | sha1sum | cut -c1-12)
UV := uv==0.13.9
COMPILE = $(BIN)/python -m uv pip compile pyproject.toml --universal --python-version 3.11 \
          --quiet $(UPGRADE)

SHELL := /bin/bash
.PHONY: install lock run test bench clean

# the project itself, editable (its dependencies are the lock's): its packages then import
# whatever starts the process, e.g. `celery -A celery_app worker` from any directory
$(STAMP): $(LOCKS) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

# the runtime lock first, then dev constrained by it: both files pin the same runtime versions
lock: install
	$(BIN)/python -m pip install --quiet $(UV)
	$(COMPILE) -o requirements.lock
	$(COMPILE) --extra dev -c requirements.lock -o requirements-dev.lock

run: install
	$(BIN)/python -m scripts.serve

# DuckDB's bindings print "nanobind: leaked ..." lines at interpreter exit (harmless, and they
# would bury pytest's summary); they are filtered out here, pytest's exit status is kept.
test: install
	set -o pipefail; $(BIN)/python -m pytest $(PYTEST_ARGS) 2>&1 \
	  | grep --line-buffered -v -E '^(nanobind: | - leaked | - \.\.\. skipped remainder|See https://nanobind)'

bench: install
	set -o pipefail; $(BIN)/python -m bench $(BENCH_ARGS) 2>&1 \
	  | grep --line-buffered -v -E '^(nanobind: | - leaked | - \.\.\. skipped remainder|See https://nanobind)'

clean:
	rm -rf $(VENV) .pytest_cache
