# One venv for the quickstart, the tests and the benchmarks, built with uv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Node tools the tests run (Azurite, the Azure Storage emulator), from package.json.
NODE_STAMP := node_modules/.installed

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json $(wildcard package-lock.json)
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm not found: Azurite is not installed, so the Azure Blob tests skip (and fail in CI)." >&2; \
	elif [ -f package-lock.json ]; then \
		npm ci --silent --no-audit --no-fund && touch $@; \
	else \
		npm install --silent --no-audit --no-fund && touch $@; \
	fi

setup: $(STAMP) $(NODE_STAMP)

## The end-to-end quickstart on the embedded default (SQLite + a folder).
demo: $(STAMP)
	$(PY) examples/quickstart.py

## Every test: SQLite and PostgreSQL, slow ones included.
test: setup
	$(PY) -m pytest

## Only the tests that start no processes.
test-fast: setup
	$(PY) -m pytest -m "not slow"

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples

bench: setup
	$(PY) benchmarks/metric_logging.py
	$(PY) benchmarks/run_overhead.py
	$(PY) benchmarks/server_load.py
	$(PY) benchmarks/dataset_read.py
	$(PY) benchmarks/datastore_transfer.py
	$(PY) benchmarks/environment_build.py
	$(PY) benchmarks/cluster_runs.py
	$(PY) benchmarks/pipeline_reuse.py
	$(PY) benchmarks/batch_inference.py --bytecode-cache
	$(PY) benchmarks/hyperdrive_sweeps.py
	$(PY) benchmarks/model_serving.py
	$(PY) benchmarks/automl.py
	$(PY) benchmarks/studio_pages.py

clean:
	rm -rf $(VENV) node_modules demo-workspace .pytest_cache
