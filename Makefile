# Every routine is a target. `make run` and `make test` work on a fresh clone with only Python 3.11.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format migrations-check bench install install-dev browser pdf-libs clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: create .venv, install, migrate, seed the demo on an empty database, serve on http://$(HOST):$(PORT)
run: $(VENV)/.installed pdf-libs
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

## test: the whole suite on SQLite, then on PostgreSQL + Redis when they answer on 127.0.0.1
test: $(VENV)/.installed-dev browser pdf-libs
	$(PY) manage.py collectstatic --noinput --verbosity 0
	bash scripts/run-tests

## browser: Debian's chromium for the Playwright tests (installed with apt-get when we are root)
browser:
	@bash scripts/ensure-chromium

## pdf-libs: Debian's Pango, HarfBuzz-Subset and a font for WeasyPrint's PDF reports (apt-get when root)
pdf-libs:
	@bash scripts/ensure-pdf-libs

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.installed
	$(PY) manage.py makemigrations --check --dry-run

bench: $(VENV)/.installed-dev pdf-libs
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) var/static .pytest_cache .mypy_cache .ruff_cache
