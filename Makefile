# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed

export GX_ANALYTICS_ENABLED := False
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: install demo test benchmark clean

install: $(STAMP)

# The venv is rebuilt from the lock file whenever the lock or the project metadata changes.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/poverty-warning demo

test: $(STAMP)
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/poverty-warning benchmark

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) data
