# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed

export GX_ANALYTICS_ENABLED := False
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: install lint sql-format demo test fuzz bench clean browser lock quality-docs airflow airflow-smoke test-install \
	spark-check policy-mutations workbook-preview

install: $(STAMP)

# The venv is rebuilt from the lock file whenever the lock or the project metadata changes. Bytecode is
# compiled at install: where PYTHONDONTWRITEBYTECODE is set, every process would recompile its imports.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# The spark extra (dbt-spark, pyspark) only for `make spark-check`: the default set stays small.
SPARK_STAMP := $(VENV)/.installed-spark
$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements-spark.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(SPARK_STAMP)

# Offline copies of the Data Docs' scripts and styles (npm registry); skipped where npm is missing.
VENDOR_STAMP := vendor/node_modules/.installed
$(VENDOR_STAMP): vendor/package.json vendor/package-lock.json
	-cd vendor && npm ci --no-audit --no-fund --ignore-scripts --legacy-peer-deps --loglevel=error && touch node_modules/.installed

# Debian's Chromium for the tests that open pages in a real browser; skipped where apt cannot install it.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will be skipped (under CI=true they fail the run)"

demo: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/poverty-warning demo

# The test files are spread over the machine's cores, a file per worker at a time (its fixtures built once).
PYTEST_WORKERS ?= auto
test: $(STAMP) $(VENDOR_STAMP) browser lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile

# Python lint (ruff, settings in pyproject.toml) and SQL lint of the dbt models (sqlfluff, settings in .sqlfluff);
# part of `make test`. `make sql-format` lays the models out as the SQL lint wants them (read the diff).
lint: $(STAMP)
	$(BIN)/ruff check poverty_warning tests dags
	$(BIN)/sqlfluff lint dbt_project --processes 2 --disable-progress-bar

sql-format: $(STAMP)
	$(BIN)/sqlfluff fix dbt_project --processes 2 --disable-progress-bar

# `pip install .` (non-editable) into a fresh venv runs `assess`: the resources ship in the wheel.
test-install: $(STAMP)
	$(BIN)/python -m pytest -m slow tests/test_install.py
# Every pack figure changed one at a time against the hand-worked cases (not part of `make test`).
policy-mutations: $(STAMP)
	$(BIN)/python -m tests.policy_mutations
# A picture of one workbook page as a worker prints it (after `make demo`): LibreOffice headless → PDF → PNG.
# Needs Debian's libreoffice-calc and poppler-utils (apt-get install -y libreoffice-calc poppler-utils).
workbook-preview: $(STAMP)
	$(BIN)/python -m poverty_warning.publish.preview data/outbox docs/workbook-preview.png

# The fuzzed landing tests with many more examples than the default run (minutes, not seconds).
fuzz: $(STAMP)
	FUZZ_PROFILE=long $(BIN)/python -m pytest tests/test_fuzz_landing.py --hypothesis-show-statistics

# The expectation suites and the README's list of validated columns, regenerated from the contract.
quality-docs: $(STAMP)
	$(BIN)/python -c "from poverty_warning.quality import expectations as e; e.write_suites(); e.write_readme_validation()"

# City-scale figures per stage (synth, first landing, one night), the candidates against a hand-written
# DuckDB query and pandas; rewrites docs/benchmarks.md + .png. Heavy: one run at a time on a shared machine.
SIZES ?= 100000 1000000
bench: $(STAMP)
	$(BIN)/poverty-warning benchmark $(SIZES)

# Airflow 3 on this machine (standalone, SQLite, home under the data folder); prints the UI URL and login.
AIRFLOW_PORT ?= 8080
airflow: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/poverty-warning airflow --port $(AIRFLOW_PORT)

# The DAG under the real scheduler on a temporary home: a good night and a held night, one summary line.
airflow-smoke: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/poverty-warning airflow-smoke

# The same models on DuckDB and on a local Spark (Java 17): prints spark=identical or the first differences.
spark-check: $(SPARK_STAMP)
	$(BIN)/poverty-warning spark-check

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark -c requirements.lock --python-version 3.11 -o requirements-spark.lock

clean:
	rm -rf $(VENV) data
