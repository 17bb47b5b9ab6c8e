# The few commands a contributor needs; CI runs `make test` (see .ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

# $(call need,PACKAGES,CHECK): install Debian PACKAGES unless the shell command CHECK succeeds.
define need
	@$(2) >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y --no-install-recommends $(1); }
endef

.PHONY: venv run test tools lint bench exactness

venv: $(STAMP)

# The sources setup.py compiles with mypyc: a change to one needs a rebuild (conftest.py checks).
COMPILED := $(shell sed -n 's/^    "\(metrics_core\/.*\.py\)",$$/\1/p' setup.py)

# Re-installs only when the build inputs changed since the last install (PULSE_PURE=1: no C).
$(STAMP): pyproject.toml setup.py $(COMPILED)
	$(call need,python3-venv,$(PYTHON) -c 'import ensurepip')
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e ".[dev]"
	touch $@

run: venv
	$(BIN)/pulse run --simulate

test: venv tools
	$(BIN)/pytest -q

# System tools the integration tests use: promtool (Debian's prometheus) and redis-server.
tools:
	$(call need,prometheus,command -v promtool)
	$(call need,redis-server,test -x /usr/bin/redis-server)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The layered harness (bench/run.py): Pulse and its peers on the same topic; BENCH_ARGS=--quick for a smoke run.
bench: venv
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The exactness harness at full size (CI runs the reduced size inside `make test`):
# 200 000 events with kills, rebalances, Redis crashes and power losses, a paused broker.
exactness: venv tools
	$(BIN)/python -m tests.system.exactness --full --json bench/results/exactness-full.json
