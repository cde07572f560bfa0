# drharness: the two commands from the README are `make drill` and `make test`.
# Both create .venv and install what they need on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SCENARIO ?= region-outage
REPORT_DIR ?= reports/latest

.PHONY: venv deps tools drill test lint unit report clean lab-up lab-down load-ui

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP) deps

# checkov lives in its own venv: it replaces python-hcl2's `hcl2` module and pins an old `packaging`.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed-stamp
$(TOOLS_STAMP):
	@test -x $(TOOLS)/bin/python || $(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --upgrade pip
	$(TOOLS)/bin/python -m pip install -q 'checkov>=3.2'
	@touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

# System packages the lab needs: PostgreSQL server binaries. Installed only when missing.
deps:
	@bash scripts/ensure-postgres.sh

drill: venv
	$(BIN)/drharness drill run --scenario $(SCENARIO) --report-dir $(REPORT_DIR)

lint: venv
	$(BIN)/ruff check src steps tests loadtests conftest.py

test: venv lint tools
	@set +e; PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lab-up: venv
	$(BIN)/drharness lab up

lab-down: venv
	$(BIN)/drharness lab down

LOAD_UI_PORT ?= 8089
load-ui: venv
	@$(BIN)/drharness lab status >/dev/null 2>&1 || $(BIN)/drharness lab up
	$(BIN)/python -m drharness.workload.load ui --region us-west-2 --port $(LOAD_UI_PORT)

clean:
	-$(BIN)/drharness lab down 2>/dev/null
	rm -rf .drharness reports allure-results allure-report
