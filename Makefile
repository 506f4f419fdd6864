# Shoplens: `make run` serves on http://127.0.0.1:8050, `make test` runs the whole suite,
# `make bench` prints the benchmark tables. All of them create .venv/ on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)

SHELL := /bin/bash
.PHONY: install run test bench clean

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

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
