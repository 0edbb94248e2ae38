# Two commands get a newcomer from nothing to a loaded warehouse: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED = false

.PHONY: run test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'

run: install
	$(BIN)/esf run

test: install-test
	$(BIN)/python -m pytest

bench: install-test
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) esf.duckdb esf.work.duckdb* esf.raw.duckdb* .pytest_cache
