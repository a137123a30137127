# 风险一张图 — the two commands: `make run` and `make test`.
# Both install whatever is missing (system packages, the venv, the package)
# and are idempotent.

SHELL := /bin/bash
VENV  ?= .venv
PYTHON ?= python3
HOST  ?= 127.0.0.1
PORT  ?= 5000
export HOST PORT

.PHONY: run test install install-test system-deps system-deps-test lint bench lock

run: install
	$(VENV)/bin/geo-service serve --host $(HOST) --port $(PORT)

test: install-test
	bash scripts/run-tests.sh

install: system-deps $(VENV)/.installed-run
install-test: system-deps-test $(VENV)/.installed-test

system-deps:
	@bash scripts/install-system-deps.sh run

system-deps-test:
	@bash scripts/install-system-deps.sh test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

# Exact versions from requirements.lock (the ones the suite is green with), then
# the package itself without letting pip resolve anything else.
$(VENV)/.installed-run: pyproject.toml requirements.lock | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements.lock | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@ $(VENV)/.installed-run

# Refresh requirements.lock from pyproject.toml (with the test and cnmaps extras).
# Pins already in the lock are kept; LOCK_ARGS=--upgrade moves everything to the newest.
lock: | $(VENV)/bin/python
	$(VENV)/bin/pip install -q pip-tools
	$(VENV)/bin/pip-compile -q --extra test --extra cnmaps --strip-extras --no-emit-index-url \
		--no-emit-find-links $(LOCK_ARGS) -o requirements.lock pyproject.toml

# Benchmark at provincial scale (bench/README.md); BENCH_ARGS="--scale 0.05 --quick" for a quick one.
bench: install-test
	bash bench/run.sh $(BENCH_ARGS)

lint: install-test
	$(VENV)/bin/ruff check geo_service tests
