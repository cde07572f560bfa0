# drharness: the two commands from the README are `make drill` and `make test`.
# Both create .venv and install what they need on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SCENARIO ?= region-outage
REPORT_DIR ?= reports/latest

.PHONY: venv deps drill test lint unit report clean lab-up lab-down load-ui

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP) deps

# System packages the lab needs: PostgreSQL server binaries. Installed only when missing.
deps:
	@bash scripts/ensure-postgres.sh

drill: venv
	$(BIN)/drharness drill run --scenario $(SCENARIO) --report-dir $(REPORT_DIR)

lint: venv
	$(BIN)/ruff check src steps tests loadtests conftest.py

test: venv lint
	@set +e; $(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lab-up: venv
	$(BIN)/drharness lab up

lab-down: venv
	$(BIN)/drharness lab down

clean:
	-$(BIN)/drharness lab down 2>/dev/null
	rm -rf .drharness reports allure-results allure-report
