# One environment holds everything (Airflow 3.3, GX 1.24, recordlinkage 0.16, polars 2.1 ...).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export AIRFLOW_HOME ?= $(CURDIR)/.airflow

.PHONY: run test test-celery test-fast lint typecheck check bench bench-rules system-deps clean migration

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## make run: generate a small county and run the whole nightly job on the embedded defaults
run: $(BIN)/.installed
	$(BIN)/safelink demo

## make test: lint, typecheck, then the whole test suite (needs PostgreSQL on 127.0.0.1:5432 and Chromium)
test: $(BIN)/.installed system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not celery"

## make test-celery: the nightly DAG on the CeleryExecutor, two workers (needs Redis on 127.0.0.1:6379 and PostgreSQL)
test-celery: $(BIN)/.installed
	$(BIN)/pytest -q -m celery --durations=5

## make test-fast: lint, typecheck, import contracts, then the tests not marked slow (no end-to-end runs, no Chromium)
test-fast: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not slow and not celery"

system-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); } || \
	  echo "chromium not installed: the browser tests will fail (apt-get install chromium)"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(BIN)/.installed
	$(BIN)/mypy

check: lint typecheck test

bench: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench.run --splink

bench-rules: $(BIN)/.installed
	$(BIN)/python -m bench.rules_quality

clean:
	rm -rf $(VENV) .airflow out

## make migration m="what changed": a new Alembic revision of the state schema from the table models
migration: $(BIN)/.installed
	$(BIN)/python -c "from alembic import command; from ground.state import alembic_config, open_state; \
	  from safelink.schema import all_tables; \
	  url = 'sqlite:///.migration.sqlite'; open_state(url).dispose(); config = alembic_config(url); \
	  config.attributes['target_metadata'] = all_tables(); \
	  command.revision(config, message='$(m)', autogenerate=True)"
	rm -f .migration.sqlite
