# Two entry points for a fresh machine: `make demo` and `make test`. Everything else is plumbing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DAYS ?= 2025-10-01 2025-10-02 2025-10-03

# A project-local Airflow (SQLite metadata DB under ./airflow_home, this repo's dags/ and plugins/),
# the same environment `source scripts/env.sh` gives a shell.
ENV := source scripts/env.sh &&
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test install airflow-init lint format clean sample-data real-airflow bench bench-quick screenshots

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt 2> >(grep -v "is ignored: it is neither" >&2)
	# the local provider: registers the `litellm` connection type with Airflow
	$(BIN)/pip install --quiet --no-deps -e . 2> >(grep -v "is ignored: it is neither" >&2)
	@touch $@

install: $(VENV)/.installed

airflow_home/.initialized: $(VENV)/.installed
	@mkdir -p airflow_home
	$(ENV) airflow db migrate > airflow_home/db-migrate.log 2>&1 || { cat airflow_home/db-migrate.log; exit 1; }
	$(ENV) airflow pools set llm_calls 8 "Concurrent LLM triage tasks across all runs (provider limits)" >/dev/null
	@touch $@

airflow-init: airflow_home/.initialized

demo: airflow-init
	@$(ENV) rm -rf "$$TRIAGE_OUTPUT_ROOT"
	@for day in $(DEMO_DAYS); do \
	  echo "== airflow dags test ticket_triage $$day   (log: airflow_home/demo-$$day.log)"; \
	  $(ENV) airflow dags test ticket_triage $$day > airflow_home/demo-$$day.log 2>&1 \
	    || { tail -60 airflow_home/demo-$$day.log; echo "demo run for $$day FAILED"; exit 1; }; \
	done
	@$(ENV) python -m llm_operators.cli summary --output-root "$$TRIAGE_OUTPUT_ROOT" $(DEMO_DAYS)

test: airflow-init
	$(BIN)/ruff check .
	$(BIN)/ruff check --select AIR dags plugins
	$(ENV) $(BIN)/pytest -q

# A real Airflow on this machine (PostgreSQL DB of its own, scheduler, dag-processor, api-server,
# LocalExecutor): catchup, backfill and a REST trigger, against loopback providers. ~2 minutes.
real-airflow: install
	$(ENV) $(BIN)/pytest -v -m integration tests/integration

# Throughput, ladder saving, cache re-run, parse time, memory (figures printed; see bench/README.md).
bench: install
	$(ENV) $(BIN)/python bench/run.py

bench-quick: install
	$(ENV) $(BIN)/python bench/run.py --quick

# UI screenshots for docs/ui.md: `airflow standalone` on a free loopback port (throwaway AIRFLOW_HOME),
# two sample days, headless Chromium (apt-get install -y chromium chromium-driver). ~3 minutes.
screenshots: install
	$(ENV) $(BIN)/python scripts/screenshots.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

sample-data: install
	$(BIN)/python include/sample_data/generate_tickets.py

clean:
	rm -rf airflow_home output .pytest_cache
