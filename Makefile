# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
# PYTHON makes the environment, VENV is where: `make test VENV=.venv-312 PYTHON=python3.12`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATE   ?= 2024-10-01
STAMP  := $(VENV)/.installed
INSTALL_LOG := $(VENV)/install.log

.PHONY: help run test test-fast install lock stack-up stack-down status dagster dagster-home fleet lab bench faults doctor clean-stack golden docs docs-serve FORCE

## The targets and what each does (the first line of the comment above each).
help:
	@awk '/^## / { if (!text) text = substr($$0, 4); next } /^[a-z][a-z-]*:/ { if (text) { split($$0, t, ":"); printf "  make %-13s %s\n", t[1], text }; text = "" }' $(MAKEFILE_LIST)

## The environment (.venv, or VENV) with the project and its locked dependencies, made or brought up to date.
install: $(STAMP)

# The interpreter that makes the environment, as its stamp records it: real path and version. The stamp
# is written only when an install succeeded, so an environment whose stamp says otherwise (another
# PYTHON, a failed or interrupted install, one made by an older Makefile) is made anew.
PYTHON_ID := $(shell $(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version.split()[0])' 2>/dev/null)
ifneq ($(PYTHON_ID),$(shell cat $(STAMP) 2>/dev/null))
$(STAMP): FORCE
endif

# The environment: made if missing or not stamped for PYTHON, reinstalled when the dependencies or the
# lock change. pip's whole output goes to $(INSTALL_LOG); when it fails, its errors (or its end) are shown.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python %s.%s.%s (PYTHON=$(PYTHON)) is too old: the project needs Python 3.11 or newer; set PYTHON, e.g. make $(or $(MAKECMDGOALS),install) PYTHON=python3.12" % sys.version_info[:3])' \
	  || { [ -n "$(PYTHON_ID)" ] || echo "PYTHON=$(PYTHON) does not run here: the project needs Python 3.11 or newer; set PYTHON, e.g. make $(or $(MAKECMDGOALS),install) PYTHON=python3.12" >&2; exit 1; }
	@if [ -e $(VENV) ] && [ "$$(cat $(STAMP) 2>/dev/null)" != "$(PYTHON_ID)" ]; then \
	  [ -f $(VENV)/pyvenv.cfg ] || { echo "$(VENV) is not a virtual environment; move it away or set VENV=" >&2; exit 1; }; \
	  made=$$(cat $(STAMP) 2>/dev/null); \
	  echo "$(VENV): made by $${made:-an install that did not finish (or an older Makefile)}; making it anew with $(PYTHON_ID)"; \
	  rm -rf $(VENV); \
	fi
	@rm -f $(STAMP)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "$(VENV): pip install -c constraints.txt -e '.[dev]' with $(PYTHON_ID) (log: $(INSTALL_LOG))"
	@{ $(BIN)/python -m pip install --upgrade pip \
	   && $(BIN)/python -m pip install --progress-bar off -c constraints.txt -e '.[dev]' \
	   && $(BIN)/python -c 'from etl_lib.notebook.runner import ensure_kernel; ensure_kernel()'; \
	 } >$(INSTALL_LOG) 2>&1 \
	  || { echo "$(VENV): the install failed; from $(INSTALL_LOG):" >&2; \
	       err=$$(awk '/^ *(ERROR|error)[: ]/ { found = 1 } found' $(INSTALL_LOG) | head -n 80); \
	       if [ -n "$$err" ]; then printf '%s\n' "$$err" >&2; else tail -n 40 $(INSTALL_LOG) >&2; fi; exit 1; }
	@grep -E 'BuildBackendWarning|DEPRECATION:' $(INSTALL_LOG) || true
	@echo "$(PYTHON_ID)" > $(STAMP)

## Run the ETL for DATE through the notebook: stack up, seed if empty, runs/$(DATE).ipynb.
run: $(STAMP)
	$(BIN)/etl stack up
	$(BIN)/etl seed --if-empty
	$(BIN)/etl run $(DATE)

## The whole test suite: the unit tier, the integration tier (a real embedded PostgreSQL and the real API) and nbval.
test: $(STAMP)
	$(BIN)/python -m pytest

# The API fuzzers' pytest plugins (schemathesis, hypothesis) cost each worker seconds at start; no unit test uses them.
UNIT_PLUGINS_OFF = -p no:schemathesis -p no:hypothesispytest

## The unit tier alone (tests/unit: no database, no API, no server started), on every core, in under a minute.
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit -n auto --dist worksteal $(UNIT_PLUGINS_OFF)

## Start the embedded PostgreSQL and the API (etl stack up).
stack-up: $(STAMP)
	$(BIN)/etl stack up

## Stop the API and the embedded PostgreSQL (etl stack down).
stack-down: $(STAMP)
	$(BIN)/etl stack down

## What runs, and the URLs to reach it (etl stack status).
status: $(STAMP)
	$(BIN)/etl stack status

# Run history lives in DAGSTER_HOME (default .dagster/, git-ignored). DAGSTER_QUIET filters the one warning
# Dagster 1.13 gives on every CLI command, that `dg` (dagster-dg-cli, not installed here) supersedes it.
DAGSTER_HOME ?= $(CURDIR)/.dagster
DAGSTER_QUIET = PYTHONWARNINGS="$${PYTHONWARNINGS:+$$PYTHONWARNINGS,}ignore::FutureWarning:click.core"

## Prepare DAGSTER_HOME: its dagster.yaml a copy of deploy/dagster.yaml (telemetry off; 2 runs at a time,
## one at a time per day); an older one without a telemetry setting gets `enabled: false` added.
dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || cp deploy/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	@grep -q '^telemetry:' $(DAGSTER_HOME)/dagster.yaml || printf 'telemetry:\n  enabled: false\n' >> $(DAGSTER_HOME)/dagster.yaml

## Dagster's UI and daemon (`dagster dev -m etl_lib.orchestration`) on http://127.0.0.1:3000, against the
## embedded stack (started and seeded if needed), or the services the URLs in the environment point at.
## DAGSTER_ARGS="--port 3001" passes options on.
dagster: $(STAMP) dagster-home
	@if [ -n "$$TARGET_DATABASE_URL" ]; then echo "dagster: using SOURCE_DATABASE_URL, TARGET_DATABASE_URL and ETL_API_URL from the environment"; else $(BIN)/etl stack up && $(BIN)/etl seed --if-empty; fi
	DAGSTER_HOME=$(DAGSTER_HOME) $(DAGSTER_QUIET) $(BIN)/dagster dev -m etl_lib.orchestration $(DAGSTER_ARGS)

## Dagster for production on this machine (etl dagster fleet): the embedded stack, the instance on PostgreSQL,
## WORKERS Celery workers (default 2) on the broker, the daemon, and the UI on http://127.0.0.1:3000.
WORKERS ?= 2
fleet: $(STAMP)
	@if [ -n "$$TARGET_DATABASE_URL" ]; then echo "fleet: using SOURCE_DATABASE_URL, TARGET_DATABASE_URL and ETL_API_URL from the environment"; else $(BIN)/etl stack up && $(BIN)/etl seed --if-empty; fi
	DAGSTER_HOME=$(DAGSTER_HOME) $(DAGSTER_QUIET) $(BIN)/etl dagster fleet --workers $(WORKERS) $(FLEET_ARGS)

# JupyterLab refuses to start as root without --allow-root; containers and CI often run as root.
LAB_ROOT = $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

## JupyterLab in this environment with the project's kernel (wind-etl), on notebooks/explore.ipynb.
## Against the embedded stack (started if needed), or against the services that SOURCE_DATABASE_URL,
## TARGET_DATABASE_URL and ETL_API_URL point at when they are set (docker compose). LAB_ARGS="--no-browser --port 8899".
lab: $(STAMP)
	@if [ -n "$$TARGET_DATABASE_URL" ]; then echo "lab: using SOURCE_DATABASE_URL, TARGET_DATABASE_URL and ETL_API_URL from the environment"; else $(BIN)/etl stack up; fi
	$(BIN)/python -c 'from etl_lib.notebook.runner import ensure_kernel; ensure_kernel()'
	$(BIN)/jupyter lab --ServerApp.root_dir=. --MultiKernelManager.default_kernel_name=wind-etl $(LAB_ROOT) $(LAB_ARGS) notebooks/explore.ipynb

## Re-execute the committed notebooks against a fresh temporary stack (their outputs are nbval's reference).
golden: $(STAMP)
	$(BIN)/python -m tests.refresh_notebooks

## Speed figures on a throw-away stack seeded with a year: a table against the saved figures
## (benchmarks/results.json, tracked), the run in benchmarks/results.latest.json (git-ignored).
## SAVE=1 also makes the run the saved figures.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench $(if $(SAVE),--save)

## Fault injection on a throw-away stack: each fault, the outcome, and the target checked (a table).
faults: $(STAMP)
	$(BIN)/python -m benchmarks.faults --messages

# The documentation site (mkdocs.yml, docs/). The generated pages of docs/reference/ (checks, settings,
# command line, speed figures) are made from the code and benchmarks/results.json first. MkDocs 1.6 with
# Material 9.7+ prints a banner about MkDocs 2.0 on every command; it says nothing about this site.
DOCS_ADDR ?= 127.0.0.1:8000
DOCS_ENV  := NO_MKDOCS_2_WARNING=1
DOCS_GENERATE := $(BIN)/python -m etl_lib.ops.reference docs && $(BIN)/python -m benchmarks.docs_page docs/reference/performance.md

## The documentation: regenerate docs/reference/ from the code, then build the site strictly into site/ (offline).
docs: $(STAMP)
	$(DOCS_GENERATE)
	$(DOCS_ENV) $(BIN)/python -m mkdocs build --strict

## The documentation site with live reload on http://$(DOCS_ADDR) (DOCS_ADDR=host:port), pages regenerated first.
docs-serve: $(STAMP)
	$(DOCS_GENERATE)
	$(DOCS_ENV) $(BIN)/python -m mkdocs serve --dev-addr $(DOCS_ADDR)

## Stop the embedded stack (API and PostgreSQL) and delete its folder with all its data (.stack/, or
## ETL_STACK_DIR); the next `make run` starts a new one and seeds it.
STACK_DIR = $(or $(ETL_STACK_DIR),$(CURDIR)/.stack)
clean-stack: $(STAMP)
	$(BIN)/etl stack down
	@$(BIN)/etl stack status --json | $(BIN)/python -c 'import json, sys; s = json.load(sys.stdin); sys.exit("clean-stack: part of the stack still runs; $(STACK_DIR) is left in place" if s["database_running"] or s["api_running"] else 0)'
	rm -rf $(STACK_DIR)

## Which part is down: configuration, database or API.
doctor: $(STAMP)
	$(BIN)/etl doctor

## Re-resolve the dependencies and rewrite the lock (constraints.txt): one lock for every Python we claim.
## uv resolves it for all Pythons >= LOCK_PYTHON at once (--universal), the oldest we support being
## Debian 12's 3.11.2, choosing one version of each package that fits them all (markers appear only
## where a dependency is itself conditional, e.g. on Windows or Python 3.12); a plain `pip freeze`
## would pin what suits the Python it runs on only. Then every interpreter of LOCK_CHECK found here
## (pyenv's too: its shims run only the versions pyenv selects) resolves the new lock with pip, wheels
## only, in a throw-away venv; the lock is replaced only if all do.
## Pins of the old lock are kept where they still fit; `make lock UPGRADE=1` takes the newest of all.
LOCK_PYTHON ?= 3.11.2
PYENV_ROOT  ?= $(HOME)/.pyenv
LOCK_CHECK  ?= /usr/bin/python3 python3.11 python3.12 python3.13 $(wildcard $(PYENV_ROOT)/versions/3.1[123].*/bin/python)
UV_VERSION  := 0.13.9
LOCK_TOOLS  := /tmp/wind-etl-lock
lock:
	$(LOCK_TOOLS)/bin/uv --version 2>/dev/null | grep -qF 'uv $(UV_VERSION) ' \
	  || { rm -rf $(LOCK_TOOLS) && $(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	cp constraints.txt $(LOCK_TOOLS)/constraints.txt
	$(LOCK_TOOLS)/bin/uv pip compile pyproject.toml --extra dev --universal --fork-strategy fewest \
	  --python-version $(LOCK_PYTHON) --annotation-style line --custom-compile-command 'make lock' \
	  $(if $(UPGRADE),--upgrade) --quiet -o $(LOCK_TOOLS)/constraints.txt
	@seen=; for py in $(LOCK_CHECK); do \
	  real=$$($$py -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null) || { echo "lock: $$py does not run here: not checked"; continue; }; \
	  case " $$seen " in *" $$real "*) continue;; esac; seen="$$seen $$real"; \
	  rm -rf $(LOCK_TOOLS)/check && $$py -m venv $(LOCK_TOOLS)/check \
	    && $(LOCK_TOOLS)/check/bin/python -m pip install --quiet --upgrade pip >$(LOCK_TOOLS)/check.log 2>&1 \
	    && $(LOCK_TOOLS)/check/bin/python -m pip install --dry-run --only-binary :all: --progress-bar off \
	         -c $(LOCK_TOOLS)/constraints.txt -e '.[dev]' >$(LOCK_TOOLS)/check.log 2>&1 \
	    || { echo "lock: the new lock does not install on $$($$py -V 2>&1) ($$real); constraints.txt is unchanged:"; tail -n 30 $(LOCK_TOOLS)/check.log; exit 1; }; \
	  echo "lock: resolves on $$($$py -V 2>&1) ($$real)"; \
	done
	cp $(LOCK_TOOLS)/constraints.txt constraints.txt
