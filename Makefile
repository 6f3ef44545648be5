# Quick start: `make run` serves the API on SQLite, `make test` runs every test tier.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: help venv run test lint

help:
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv: $(VENV)/.installed ## create the virtualenv with the API and the test tools
$(VENV)/.installed: service/requirements.txt requirements-dev.txt service/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r service/requirements.txt -r requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e service
	touch $@

run: venv ## migrate and seed the database (SQLite by default), then serve on 127.0.0.1:8080 (PORT)
	$(BIN)/fastapi-example migrate
	$(BIN)/fastapi-example serve

test: venv ## every test tier; tests/e2e and tests/cluster on the current kube context (make cluster-up)
	$(BIN)/pytest

lint: venv ## ruff
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

include $(wildcard make/*.mk)
