# Two commands for a newcomer: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv test test-fast test-browser lint format docs demo demo-stop bench sandbox docs-tables clean

$(STAMP): pyproject.toml constraints-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]" -c constraints-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Every test, in one pytest run over pytest-xdist workers. Each worker gets whole modules
# (--dist loadscope: a module's Airflow, cluster or server starts once); the e2e, browser and
# Celery modules, which wait on processes, go out first and each hold a worker while the
# others run the CPU-bound modules (tests/conftest.py). TEST_WORKERS=0: all in one process.
TEST_WORKERS ?= 8
XDIST = --dist loadscope --no-loadscope-reorder
# The inner loop (< 3 min): the tests that start no Airflow or cluster. 4 workers on the 2
# cores: many of these tests wait (retry backoff, subprocesses) while others compute.
FAST_WORKERS ?= 4
FAST = --ignore=tests/e2e --ignore=tests/browser --ignore=tests/celery_cluster \
	-m "not e2e and not browser and not celery"

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) $(XDIST)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(FAST_WORKERS) $(XDIST) $(FAST)

# The UI in headless chromium only (also part of `make test`).
test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The documentation site (docs/, mkdocs.yml) into site/; --strict: a broken link fails.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet

demo: $(STAMP)
	bash scripts/demo.sh start

demo-stop:
	bash scripts/demo.sh stop

# Every benchmark, ~10 min on 2 idle cores; writes benchmarks/RESULTS.md and its charts
# (docs/images/bench-*.png; matplotlib from the bench extra). A smoke run:
# `make bench BENCH_ARGS=--quick` (~2 min, prints the table only).
bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]" -c constraints-dev.txt
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# The generated tables of the docs (datasets, connection settings, calls per run; see
# scripts/docs_tables.py): one command rewrites them all, one test keeps them true.
docs-tables: $(STAMP)
	$(BIN)/python -m scripts.docs_tables

sandbox: $(STAMP)
	$(BIN)/copernica sandbox --port 8900

clean:
	rm -rf $(VENV) .demo .bench build site *.egg-info .browser-screenshots
