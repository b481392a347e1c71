# Two commands do all set-up on a fresh machine:
#   make demo   creates .venv, installs, seeds the Telford plan into ./.inquiry-ledger, shows it
#   make test   creates .venv, installs, runs the tests (SQLite and the local PostgreSQL)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/inquiry-ledger demo

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/verify.py

clean-demo:
	rm -rf .inquiry-ledger
