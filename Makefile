# Targets a newcomer can guess. Everything installs itself: the venv and pinned Python
# packages (constraints.txt), and the Kafka broker's jars (Maven Central, deploy/kafka/pom.xml).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv test lint typecheck unit contracts contracts-check demo kafka-up kafka-down kafka-reset \
        kafka-up-secure kafka-down-secure kafka-reset-secure \
        bench profile chaos deploy-check clean chromium

help:
	@echo "make demo          run the worker end to end on a local Kafka and print determinations"
	@echo "make test          lint, type-check, contract drift, deploy checks and all tests (real Kafka)"
	@echo "make kafka-up      start the local Apache Kafka broker (KRaft) on 127.0.0.1:9092"
	@echo "make kafka-down    stop it (data kept in .kafka/)"
	@echo "make kafka-up-secure  the same broker with SASL_SSL (SCRAM-SHA-512) and ACLs on 127.0.0.1:9192"
	@echo "make kafka-down-secure  stop it (CA, passwords and data kept in .kafka-secure/)"
	@echo "make bench         benchmarks: throughput ratio, latency, offline evaluator, memory"
	@echo "make profile       pyinstrument call tree of the worker draining 20,000 requests"
	@echo "make chaos         fault tests: kill -9, broker restart, malformed flood"
	@echo "make contracts     regenerate contracts/schemas from the models, and the event examples"

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip==26.3"
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check contracts policy worker offline

typecheck: venv
	$(VENV)/bin/mypy

contracts: venv
	$(PY) -m contracts.export
	$(PY) -m tests.contracts.event_examples

contracts-check: venv
	$(PY) -m contracts.export --check
	$(PY) -m tests.contracts.event_examples --check

deploy-check: venv
	bash scripts/deploy-check.sh

test: venv chromium lint typecheck contracts-check deploy-check
	REQUIRE_KAFKA=1 $(PY) -m pytest -q

# Headless Chromium (Debian's package) for the report rendering test (tests/worker/test_report_chromium.py)
chromium:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium) \
	  || $(if $(filter 0,$(shell id -u)),false,(sudo apt-get update -q && sudo apt-get install -y -q chromium))

unit: venv
	$(PY) -m pytest -q -m "not kafka"

demo: venv
	$(PY) -m offline.demo

kafka-up:
	@scripts/kafka.sh up

kafka-down:
	@scripts/kafka.sh down

kafka-reset:
	@scripts/kafka.sh reset

kafka-up-secure:
	@scripts/kafka-secure.sh up

kafka-down-secure:
	@scripts/kafka-secure.sh down

kafka-reset-secure:
	@scripts/kafka-secure.sh reset

bench: venv
	$(PY) bench/run.py

profile: venv
	$(PY) bench/profile_worker.py

chaos: venv
	REQUIRE_KAFKA=1 $(PY) -m pytest -q -m slow tests/faults

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .bench .demo
