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

.PHONY: venv run test tools lint bench

venv: $(STAMP)

# Re-installs only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
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

bench: venv
	$(BIN)/python bench/throughput.py
