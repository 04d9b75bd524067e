# The README's two set-up commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Links in emails: the address `make run` serves at (set SITE_URL when clients reach it by
# another name; a wildcard HOST is reached as localhost).
SITE_URL ?= http://$(if $(filter 0.0.0.0 ::,$(HOST)),localhost,$(HOST)):$(PORT)

.PHONY: run test test-fast lint venv system-deps clean stack stack-status stack-down worker beat

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found $$($(PYTHON) --version))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## Serve the product on the embedded default (SQLite + local-memory cache) at http://$(HOST):$(PORT)
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	SITE_URL='$(SITE_URL)' $(PY) manage.py runserver $(HOST):$(PORT)

## The whole suite, including the integration tests against real servers
test: venv system-deps
	$(PY) -m pytest

## Unit tests only, on SQLite, no servers (a quick loop while developing)
test-fast: venv
	TEST_DATABASE=sqlite $(PY) -m pytest -m "not servers and not browser"

## PostgreSQL, Redis and nginx binaries for the integration tests (installs them when root)
system-deps:
	@bash deploy/local/install-system-deps.sh

## The production topology on this machine: nginx :8080 -> gunicorn :8000 :8001 :8002 ->
## PostgreSQL primary + streaming replica, Redis (deploy/local/stack; STACK_ARGS="--help")
stack: venv system-deps
	deploy/local/stack up $(STACK_ARGS)

stack-status: venv
	deploy/local/stack status $(STACK_ARGS)

stack-down: venv
	deploy/local/stack down $(STACK_ARGS)

## A Celery worker and the beat scheduler (docs/background-work.md). They need a broker:
## CELERY_BROKER_URL, or REDIS_URL (e.g. `source .stack/stack.env`). `make run` alone needs
## neither: without a broker, tasks run in the web process right after each commit.
worker: venv
	@test -n "$$CELERY_BROKER_URL$$REDIS_URL" || \
		{ echo "Set CELERY_BROKER_URL or REDIS_URL (without a broker tasks run in-process)."; exit 1; }
	$(VENV)/bin/celery -A config worker --loglevel INFO --concurrency $${CELERY_CONCURRENCY:-2}

beat: venv
	@test -n "$$CELERY_BROKER_URL$$REDIS_URL" || \
		{ echo "Set CELERY_BROKER_URL or REDIS_URL (without a broker tasks run in-process)."; exit 1; }
	$(VENV)/bin/celery -A config beat --loglevel INFO

## The benchmark (docs/benchmark.md): the stack seeded at scale, wrk load, ceilings, ratios
## against the targets; report in bench/results/<time>/ (BENCH_ARGS="--help" for the knobs)
.PHONY: bench bench-smoke
bench: venv system-deps $(VENV)/.bench-installed
	$(PY) -m bench $(BENCH_ARGS)

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

## The same code path in under a minute (`make test` runs it too: tests/bench/test_smoke.py)
bench-smoke: venv system-deps
	$(PY) -m bench --smoke $(BENCH_ARGS)

## Chaos under load (docs/chaos.md): the stack takes a mixed workload while each fault
## happens in turn; report in bench/results/<time>/chaos.md (`make test` runs --short)
.PHONY: chaos
chaos: venv system-deps
	$(PY) -m bench.chaos $(CHAOS_ARGS)

## ruff (lint and format) and mypy (strict on core/: pyproject.toml); CI runs it before the tests
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy core

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
