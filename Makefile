# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATE   ?= 2024-10-01
STAMP  := $(VENV)/.installed

.PHONY: run test install lock stack-up stack-down status dagster lab bench faults doctor clean-stack golden

install: $(STAMP)

# The environment: created if missing, reinstalled when the dependencies or the lock change.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; set PYTHON=python3.12 or similar")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name wind-etl --display-name "Python (wind-etl)" >/dev/null
	touch $(STAMP)

## Run the ETL for DATE through the notebook: stack up, seed if empty, runs/$(DATE).ipynb.
run: $(STAMP)
	$(BIN)/etl stack up
	$(BIN)/etl seed --if-empty
	$(BIN)/etl run $(DATE)

## The whole test suite (pytest against a real embedded PostgreSQL and the real API, plus nbval).
test: $(STAMP)
	$(BIN)/python -m pytest

stack-up: $(STAMP)
	$(BIN)/etl stack up

stack-down: $(STAMP)
	$(BIN)/etl stack down

status: $(STAMP)
	$(BIN)/etl stack status

## Dagster's UI and daemon (`dagster dev -m etl_lib.orchestration`) on http://127.0.0.1:3000, against the
## embedded stack (started and seeded if needed), or the services the URLs in the environment point at.
## Run history lives in DAGSTER_HOME (default .dagster/, git-ignored); its dagster.yaml, written once,
## allows 2 runs at a time and one at a time per day (partition).
## DAGSTER_ARGS="--port 3001" passes options on.
DAGSTER_HOME ?= $(CURDIR)/.dagster
DAGSTER_YAML := concurrency:\n  runs:\n    max_concurrent_runs: 2\n    tag_concurrency_limits:\n      - key: dagster/partition\n        value: {applyLimitPerUniqueValue: true}\n        limit: 1\n
dagster: $(STAMP)
	@if [ -n "$$TARGET_DATABASE_URL" ]; then echo "dagster: using SOURCE_DATABASE_URL, TARGET_DATABASE_URL and ETL_API_URL from the environment"; else $(BIN)/etl stack up && $(BIN)/etl seed --if-empty; fi
	mkdir -p $(DAGSTER_HOME)
	test -f $(DAGSTER_HOME)/dagster.yaml || printf '$(DAGSTER_YAML)' > $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/dagster dev -m etl_lib.orchestration $(DAGSTER_ARGS)

## JupyterLab in this environment with the project's kernel (wind-etl), on notebooks/explore.ipynb.
## Against the embedded stack (started if needed), or against the services that SOURCE_DATABASE_URL,
## TARGET_DATABASE_URL and ETL_API_URL point at when they are set (docker compose). LAB_ARGS="--no-browser --port 8899".
lab: $(STAMP)
	@if [ -n "$$TARGET_DATABASE_URL" ]; then echo "lab: using SOURCE_DATABASE_URL, TARGET_DATABASE_URL and ETL_API_URL from the environment"; else $(BIN)/etl stack up; fi
	$(BIN)/python -c 'from etl_lib.notebook_runner import ensure_kernel; ensure_kernel()'
	$(BIN)/jupyter lab --ServerApp.root_dir=. --MultiKernelManager.default_kernel_name=wind-etl $(LAB_ARGS) notebooks/explore.ipynb

## Re-execute the committed notebooks against a fresh temporary stack (their outputs are nbval's reference).
golden: $(STAMP)
	$(BIN)/python tests/refresh_notebooks.py

## Speed figures on a throw-away stack seeded with a year: a table, and benchmarks/results.json.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

## Fault injection on a throw-away stack: each fault, the outcome, and the target checked (a table).
faults: $(STAMP)
	$(BIN)/python benchmarks/faults.py --messages

## Which part is down: configuration, database or API.
doctor: $(STAMP)
	$(BIN)/etl doctor

## Re-resolve the dependencies and rewrite the lock (constraints.txt).
lock:
	rm -rf /tmp/wind-etl-lock && $(PYTHON) -m venv /tmp/wind-etl-lock
	/tmp/wind-etl-lock/bin/python -m pip install --quiet --upgrade pip
	/tmp/wind-etl-lock/bin/python -m pip install --quiet -e '.[dev]'
	/tmp/wind-etl-lock/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
