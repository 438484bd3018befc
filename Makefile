# Circular: the commands a newcomer needs. `make up` runs the system, `make test`
# runs the whole suite; both install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KAFKA_VERSION ?= $(or $(CIRCULAR_KAFKA_VERSION),3.9.1)
STAMP := $(VENV)/.installed
JARS := var/kafka/$(KAFKA_VERSION)/libs/kafka_2.13-$(KAFKA_VERSION).jar
PYTEST_ARGS ?=
CATALOGS := services/gateway/console/translations
MO := $(patsubst %.po,%.mo,$(wildcard $(CATALOGS)/*/LC_MESSAGES/messages.po))

.PHONY: help install jars up down kafka-up kafka-down topics migrate test test-unit \
        test-integration test-e2e test-browser lint schemas schemas-check bench faults clean \
        catalogs screenshots demo

help:
	@echo "make up          run Kafka (from jars), create topics, migrate, run the services"
	@echo "make down        stop whatever make up left running"
	@echo "make test        install what is missing and run the whole suite"
	@echo "make lint        ruff and mypy"
	@echo "make schemas     regenerate schemas/generated (JSON Schema, AsyncAPI)"
	@echo "make kafka-up    only the broker; make kafka-down stops it"
	@echo "make bench       the benchmarks on a real broker (docs/performance.md)"
	@echo "make faults      the fault harness at full scale (docs/reliability.md)"
	@echo "make catalogs    extract the console's strings and update the hy/en/ru catalogs"
	@echo "make demo        fill a running system (make up) with a small realistic world"
	@echo "make screenshots every console page in every language, under var/screenshots/"

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(JARS):
	$(PYTHON) -m deploy.kafka.broker fetch --version $(KAFKA_VERSION)

jars: $(JARS)

# the console's gettext catalogs, compiled from the committed .po files
%.mo: %.po
	$(VENV)/bin/pybabel compile -i $< -o $@

catalogs: install
	$(VENV)/bin/pybabel extract -F services/gateway/console/babel.cfg -k N_ --no-location \
	  --omit-header --sort-output --width 100 -o $(CATALOGS)/messages.pot .
	$(VENV)/bin/pybabel update -D messages -i $(CATALOGS)/messages.pot -d $(CATALOGS) \
	  --no-fuzzy-matching --ignore-obsolete --width 100
	$(MAKE) $(MO)

up: install jars $(MO)
	$(PY) -m deploy.up up

down: install
	$(PY) -m deploy.up down

kafka-up: install jars
	$(PY) -m deploy.kafka.broker up --version $(KAFKA_VERSION)

kafka-down:
	$(PYTHON) -m deploy.kafka.broker down

topics: install
	$(PY) -m eventbus.admin

migrate: install
	$(PY) -m services.gateway migrate

test: install jars $(MO)
	$(PY) -m pytest -q --durations=15 $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

test-integration: install jars $(MO)
	$(PY) -m pytest -q tests/integration $(PYTEST_ARGS)

test-browser: install jars $(MO)
	$(PY) -m pytest -q tests/browser $(PYTEST_ARGS)

screenshots: install jars $(MO)
	$(PY) -m tests.browser.screenshots

demo: install
	$(PY) -m deploy.demo

test-e2e: install jars
	$(PY) -m pytest -q tests/e2e $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

schemas: install
	$(PY) -m schemas.generate

schemas-check: install
	$(PY) -m schemas.generate --check
	$(PY) -m schemas.compat --history

# benchmarks: figures as ratios against baselines measured in the same run, written
# to var/bench/*.json (see README, "Status and performance")
MATCHER_BENCH_ARGS ?=
TRACKER_BENCH_ARGS ?=
GATEWAY_BENCH_ARGS ?=
bench: install jars
	$(PY) -m tests.bench.tracker $(TRACKER_BENCH_ARGS)
	$(PY) -m tests.bench.matcher $(MATCHER_BENCH_ARGS)
	$(PY) -m tests.bench.gateway $(GATEWAY_BENCH_ARGS)
	$(PY) -m tests.bench.gateway --database postgresql $(GATEWAY_BENCH_ARGS)
	$(PY) -m tests.bench.report

# the fault harness at full scale (a shortened run is part of make test)
FAULTS_ARGS ?=
faults: install jars
	$(PY) -m tests.faults $(FAULTS_ARGS)

clean:
	rm -rf var/faust var/run .pytest_cache .mypy_cache .ruff_cache
